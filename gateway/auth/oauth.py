"""OAuth 2.0 client credentials (RFC 6749 4.4): a token fetched from the Application's ``authenticationUrl``,
kept until shortly before it expires, sent as ``Authorization: Bearer``.

``OAuth`` authenticates the client with its secret by ONE method, as RFC 6749 2.3 asks (servers such as ORY Hydra
refuse a request that uses two): ``client_secret_basic`` by default, or ``client_secret_post`` when the Secret's
``tokenEndpointAuthMethod`` says so. Kyma sends both at once. For ``client_secret_basic`` the id and the secret are
form-encoded before base64 (RFC 6749 2.3.1, as golang.org/x/oauth2 and Authlib do); ids and secrets of letters,
digits and ``-._~`` read the same either way. ``OAuthWithCert`` authenticates the client by its certificate
(mutual TLS) and sends only its id.

A token is kept per client, secret (or key pair), token URL and token-request parameters: never by a plain
concatenation of them (Kyma's ``id + secret + url`` makes ``("ab", "c")`` and ``("a", "bc")`` one client).
"""

from __future__ import annotations

import json
import math
from collections.abc import Hashable
from dataclasses import dataclass
from http import HTTPStatus
from urllib.parse import quote_plus, urlencode

from multidict import CIMultiDict
from yarl import URL

from gateway.auth.cache import Expiring, TokenCache
from gateway.auth.calls import call, unexpected_status
from gateway.auth.secrets import digest, text
from gateway.auth.strategies import AUTHORIZATION, basic_authorization
from gateway.errors import GatewayError
from gateway.lookup import ResolvedApi, parameters
from gateway.outgoing import ClientCertificate, Outgoing
from gateway.upstream import Upstream

AUTH_METHOD_KEY = "tokenEndpointAuthMethod"
CLIENT_SECRET_BASIC = "client_secret_basic"
CLIENT_SECRET_POST = "client_secret_post"
AUTH_METHODS = (CLIENT_SECRET_BASIC, CLIENT_SECRET_POST)
GRANT = ("grant_type", "client_credentials")
# Seconds before its stated expiry that a token stops being reused (Kyma's margin).
EXPIRY_MARGIN = 2.0


@dataclass(frozen=True)
class TokenRequest:
    """One client's token request; ``key`` names the token it gets."""

    key: Hashable
    url: str  # the authenticationUrl as configured
    form: tuple[tuple[str, str], ...]
    authorization: str | None  # client_secret_basic's header
    certificate: ClientCertificate | None  # OAuthWithCert's key pair
    api: ResolvedApi  # its Secret's headers and queryParameters go on this request; its TLS and timeout apply

    @classmethod
    def with_secret(cls, api: ResolvedApi) -> TokenRequest:
        client_id, client_secret = text(api, "clientId"), text(api, "clientSecret")
        method = text(api, AUTH_METHOD_KEY) or CLIENT_SECRET_BASIC
        url = _url(api)
        key = ("oauth", client_id, digest(client_secret.encode()), url, _parameters_digest(api))
        if method == CLIENT_SECRET_BASIC:
            basic = basic_authorization(quote_plus(client_id).encode(), quote_plus(client_secret).encode())
            return cls(key, url, (GRANT,), basic, None, api)
        if method == CLIENT_SECRET_POST:
            form = (("client_id", client_id), ("client_secret", client_secret), GRANT)
            return cls(key, url, form, None, None, api)
        name = api.credentials.secret_name if api.credentials is not None else ""
        raise GatewayError(
            500,
            f"secret '{name}': unknown {AUTH_METHOD_KEY} '{method}', expected one of: {', '.join(AUTH_METHODS)}",
        )

    @classmethod
    def with_certificate(cls, api: ResolvedApi) -> TokenRequest:
        client_id = text(api, "clientId")
        certificate = ClientCertificate(api.secret.get("crt", b""), api.secret.get("key", b""))
        url = _url(api)
        key_pair = digest(certificate.crt, certificate.key)
        key = ("oauth_cert", client_id, key_pair, url, _parameters_digest(api))
        return cls(key, url, (("client_id", client_id), GRANT), None, certificate, api)


@dataclass(frozen=True)
class OAuth:
    """``Authorization: Bearer <token>``, the token from ``tokens`` or fetched by ``request``."""

    upstream: Upstream
    tokens: TokenCache[str]
    request: TokenRequest
    default_ttl: float  # seconds a token without a usable expires_in is kept

    @property
    def identity(self) -> Hashable:
        return self.request.key

    async def apply(self, request: Outgoing) -> None:
        token = await self.tokens.get(self.request.key, self._fetch)
        request.headers[AUTHORIZATION] = f"Bearer {token}"

    def invalidate(self) -> None:
        self.tokens.drop(self.request.key)

    async def _fetch(self) -> Expiring[str]:
        try:
            return await self._request_token()
        except GatewayError as exc:
            if self.request.certificate is None:
                raise
            # Kyma answers OAuthWithCert failures as internal errors (and hides their cause, which we keep).
            raise GatewayError(500, f"Failed to get token: {exc.message}") from exc

    async def _request_token(self) -> Expiring[str]:
        token_request, api = self.request, self.request.api
        url = URL(token_request.url)
        query = parameters(api.secret, "queryParameters", "Failed to unmarshal query parameters")
        added = [(name, value) for name, values in query.items() if name not in url.query for value in values]
        headers = CIMultiDict({"Content-Type": "application/x-www-form-urlencoded"})
        if token_request.authorization is not None:
            headers[AUTHORIZATION] = token_request.authorization
        for name, values in parameters(api.secret, "headers", "Failed to unmarshal headers").items():
            if name not in headers:
                headers.extend((name, value) for value in values)
        answer = await call(
            self.upstream,
            Outgoing("POST", url.extend_query(added) if added else url, headers, token_request.certificate),
            body=urlencode(token_request.form).encode("ascii"),
            api=api,
            url=token_request.url,
        )
        if answer.status != HTTPStatus.OK:  # only 200 is success, as in Kyma
            raise unexpected_status(answer.status, token_request.url)
        return _token(answer.body, self.default_ttl)


def _url(api: ResolvedApi) -> str:
    return api.credentials.authentication_url if api.credentials is not None else ""


def _parameters_digest(api: ResolvedApi) -> bytes:
    """Token-request parameters can change the token (a scope or a resource), so they are part of its key."""
    return digest(api.secret.get("headers", b""), api.secret.get("queryParameters", b""))


def _token(body: bytes, default_ttl: float) -> Expiring[str]:
    try:
        document = json.loads(body)
    except ValueError as exc:
        raise GatewayError(502, f"failed to unmarshal token response body: {exc}") from exc
    token = document.get("access_token") if isinstance(document, dict) else None
    if not isinstance(token, str) or not token:
        raise GatewayError(502, "failed to unmarshal token response body: no access_token")
    lifetime = _seconds(document.get("expires_in"))
    return Expiring(token, default_ttl if lifetime is None else lifetime - EXPIRY_MARGIN)


def _seconds(value: object) -> float | None:
    """expires_in as a number of seconds, or None when it is missing or not a number (some servers send "3600")."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    try:
        seconds = float(value)
    except ValueError:
        return None
    return seconds if math.isfinite(seconds) else None
