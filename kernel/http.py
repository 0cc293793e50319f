"""HTTP-level pieces shared by both APIs: GraphQL-shaped error answers, the request body limit, the view."""

from __future__ import annotations

import gc
import json
from typing import TypeVar

from cross_web import HTTPException  # what strawberry's views turn into an HTTP answer
from starlette.requests import ClientDisconnect, Request
from starlette.responses import HTMLResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from strawberry.asgi import GraphQL
from strawberry.http import GraphQLHTTPResponse, GraphQLRequestData
from strawberry.http.async_base_view import AsyncHTTPRequestAdapter
from strawberry.http.parse_content_type import parse_content_type
from strawberry.schema import BaseSchema
from strawberry.schema.exceptions import InvalidOperationTypeError
from strawberry.types import ExecutionResult

from kernel.asgi import HttpMiddleware, ResponseStatus
from kernel.errors import CompassError, NotFoundError
from kernel.graphiql.page import graphiql_html

ANSWERED_WITH_ERRORS = "graphql_answered_with_errors"
"""Set in the request's state once the view has executed it: whether any of its results carried errors, so that
a middleware keeping answers (director.polling) need not parse the answer's JSON to know."""

ContextT = TypeVar("ContextT")
RootValueT = TypeVar("RootValueT")


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


LARGE_BODY_BYTES = 65_536
"""A body this large is followed by a collection of the young generations once its answer is sent."""


class BodySizeLimitMiddleware(HttpMiddleware):
    """Refuses bodies over ``max_bytes`` with 413, whether announced by Content-Length or streamed.

    The memory of a large body is returned when its answer has been sent, not at the collector's next pass:
    graphql-core links a document's tokens both ways and its execution context holds the request through the
    context's loaders, so the body's copies (bytes, text, the source, a comment's token) sit in cyclic garbage.
    `compass serve` collects rarely (``compass.server``), and 24 padded 1 MB documents in a row grew it by
    117 MB; one young collection per large body costs little against reading and parsing it.

    A client that hangs up before its body arrived ends its request quietly: starlette raises ClientDisconnect
    from ``Request.body()``, which uvicorn logged as an exception in the application, with its traceback.
    """

    def __init__(self, app: ASGIApp, *, max_bytes: int) -> None:
        super().__init__(app)
        self.max_bytes = max_bytes

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        error = RequestTooLargeError(f"request body is larger than {self.max_bytes} bytes")
        if announced_length(scope) > self.max_bytes:
            await send_graphql_error(send, error)
            return
        received = 0
        response = ResponseStatus(send)

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise error
            return message

        try:
            await self.app(scope, limited_receive, response)
        except RequestTooLargeError:
            if not response.started:
                await send_graphql_error(send, error)
        except ClientDisconnect:
            if not response.started:  # the server drops what is sent on a closed connection
                await send({"type": "http.response.start", "status": CLIENT_CLOSED_REQUEST, "headers": []})
                await send({"type": "http.response.body", "body": b""})
        finally:
            if received >= LARGE_BODY_BYTES:
                gc.collect(1)


def announced_length(scope: Scope) -> int:
    """The request's Content-Length, 0 when it announces none (or nonsense, which the server refuses)."""
    for name, value in scope.get("headers", []):
        if name == b"content-length" and value.isdigit():
            return int(value)
    return 0


class BadRequestError(CompassError):
    """No GraphQL request over HTTP: a body that is no JSON object, no query, a batch, an unknown operation name."""

    code = "BAD_REQUEST"
    http_status = 400


class MethodNotAllowedError(CompassError):
    code = "METHOD_NOT_ALLOWED"
    http_status = 405


class UnsupportedMediaTypeError(CompassError):
    code = "UNSUPPORTED_MEDIA_TYPE"
    http_status = 415


_REFUSALS: dict[int, type[CompassError]] = {
    error.http_status: error
    for error in (BadRequestError, NotFoundError, MethodNotAllowedError, UnsupportedMediaTypeError)
}


def refusal_response(refusal: HTTPException) -> Response:
    """strawberry's refusal of a request before GraphQL runs (plain text there), as a GraphQL error: its status
    and the stable code of that status (BAD_REQUEST for any status without one of its own)."""
    status, headers = refusal.status_code, {}
    if isinstance(refusal.__cause__, InvalidOperationTypeError):
        # GraphQL over HTTP: an operation GET may not carry (a mutation; on the Connector any) is a 405.
        status, headers = MethodNotAllowedError.http_status, {"Allow": "POST"}
    elif status == MethodNotAllowedError.http_status:
        headers = {"Allow": "GET, POST"}
    error = _REFUSALS.get(status, BadRequestError)(refusal.reason)
    body = graphql_error_body(error.code, error.message)
    return Response(body, status_code=status, headers=headers, media_type="application/json")


class GraphQLView(GraphQL[ContextT, RootValueT]):
    """strawberry's ASGI view as both APIs serve it: every refusal is a GraphQL error with a stable code.

    strawberry answers a request it refuses before GraphQL runs (a body that is not JSON, no query, another
    content type, another method) in plain text; here it gets the GraphQL error body of every other refusal.
    A body that is not a JSON object (or a list of them) is such a refusal, never a 500: strawberry catches only
    JSONDecodeError and assumes the decoded value is an object, so bytes that are not UTF-8, JSON nested deeper
    than the decoder recurses, an integer of 4,300 digits or more (Python's int() refuses it), or a bare number
    would otherwise escape as a crash. NaN, Infinity and numbers past a double are decoded, and refused as
    INVALID_INPUT where they are used (kernel.graphql.input). GraphiQL is served from our own static files.
    """

    def __init__(self, schema: BaseSchema, *, allow_queries_via_get: bool) -> None:
        super().__init__(schema, graphql_ide="graphiql", allow_queries_via_get=allow_queries_via_get)
        self._ide_html = graphiql_html()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        try:
            response = await self.run(Request(scope, receive))
        except HTTPException as refusal:
            response = refusal_response(refusal)
        await response(scope, receive, send)

    async def parse_http_body(
        self, request: AsyncHTTPRequestAdapter
    ) -> GraphQLRequestData | list[GraphQLRequestData]:
        """strawberry's, but another content type is a 415 (strawberry says 400) under the same condition."""
        content_type, _ = parse_content_type(request.content_type or "")
        multipart = self.multipart_uploads_enabled and content_type == "multipart/form-data"
        if request.method == "POST" and "application/json" not in content_type and not multipart:
            raise HTTPException(UnsupportedMediaTypeError.http_status, "Unsupported content type: send application/json")
        return await super().parse_http_body(request)

    def decode_json(self, data: str | bytes) -> object:
        try:
            decoded = json.loads(data)
        except (ValueError, RecursionError) as error:  # UnicodeDecodeError and JSONDecodeError are ValueErrors
            raise HTTPException(BadRequestError.http_status, "Unable to parse request body as JSON") from error
        items = decoded if isinstance(decoded, list) else [decoded]
        if not items or not all(isinstance(item, dict) for item in items):
            raise HTTPException(BadRequestError.http_status, "The request body must be a JSON object with a query")
        return decoded

    async def process_result(self, request: Request, result: ExecutionResult) -> GraphQLHTTPResponse:
        state = request.scope.setdefault("state", {})
        state[ANSWERED_WITH_ERRORS] = state.get(ANSWERED_WITH_ERRORS, False) or bool(result.errors)
        return await super().process_result(request, result)

    async def render_graphql_ide(self, request: Request) -> HTMLResponse:  # noqa: ARG002 - strawberry's signature
        return HTMLResponse(self._ide_html)
