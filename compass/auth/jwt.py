"""Operator JWTs: signed with the server's ES256 key from the data directory, or by an external OIDC issuer."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from kernel.errors import UnauthenticatedError
from kernel.settings import Settings

_ALGORITHM = "ES256"
# Compass's consumer types ("Runtime", "Application", "Integration System") and the consumer's id.
CONSUMER_TYPE_CLAIM = "consumer_type"
CONSUMER_ID_CLAIM = "consumer_id"
_OIDC_ALGORITHMS = ["RS256", "RS384", "RS512", "ES256", "ES384", "PS256"]
_JWKS_TTL_SECONDS = 300
# Tokens naming an unknown key must not make every request an outbound call to the issuer.
_JWKS_MIN_REFRESH_SECONDS = 30
# This server's tokens already verified (an operator's or an agent's is sent with every call): parsing and an ES256
# check cost milliseconds of CPU a request; a bounded map of them costs about 10 MB at most.
_VERIFIED_TOKENS = 4096


def load_or_create_signing_key(path: Path) -> ec.EllipticCurvePrivateKey:
    """The server's JWT key; created on first use with mode 0600 so only the operator can mint tokens."""
    if path.exists():
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
        if not isinstance(key, ec.EllipticCurvePrivateKey):
            raise RuntimeError(f"{path} does not hold an EC private key")
        return key
    path.parent.mkdir(parents=True, exist_ok=True)
    key = ec.generate_private_key(ec.SECP256R1())
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(pem)
    return key


def issue_token(
    settings: Settings,
    *,
    tenant_id: str | None,
    scopes: Iterable[str],
    ttl_seconds: int,
    subject: str = "operator",
    consumer: tuple[str, str] | None = None,
    key: ec.EllipticCurvePrivateKey | None = None,
) -> str:
    """An operator's token (``compass token``), or with ``consumer`` (its type and id) one the OAuth token endpoint
    issues for client credentials; ``tenant_id`` None for an integration system's, which acts in any tenant."""
    key = key or load_or_create_signing_key(settings.jwt_key_file)
    now = int(time.time())
    claims: dict[str, Any] = {
        "iss": settings.jwt_issuer,
        "sub": subject,
        "iat": now,
        "exp": now + ttl_seconds,
        "scopes": " ".join(scopes),
    }
    if tenant_id is not None:
        claims["tenant"] = tenant_id
    if consumer is not None:
        claims[CONSUMER_TYPE_CLAIM], claims[CONSUMER_ID_CLAIM] = consumer
    return jwt.encode(claims, key, algorithm=_ALGORITHM)


@dataclass(frozen=True)
class VerifiedClaims:
    subject: str
    tenant_id: str | None
    scopes: frozenset[str]
    # Only on this server's client-credentials tokens (an external issuer's claims never set them).
    consumer_type: str | None = None
    consumer_id: str | None = None
    expires_at: int | None = None


def _scopes_from(value: Any) -> frozenset[str]:
    if isinstance(value, str):
        return frozenset(value.split())
    if isinstance(value, list):
        return frozenset(str(item) for item in value)
    return frozenset()


class JWTVerifier:
    """Verifies bearer tokens; the JWKS of an external issuer is fetched with httpx and cached."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._public_key = load_or_create_signing_key(settings.jwt_key_file).public_key()
        self._jwks: dict[str | None, Any] = {}  # by kid; a key without one answers tokens without one
        self._jwks_fetched_at = -float("inf")
        # Only this server's own tokens: its key never changes while it runs, so a signature once verified stays
        # verified; the expiry is checked again on every use, as PyJWT checks it (expired once now >= exp).
        self._verified: dict[str, VerifiedClaims] = {}

    async def verify(self, token: str) -> VerifiedClaims:
        if (known := self._verified.get(token)) is not None:
            if known.expires_at is not None and known.expires_at <= time.time():
                del self._verified[token]
                raise UnauthenticatedError("the bearer token has expired")
            return known
        try:
            unverified = jwt.decode(token, options={"verify_signature": False})
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise UnauthenticatedError("the bearer token is not a JWT") from None
        issuer = unverified.get("iss")
        try:
            if issuer == self._settings.jwt_issuer:
                claims = jwt.decode(
                    token,
                    self._public_key,
                    algorithms=[_ALGORITHM],
                    issuer=self._settings.jwt_issuer,
                    options={"require": ["exp", "iss", "sub"]},
                )
                return self._remember(
                    token,
                    VerifiedClaims(
                        claims["sub"],
                        claims.get("tenant"),
                        _scopes_from(claims.get("scopes")),
                        consumer_type=claims.get(CONSUMER_TYPE_CLAIM),
                        consumer_id=claims.get(CONSUMER_ID_CLAIM),
                        expires_at=claims["exp"],
                    ),
                )
            if self._settings.oidc_issuer and issuer == self._settings.oidc_issuer:
                key = await self._oidc_key(header.get("kid"))
                claims = jwt.decode(
                    token,
                    key,
                    algorithms=_OIDC_ALGORITHMS,
                    issuer=self._settings.oidc_issuer,
                    audience=self._settings.oidc_audience,
                    options={
                        "require": ["exp", "iss", "sub"],
                        "verify_aud": bool(self._settings.oidc_audience),
                    },
                )
                tenant = claims.get(self._settings.oidc_tenant_claim)
                return VerifiedClaims(
                    claims["sub"],
                    str(tenant) if tenant is not None else None,
                    _scopes_from(claims.get(self._settings.oidc_scopes_claim)),
                )
        except jwt.ExpiredSignatureError:
            raise UnauthenticatedError("the bearer token has expired") from None
        except jwt.PyJWTError as error:
            raise UnauthenticatedError(f"the bearer token is not valid: {error}") from None
        raise UnauthenticatedError("the bearer token comes from an issuer this server does not trust")

    def _remember(self, token: str, claims: VerifiedClaims) -> VerifiedClaims:
        """Keeps at most ``_VERIFIED_TOKENS``, dropping the oldest: a flood of fresh tokens cannot grow it."""
        if len(self._verified) >= _VERIFIED_TOKENS:
            del self._verified[next(iter(self._verified))]
        self._verified[token] = claims
        return claims

    async def _oidc_key(self, kid: str | None) -> Any:
        if not self._settings.oidc_jwks_url:
            raise UnauthenticatedError("no JWKS URL is configured for the external issuer")
        age = time.monotonic() - self._jwks_fetched_at
        if age > _JWKS_TTL_SECONDS or (kid not in self._jwks and age > _JWKS_MIN_REFRESH_SECONDS):
            await self._refresh_jwks()
        if kid not in self._jwks:
            raise UnauthenticatedError("the bearer token is signed with an unknown key")
        return self._jwks[kid]

    async def _refresh_jwks(self) -> None:
        try:
            async with httpx.AsyncClient(timeout=5.0) as client:
                response = await client.get(self._settings.oidc_jwks_url or "")
                response.raise_for_status()
                keys = response.json().get("keys", [])
        except (httpx.HTTPError, ValueError):
            raise UnauthenticatedError("the external issuer's keys could not be fetched") from None
        self._jwks = {
            jwk.get("kid"): jwt.PyJWK.from_json(json.dumps(jwk)).key for jwk in keys if isinstance(jwk, dict)
        }
        self._jwks_fetched_at = time.monotonic()
