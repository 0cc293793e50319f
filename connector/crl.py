"""``GET /connector/crl``: the CA's revocation list, PEM unless the client prefers DER.

``application/pkix-crl`` names DER (RFC 2585); the endpoint sent PEM under that name, which a client that trusts
the Content-Type cannot read. PEM, now named ``application/x-pem-file``, stays the default: proxies that check
revocation themselves (nginx ``ssl_crl``, Envoy, HAProxy ``crl-file``) read PEM files, and what fetched them for
those proxies keeps working. A client that asks for ``application/pkix-crl`` (DER) gets DER.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from cryptography.hazmat.primitives.serialization import Encoding
from starlette.requests import Request
from starlette.responses import Response

from connector.service import ConnectorService

PEM = "application/x-pem-file"
DER = "application/pkix-crl"
ENCODINGS = {PEM: Encoding.PEM, DER: Encoding.DER}


def _q(parameters: list[str]) -> float:
    for parameter in parameters:
        name, _, value = parameter.partition("=")
        if name.strip().lower() == "q":
            try:
                return float(value)
            except ValueError:
                return 0.0
    return 1.0


def quality(accept: str, media_type: str) -> float:
    """The q that an Accept header gives ``media_type``: that of its most specific range (RFC 9110, 12.5.1)."""
    ranks = {media_type: 2, f"{media_type.partition('/')[0]}/*": 1, "*/*": 0}
    rank, q = -1, 0.0
    for part in accept.split(","):
        media_range, *parameters = (piece.strip() for piece in part.split(";"))
        this_rank = ranks.get(media_range.lower(), -1)
        if this_rank > rank:
            rank, q = this_rank, _q(parameters)
    return q


def negotiated(accept: str | None) -> str:
    """DER only when the client prefers it to PEM: on a tie, or no Accept at all, PEM."""
    return DER if accept and quality(accept, DER) > quality(accept, PEM) else PEM


def crl_endpoint(service: ConnectorService) -> Callable[[Request], Awaitable[Response]]:
    async def crl(request: Request) -> Response:
        media_type = negotiated(request.headers.get("accept"))
        body = (await service.crl()).public_bytes(ENCODINGS[media_type])
        return Response(body, media_type=media_type, headers={"Vary": "Accept"})

    return crl
