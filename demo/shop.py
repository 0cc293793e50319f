"""The sample external application: a small shop whose orders API wants an OAuth 2.0 bearer token.

``POST /oauth/token`` is a client-credentials token endpoint (RFC 6749 4.4): the client authenticates with HTTP
Basic (``client_secret_basic``, id and secret form-encoded first, RFC 6749 2.3.1) or with ``client_id`` and
``client_secret`` in the form (``client_secret_post``). ``GET /api/orders[/<id>]`` answers only a bearer token
this shop issued and that has not expired, and says in its answer whom the token was issued to.

Run it as ``python -m demo.shop`` with ``SHOP_PORT``, ``SHOP_CLIENT_ID`` and ``SHOP_CLIENT_SECRET`` (the secret
never goes on a command line, where ``ps`` shows it).
"""

from __future__ import annotations

import base64
import binascii
import hmac
import secrets
import time
from dataclasses import dataclass, field
from urllib.parse import parse_qs, unquote_plus

import uvicorn
from pydantic import SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

TOKEN_SECONDS = 300
ORDERS = (
    {"id": "1001", "item": "espresso machine", "quantity": 1, "status": "shipped"},
    {"id": "1002", "item": "coffee beans, 1 kg", "quantity": 3, "status": "open"},
)


class ShopSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SHOP_")

    host: str = "127.0.0.1"
    port: int = 8090
    client_id: str
    client_secret: SecretStr


@dataclass
class Tokens:
    """Access tokens issued, each with its client and expiry (seconds on the monotonic clock)."""

    issued: dict[str, tuple[str, float]] = field(default_factory=dict)

    def issue(self, client_id: str) -> str:
        token = secrets.token_urlsafe(32)
        self.issued[token] = (client_id, time.monotonic() + TOKEN_SECONDS)
        return token

    def client_of(self, token: str) -> str | None:
        client_id, expires = self.issued.get(token, ("", 0.0))
        return client_id if time.monotonic() < expires else None


def _oauth_error(status: int, error: str, description: str, challenge: str) -> JSONResponse:
    return JSONResponse(
        {"error": error, "error_description": description},
        status_code=status,
        headers={"WWW-Authenticate": challenge, "Cache-Control": "no-store"},
    )


def _basic_client(header: str) -> tuple[str, str] | None:
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        client_id, _, client_secret = base64.b64decode(encoded, validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return None
    return unquote_plus(client_id), unquote_plus(client_secret)


class Shop:
    """The token endpoint and the API it guards, for the one client of ``settings``."""

    def __init__(self, settings: ShopSettings) -> None:
        self.settings = settings
        self.tokens = Tokens()

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/oauth/token", self.token, methods=["POST"]),
                Route("/api/orders", self.orders),
                Route("/api/orders/{order_id}", self.order),
                Route("/healthz", self.healthz),
            ]
        )

    def _authenticated(self, client: tuple[str, str] | None) -> bool:
        if client is None:
            return False
        wanted = (self.settings.client_id, self.settings.client_secret.get_secret_value())
        return all(hmac.compare_digest(given.encode(), known.encode()) for given, known in zip(client, wanted, strict=True))

    async def token(self, request: Request) -> Response:
        form = {name: values[-1] for name, values in parse_qs((await request.body()).decode()).items()}
        if form.get("grant_type") != "client_credentials":
            return _oauth_error(400, "unsupported_grant_type", "only client_credentials", 'Basic realm="shop"')
        header = request.headers.get("authorization")
        client = _basic_client(header) if header else (form.get("client_id", ""), form.get("client_secret", ""))
        if not self._authenticated(client):
            return _oauth_error(401, "invalid_client", "unknown client or wrong secret", 'Basic realm="shop"')
        access_token = self.tokens.issue(self.settings.client_id)
        body = {"access_token": access_token, "token_type": "Bearer", "expires_in": TOKEN_SECONDS}
        return JSONResponse(body, headers={"Cache-Control": "no-store"})

    def _caller(self, request: Request) -> str | None:
        scheme, _, value = request.headers.get("authorization", "").partition(" ")
        return self.tokens.client_of(value) if scheme.lower() == "bearer" else None

    async def orders(self, request: Request) -> Response:
        client_id = self._caller(request)
        if client_id is None:
            return _refused()
        return JSONResponse({"orders": list(ORDERS), "servedTo": client_id})

    async def order(self, request: Request) -> Response:
        client_id = self._caller(request)
        if client_id is None:
            return _refused()
        found = [item for item in ORDERS if item["id"] == request.path_params["order_id"]]
        if not found:
            return JSONResponse({"error": "no such order"}, status_code=404)
        return JSONResponse({"order": found[0], "servedTo": client_id})

    async def healthz(self, _request: Request) -> Response:
        return Response(status_code=200)


def _refused() -> Response:
    return _oauth_error(401, "invalid_token", "a bearer token from /oauth/token is needed", 'Bearer realm="shop"')


def main() -> None:
    settings = ShopSettings()
    uvicorn.run(Shop(settings).app(), host=settings.host, port=settings.port, log_level="warning")


if __name__ == "__main__":
    main()
