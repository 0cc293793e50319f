"""HTTP-level pieces shared by both APIs: GraphQL-shaped error answers and the request body limit."""

from __future__ import annotations

import json

from cross_web import HTTPException  # what strawberry's views turn into an HTTP answer
from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from kernel.errors import CompassError


def graphql_error_body(code: str, message: str) -> bytes:
    """Even a request refused before GraphQL runs answers with ``data``, as Compass clients expect."""
    return json.dumps({"data": None, "errors": [{"message": message, "extensions": {"code": code}}]}).encode()


async def send_graphql_error(send: Send, error: CompassError, status: int | None = None) -> None:
    body = graphql_error_body(error.code, error.message)
    await send(
        {
            "type": "http.response.start",
            "status": status or error.http_status,
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})


class RequestTooLargeError(CompassError):
    code = "REQUEST_TOO_LARGE"
    http_status = 413


CLIENT_CLOSED_REQUEST = 499
"""nginx's status for a request whose client hung up: what the access log and metrics count it as."""


class BodySizeLimitMiddleware:
    """Refuses bodies over ``max_bytes`` with 413, whether announced by Content-Length or streamed.

    A client that hangs up before its body arrived ends its request quietly: starlette raises ClientDisconnect
    from ``Request.body()``, which uvicorn logged as an exception in the application, with its traceback.
    """

    def __init__(self, app: ASGIApp, *, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        error = RequestTooLargeError(f"request body is larger than {self.max_bytes} bytes")
        for name, value in scope.get("headers", []):
            if name == b"content-length" and value.isdigit() and int(value) > self.max_bytes:
                await send_graphql_error(send, error)
                return
        received = 0
        started = False

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise error
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except RequestTooLargeError:
            if not started:
                await send_graphql_error(send, error)
        except ClientDisconnect:
            if not started:  # the server drops what is sent on a closed connection
                await send({"type": "http.response.start", "status": CLIENT_CLOSED_REQUEST, "headers": []})
                await send({"type": "http.response.body", "body": b""})


class StrictJSONBodyMixin:
    """For strawberry's HTTP views: a body that is not a JSON object (or a list of them) is a 400, never a 500.

    strawberry catches only JSONDecodeError and assumes the decoded value is an object; bytes that are not UTF-8,
    JSON nested deeper than the decoder recurses, an integer of 4,300 digits or more (Python's int() refuses it),
    or a bare number would otherwise escape as a crash. NaN, Infinity and numbers past a double are decoded, and
    refused as INVALID_INPUT where they are used (kernel.graphql.input).
    """

    def decode_json(self, data: str | bytes) -> object:
        try:
            decoded = json.loads(data)
        except (ValueError, RecursionError) as error:  # UnicodeDecodeError and JSONDecodeError are ValueErrors
            raise HTTPException(400, "Unable to parse request body as JSON") from error
        items = decoded if isinstance(decoded, list) else [decoded]
        if not items or not all(isinstance(item, dict) for item in items):
            raise HTTPException(400, "The request body must be a JSON object with a query")
        return decoded
