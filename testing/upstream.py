"""A recording stand-in for what the Application Gateway calls: targets, an OAuth token endpoint and a CSRF token
endpoint, on loopback over HTTP, HTTPS, and HTTPS that requires a client certificate (mTLS). The gateway's tests
and bench use it; it plays Kyma's test mock (DATAPLANE.md A.9) with a few more knobs.

Endpoints, the same on every listener:

- ``/echo/...`` (any method): the next answer queued by ``respond()``, else 200 and the request as JSON
  (``method``, ``path``, ``raw_path``, ``query``, ``headers`` as ``[name, value]`` pairs, ``body``).
- ``/code/{n}``: status n, body ``n``.
- ``/sink`` (any method): reads the body without keeping it (recorded with an empty body) and answers its length
  in bytes as text.
- ``GET /source/{n}``: n bytes (``x``), streamed in chunks of ``STREAM_CHUNK``.
- ``/slow``: waits until ``release()`` (which lets every later call through too, until ``reset()``), the client
  goes away or ``SLOW_SECONDS`` pass, then 200 ``released``.
- ``POST /oauth/token``: the client credentials grant. The client authenticates by ONE of: ``client_secret_basic``
  (Basic header, id and secret form-encoded as RFC 6749 2.3.1 says), ``client_secret_post`` (``client_id`` and
  ``client_secret`` in the form), ``tls_client_auth`` (``client_id`` in the form, over mTLS). Both secret
  methods at once: Basic wins, or 400 ``invalid_request`` with ``reject_multiple_client_auth`` (as ORY Hydra
  does). Unknown client or wrong secret: 401 ``invalid_client``; another grant: 400. Answers
  ``{"access_token", "token_type": "bearer", "expires_in"}``; every token issued is listed in ``tokens``.
- ``/bearer/...``: 401 unless ``Authorization: Bearer <an issued token not revoked>``, then as ``/echo``.
- ``/basic/...``: 403 unless ``Authorization: Basic`` of one of ``users`` (Kyma's mock answers 403), then as ``/echo``.
- ``GET /csrf/token``: 200 with header ``X-csrf-token: <current token>`` and cookie ``csrftokencookie=<it>``.
- ``/csrf/protected/...``: 403 unless both the header and the cookie carry the current token, then as ``/echo``.
- anything else: 404.

Knobs (attributes; ``reset()`` restores them): ``clients`` ({id: secret}), ``users`` ({name: password}),
``expires_in`` (seconds in token answers; None leaves it out), ``reject_multiple_client_auth``, ``token_answer``
(an ``Answer`` every token request gets instead), ``recording`` (False: keep no requests, for a bench).
Actions: ``respond(*answers)``, ``revoke_tokens()`` (every token issued so far is refused from now on),
``expire_csrf_token()`` (a new current token), ``release()``. Every request is recorded in ``requests``
(``requests_to(path)`` filters), with the subject of its client certificate on the mTLS listener; ``tokens``
lists the OAuth tokens issued, ``csrf_tokens_issued`` counts the CSRF fetches answered.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import secrets
import ssl
import threading
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Self
from urllib.parse import parse_qs, unquote_plus

import trustme
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from testing.threaded import StartStop, ThreadedServer
from testing.tls import StandInTLS
from tlsext import TLSHttpToolsProtocol

SLOW_SECONDS = 60.0
CSRF_HEADER = "X-csrf-token"
CSRF_COOKIE = "csrftokencookie"
ALL_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
STREAM_CHUNK = 64 * 1024


@dataclass(frozen=True)
class Answer:
    status: int = 200
    body: bytes = b""
    headers: tuple[tuple[str, str], ...] = ()

    def response(self) -> Response:
        response = Response(self.body, status_code=self.status)
        for name, value in self.headers:
            response.headers.append(name, value)
        return response


@dataclass(frozen=True)
class Recorded:
    method: str
    path: str  # percent-decoded
    raw_path: str  # as sent, escapes kept
    query: str  # raw, as sent
    headers: tuple[tuple[str, str], ...]  # as received: lower-case names, in order, repeats kept
    body: bytes
    client_subject: str | None  # RFC 4514 subject of the client certificate (mTLS listener only)

    def header(self, name: str) -> str | None:
        values = self.header_values(name)
        return values[0] if values else None

    def header_values(self, name: str) -> list[str]:
        wanted = name.lower()
        return [value for key, value in self.headers if key == wanted]

    @property
    def form(self) -> dict[str, list[str]]:
        return parse_qs(self.body.decode("latin-1"), keep_blank_values=True)


@dataclass(frozen=True)
class IssuedToken:
    token: str
    client_id: str
    method: str  # client_secret_basic, client_secret_post or tls_client_auth


@dataclass(frozen=True)
class ClientAuthority:
    """A CA for client certificates, and the file a server loads to verify them."""

    ca: trustme.CA
    ca_file: Path

    @classmethod
    def create(cls, directory: Path) -> ClientAuthority:
        ca = trustme.CA()
        ca_file = directory / "client-ca.pem"
        ca.cert_pem.write_to_path(str(ca_file))
        return cls(ca, ca_file)

    def issue(self, common_name: str) -> tuple[bytes, bytes]:
        """A client certificate (PEM, with its chain) and its key (PEM) for ``CN=<common_name>``."""
        leaf = self.ca.issue_cert(f"{common_name}.clients.test", common_name=common_name)
        return b"".join(blob.bytes() for blob in leaf.cert_chain_pems), leaf.private_key_pem.bytes()


@dataclass
class _Knobs:
    clients: dict[str, str] = field(default_factory=lambda: {"client-id": "client-secret"})
    users: dict[str, str] = field(default_factory=lambda: {"user": "passwd"})
    expires_in: int | None = 3600
    reject_multiple_client_auth: bool = False
    token_answer: Answer | None = None
    recording: bool = True


Endpoint = Callable[[Request, Recorded], Awaitable[Response]]


class UpstreamStandIn(_Knobs, StartStop):
    def __init__(self, tls: StandInTLS | None = None, *, client_ca_file: Path | None = None) -> None:
        """HTTP always; HTTPS with ``tls``; and mTLS (client certificates of ``client_ca_file`` required)."""
        super().__init__()
        self._lock = threading.Lock()
        self._released = threading.Event()
        self.requests: list[Recorded] = []
        self.tokens: list[IssuedToken] = []
        self._valid_tokens: set[str] = set()
        self._answers: deque[Answer] = deque()
        self._csrf_token = secrets.token_hex(8)
        self.csrf_tokens_issued = 0
        app = Starlette(routes=self._routes())
        self._servers: dict[str, ThreadedServer] = {"http": ThreadedServer(app)}
        if tls is not None:
            files: dict[str, Any] = {"ssl_certfile": str(tls.cert_file), "ssl_keyfile": str(tls.key_file)}
            self._servers["https"] = ThreadedServer(app, http=TLSHttpToolsProtocol, **files)
            if client_ca_file is not None:
                self._servers["mtls"] = ThreadedServer(
                    app,
                    http=TLSHttpToolsProtocol,
                    ssl_ca_certs=str(client_ca_file),
                    ssl_cert_reqs=ssl.CERT_REQUIRED,
                    **files,
                )

    # -- serving

    def start(self) -> Self:
        for server in self._servers.values():
            server.start()
        return self

    def stop(self) -> None:
        self._released.set()  # slow requests end, so the servers can
        for server in self._servers.values():
            server.stop()

    @property
    def http_url(self) -> str:
        return self._url("http")

    @property
    def https_url(self) -> str:
        return self._url("https")

    @property
    def mtls_url(self) -> str:
        return self._url("mtls")

    def _url(self, listener: str) -> str:
        server = self._servers.get(listener)
        if server is None:
            raise RuntimeError(f"this stand-in has no {listener} listener")
        return f"{'http' if listener == 'http' else 'https'}://127.0.0.1:{server.port}"

    # -- what a test does

    def reset(self) -> None:
        """Forgets every request, token and queued answer and restores the knobs (one stand-in per session)."""
        with self._lock:
            _Knobs.__init__(self)
            self.requests.clear()
            self.tokens.clear()
            self._valid_tokens.clear()
            self._answers.clear()
            self._csrf_token = secrets.token_hex(8)
            self.csrf_tokens_issued = 0
            self._released.clear()

    def respond(self, *answers: Answer) -> None:
        """Queues answers for the next requests to /echo (and to the protected endpoints once they let one in)."""
        with self._lock:
            self._answers.extend(answers)

    def revoke_tokens(self) -> None:
        with self._lock:
            self._valid_tokens.clear()

    def expire_csrf_token(self) -> None:
        with self._lock:
            self._csrf_token = secrets.token_hex(8)

    def release(self) -> None:
        self._released.set()

    def requests_to(self, path: str) -> list[Recorded]:
        with self._lock:
            return [request for request in self.requests if request.path == path]

    # -- endpoints

    def _routes(self) -> list[Route]:
        endpoints: list[tuple[str, Endpoint, list[str]]] = [
            ("/echo/{rest:path}", self._echo, ALL_METHODS),
            ("/code/{code:int}", self._code, ALL_METHODS),
            ("/sink", self._sink, ALL_METHODS),
            ("/source/{size:int}", self._source, ["GET"]),
            ("/slow", self._slow, ALL_METHODS),
            ("/oauth/token", self._token, ["POST"]),
            ("/bearer/{rest:path}", self._bearer, ALL_METHODS),
            ("/basic/{rest:path}", self._basic, ALL_METHODS),
            ("/csrf/token", self._csrf_fetch, ["GET"]),
            ("/csrf/protected/{rest:path}", self._csrf_protected, ALL_METHODS),
            ("/{rest:path}", self._not_found, ALL_METHODS),
        ]
        return [
            Route(path, self._recording(endpoint), methods=methods) for path, endpoint, methods in endpoints
        ]

    def _recording(self, endpoint: Endpoint) -> Callable[[Request], Awaitable[Response]]:
        keep_body = endpoint != self._sink  # the sink's bodies are too big to keep

        async def recorded(request: Request) -> Response:
            tls = request.scope.get("extensions", {}).get("tls") or {}
            entry = Recorded(
                method=request.method,
                path=request.url.path,
                raw_path=(request.scope.get("raw_path") or request.scope["path"].encode()).decode("latin-1"),
                query=request.scope["query_string"].decode("latin-1"),
                headers=tuple(
                    (name.decode("latin-1"), value.decode("latin-1")) for name, value in request.headers.raw
                ),
                body=await request.body() if keep_body else b"",
                client_subject=tls.get("client_cert_name"),
            )
            if self.recording:
                with self._lock:
                    self.requests.append(entry)
            return await endpoint(request, entry)

        return recorded

    async def _echo(self, request: Request, recorded: Recorded) -> Response:
        with self._lock:
            queued = self._answers.popleft() if self._answers else None
        if queued is not None:
            return queued.response()
        document: dict[str, Any] = {
            "method": recorded.method,
            "path": recorded.path,
            "raw_path": recorded.raw_path,
            "query": recorded.query,
            "headers": [list(pair) for pair in recorded.headers],
            "body": recorded.body.decode("utf-8", "replace"),
        }
        return JSONResponse(document)

    async def _code(self, request: Request, recorded: Recorded) -> Response:
        code = int(request.path_params["code"])
        return Response(str(code).encode(), status_code=code)

    async def _sink(self, request: Request, recorded: Recorded) -> Response:
        size = 0
        async for chunk in request.stream():
            size += len(chunk)
        return Response(str(size).encode())

    async def _source(self, request: Request, recorded: Recorded) -> Response:
        size = int(request.path_params["size"])

        async def chunks() -> AsyncIterator[bytes]:
            for start in range(0, size, STREAM_CHUNK):
                yield b"x" * min(STREAM_CHUNK, size - start)

        return StreamingResponse(chunks(), headers={"Content-Length": str(size)})

    async def _slow(self, request: Request, recorded: Recorded) -> Response:
        deadline = time.monotonic() + SLOW_SECONDS
        while not self._released.is_set() and time.monotonic() < deadline:
            if await request.is_disconnected():
                break
            await asyncio.sleep(0.01)
        return Response(b"released")

    async def _token(self, request: Request, recorded: Recorded) -> Response:
        with self._lock:
            answer = self.token_answer
        if answer is not None:
            return answer.response()
        form = recorded.form
        if form.get("grant_type") != ["client_credentials"]:
            return _oauth_error(400, "unsupported_grant_type")
        basic = _basic_credentials(recorded.header("authorization"))
        if basic is not None and "client_secret" in form and self.reject_multiple_client_auth:
            return _oauth_error(400, "invalid_request")
        client_id, secret, method = _client_authentication(basic, form, recorded.client_subject)
        with self._lock:
            expected = self.clients.get(client_id or "")
            if client_id is None or expected is None or (secret is not None and secret != expected):
                return _oauth_error(401, "invalid_client")
            token = secrets.token_urlsafe(16)
            self.tokens.append(IssuedToken(token, client_id, method))
            self._valid_tokens.add(token)
            expires_in = self.expires_in
        body: dict[str, Any] = {"access_token": token, "token_type": "bearer"}
        if expires_in is not None:
            body["expires_in"] = expires_in
        return JSONResponse(body)

    async def _bearer(self, request: Request, recorded: Recorded) -> Response:
        scheme, _, token = (recorded.header("authorization") or "").partition(" ")
        with self._lock:
            valid = scheme.lower() == "bearer" and token in self._valid_tokens
        return await self._echo(request, recorded) if valid else Response(b"invalid token", status_code=401)

    async def _basic(self, request: Request, recorded: Recorded) -> Response:
        credentials = _basic_credentials(recorded.header("authorization"))
        with self._lock:
            valid = credentials is not None and self.users.get(credentials[0]) == credentials[1]
        return await self._echo(request, recorded) if valid else Response(b"forbidden", status_code=403)

    async def _csrf_fetch(self, request: Request, recorded: Recorded) -> Response:
        with self._lock:
            token = self._csrf_token
            self.csrf_tokens_issued += 1
        response = Response(b"")
        response.headers[CSRF_HEADER] = token
        response.set_cookie(CSRF_COOKIE, token)
        return response

    async def _csrf_protected(self, request: Request, recorded: Recorded) -> Response:
        with self._lock:
            token = self._csrf_token
        if recorded.header(CSRF_HEADER) != token or request.cookies.get(CSRF_COOKIE) != token:
            return Response(b"CSRF token validation failed", status_code=403)
        return await self._echo(request, recorded)

    async def _not_found(self, request: Request, recorded: Recorded) -> Response:
        return Response(b"not found", status_code=404)


def _basic_credentials(header: str | None) -> tuple[str, str] | None:
    scheme, _, encoded = (header or "").partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(encoded, validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    user, colon, password = decoded.partition(":")
    return (user, password) if colon else None


def _client_authentication(
    basic: tuple[str, str] | None, form: dict[str, list[str]], client_subject: str | None
) -> tuple[str | None, str | None, str]:
    """Client id, secret (None: authenticated by its certificate) and method; a None id means unauthenticated."""
    if basic is not None:
        return unquote_plus(basic[0]), unquote_plus(basic[1]), "client_secret_basic"
    client_id = form.get("client_id", [None])[0]
    if "client_secret" in form:
        return client_id, form["client_secret"][0], "client_secret_post"
    if client_subject is not None:
        return client_id, None, "tls_client_auth"
    return None, None, "none"


def _oauth_error(status: int, error: str) -> Response:
    return JSONResponse({"error": error}, status_code=status)
