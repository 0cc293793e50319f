"""The adapter's JSON bodies and its error body ``{"code": N, "error": "..."}`` (Compass's ``pkg/res``)."""

from __future__ import annotations

import json
from typing import Any

import structlog
from starlette.responses import Response

from kernel.db import is_database_unavailable
from kernel.errors import CompassError, UnauthenticatedError

JSON_TYPE = "application/json;charset=UTF-8"
# The adapter's answer when neither a one-time token nor a client certificate identifies an application.
INVALID_CREDENTIAL = "invalid token or certificate"

log = structlog.get_logger("compass.adapter")


class AdapterResponse(Response):
    """Compact JSON as Go's encoder writes it, in the field order given; ``None`` is an empty body."""

    media_type = JSON_TYPE

    def render(self, content: Any) -> bytes:
        if content is None:
            return b""
        return json.dumps(content, separators=(",", ":"), ensure_ascii=False).encode()


def error_response(status: int, message: str) -> AdapterResponse:
    return AdapterResponse({"code": status, "error": message}, status_code=status)


def refusal(error: Exception, failure: str) -> AdapterResponse:
    """A service's refusal as the adapter answers it: a rejected credential is 403 (the adapter never sees one:
    Oathkeeper drops it), bad input 400, a conflict 409, a limit 429, the rest 500 after ``failure`` (``Failed to
    sign CSR``). Anything unexpected is logged and answered without its details."""
    if not isinstance(error, CompassError):
        if is_database_unavailable(error):
            return error_response(503, f"{failure}: the database is unavailable; retry in a few seconds")
        log.error("adapter_call_failed", failure=failure, exc_info=error)
        return error_response(500, f"{failure}: internal error")
    if error.http_status in {401, 403}:
        return error_response(403, f"{INVALID_CREDENTIAL}: {error.message}")
    status = error.http_status if error.http_status in {400, 409, 429} else 500
    return error_response(status, f"{failure}: {error.message}")


def operator_refusal(error: Exception, failure: str) -> AdapterResponse:
    """As ``refusal``, for a call with an operator's JWT (a Remote Environment's tokens): no or a bad JWT is 401
    with ``WWW-Authenticate: Bearer``, a missing scope or a foreign tenant 403, an unknown name 404, each with
    its reason as it is: an operator can act on it, where an application's refused credential says little."""
    if not isinstance(error, CompassError) or error.http_status not in {401, 403, 404}:
        return refusal(error, failure)
    response = error_response(error.http_status, error.message)
    if isinstance(error, UnauthenticatedError):
        response.headers["WWW-Authenticate"] = "Bearer"
    return response
