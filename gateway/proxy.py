"""The proxy: one ASGI app per listener (standalone or Compass paths) that forwards a workload's call to the API's
target with the credentials the agent stored (DATAPLANE.md A; where we differ from Kyma, README "Calling an
application's API from the runtime" says so).

Per call: parse the path → resolve the API from the catalog (every call: the agent's last change applies) →
build the target URL, headers and request parameters → authorize (Access-Token, Basic, OAuth, certificate,
CSRF) → send, streaming both bodies → on 401/403 invalidate the cached tokens and send once more with the body
replayed (bodies up to ``GATEWAY_RETRY_BODY_LIMIT``; larger ones stream and are not retried) → answer, with
5xx turned into 502 + ``Target-System-Status`` and a redirect into the target rewritten into the gateway.
"""

from __future__ import annotations

import functools
import time
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlunsplit

import aiohttp
import structlog
from multidict import CIMultiDict
from yarl import URL

from dataplane.catalog.base import Catalog
from gateway import metrics
from gateway.auth import Authenticator
from gateway.errors import CONTENT_TYPE, GatewayError
from gateway.lookup import ResolvedApi, resolve
from gateway.outgoing import Outgoing
from gateway.paths import ApiPath, parse
from gateway.upstream import Upstream

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

log = structlog.get_logger("gateway.proxy")

# Never forwarded in either direction (RFC 9110 7.6.1, and what Go's ReverseProxy drops); Host is the target's,
# Content-Length is set from the body, Access-Token becomes Authorization, Expect is answered here.
_HOP_BY_HOP = frozenset(
    {
        "connection",
        "proxy-connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
    }
)
_NOT_FORWARDED = _HOP_BY_HOP | {"host", "content-length", "access-token", "expect"}
_HOP_BY_HOP_BYTES = frozenset(name.encode() for name in _HOP_BY_HOP)
# Characters a request path or query may carry unescaped; anything else the caller sent is escaped before it
# goes out (an existing %XX escape is kept: "%" is in the set).
_RAW_PATH_SAFE = "/%!$&'()*+,;=:@-._~"
_RAW_QUERY_SAFE = _RAW_PATH_SAFE + "?"
# What Go escapes when it re-encodes a path (``encodeUrl: true``): all but unreserved and "$&+,/:;=@".
_ENCODED_PATH_SAFE = "/$&+,:;=@-._~"
_RETRY_STATUSES = frozenset({401, 403})
_SERVER_ERROR = 500  # from here up the target's status becomes 502 with Target-System-Status
_REDIRECT_REWRITTEN = frozenset({201, 301, 302, 303, 307, 308})
_CHUNK = 64 * 1024


class ClientGone(Exception):
    """The caller disconnected while its request body was being read."""


class TargetBodyFailed(Exception):
    """The target's body broke off after its headers went to the caller: the connection is aborted so that the
    caller cannot take a cut body for a whole one."""


class _Answer:
    """Remembers whether the answer started, so that a late failure aborts instead of answering twice."""

    def __init__(self, send: Send) -> None:
        self._send = send
        self.started = False

    async def send(self, message: Message) -> None:
        self.started = True
        await self._send(message)


@dataclass(frozen=True)
class _Body:
    """The request body: whole (``data`` is bytes, replayable) or streaming (an iterator, sent once)."""

    data: bytes | AsyncIterator[bytes]
    length: str | None  # the caller's Content-Length, kept for a streamed body so it is not sent chunked

    @property
    def replayable(self) -> bool:
        return isinstance(self.data, bytes)


class Proxy:
    def __init__(
        self,
        *,
        catalog: Catalog,
        upstream: Upstream,
        authenticator: Authenticator,
        compass: bool,
        proxy_timeout: float,
        retry_body_limit: int,
    ) -> None:
        self._catalog = catalog
        self._upstream = upstream
        self._authenticator = authenticator
        self._compass = compass
        self._proxy_timeout = proxy_timeout
        self._retry_body_limit = retry_body_limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        raw_path = (scope.get("raw_path") or scope["path"].encode("utf-8")).decode("latin-1")
        application = api = ""
        answer = _Answer(send)
        send = answer.send
        try:
            path = parse(raw_path, compass=self._compass)
            resolved = resolve(self._catalog, path, default_timeout=self._proxy_timeout)
            application, api = resolved.application, resolved.api
            status = await self._forward(scope, receive, send, path, resolved)
        except GatewayError as error:
            status = error.status
            if status >= _SERVER_ERROR:
                log.warning(
                    "gateway_error", application=application, api=api, status=status, error=error.message
                )
            await _answer_error(send, error)
        except ClientGone:
            status = 499  # nginx's "client closed request": counted, nothing to answer
        except TargetBodyFailed:
            metrics.REQUESTS.labels(application, api, "aborted").inc()
            raise
        except Exception:
            log.exception("gateway_internal_error", application=application, api=api)
            if answer.started:
                raise  # too late for an error answer: uvicorn aborts the connection
            status = 500
            await _answer_error(send, GatewayError(500, "internal error of the gateway"))
        metrics.REQUESTS.labels(application, api, str(status)).inc()

    async def _forward(
        self, scope: Scope, receive: Receive, send: Send, path: ApiPath, api: ResolvedApi
    ) -> int:
        target, origin = _target(api)
        url = _url(target, origin, path, api, scope["query_string"].decode("latin-1"))
        headers, access_token, length = _headers(scope, api)
        body = await _read_body(receive, self._retry_body_limit, length)
        method: str = scope["method"]

        response = await self._attempt(
            api, method=method, url=url, headers=headers, body=body, access_token=access_token
        )
        if response.status in _RETRY_STATUSES and body.replayable:
            response.release()
            metrics.RETRIES.labels(api.application, api.api).inc()
            self._authenticator.invalidate(api, access_token=access_token)
            response = await self._attempt(
                api, method=method, url=url, headers=headers, body=body, access_token=access_token
            )
        try:
            return await _relay(response, send, method=method, target=target, base=path.base)
        finally:
            response.release()

    async def _attempt(
        self,
        api: ResolvedApi,
        *,
        method: str,
        url: URL,
        headers: CIMultiDict[str],
        body: _Body,
        access_token: str | None,
    ) -> aiohttp.ClientResponse:
        outgoing = Outgoing(method=method, url=url, headers=headers.copy())
        await self._authenticator.authorize(api, outgoing, access_token=access_token)
        if body.length is not None and not body.replayable:
            outgoing.headers["Content-Length"] = body.length
        ssl = self._upstream.ssl(skip_verify=api.skip_verify, certificate=outgoing.certificate)
        # The timeout starts once the request body is sent (aiohttp's sock_read): it bounds the wait for the
        # answer and each pause in its body, never an upload or a download that keeps flowing.
        timeout = aiohttp.ClientTimeout(total=None, sock_connect=api.timeout, sock_read=api.timeout)
        started = time.perf_counter()
        try:
            response = await self._upstream.session.request(
                outgoing.method,
                outgoing.url,
                headers=outgoing.headers,
                data=body.data if body.data != b"" else None,
                ssl=ssl,
                timeout=timeout,
                allow_redirects=False,
            )
        except TimeoutError as exc:  # aiohttp's connect and read timeouts are TimeoutErrors
            raise GatewayError(504, f"the target {url.host} did not answer within {api.timeout:g} s") from exc
        except aiohttp.ClientSSLError as exc:
            raise GatewayError(502, f"TLS with the target {url.host} failed: {exc}") from exc
        except (aiohttp.ClientError, OSError) as exc:
            raise GatewayError(502, f"the target {url.host} could not be reached: {_reason(exc)}") from exc
        metrics.UPSTREAM_SECONDS.labels(api.application, api.api).observe(time.perf_counter() - started)
        return response


def _target(api: ResolvedApi) -> tuple[URL, str]:
    """The API's target URL and its origin (``scheme://host[:port]``)."""
    parsed = _parse_target(api.target_url)
    if parsed is None:
        raise GatewayError(500, f"the target URL of API '{api.api}' is not an absolute http(s) URL")
    return parsed


@functools.lru_cache(maxsize=4096)
def _parse_target(target_url: str) -> tuple[URL, str] | None:
    """Parsed once per target URL, not per call (yarl's parse is a good part of a call's own cost)."""
    try:
        target = URL(target_url)
    except (ValueError, TypeError):
        return None
    if target.scheme not in ("http", "https") or not target.host:
        return None
    return target, str(target.origin())


def _url(target: URL, origin: str, path: ApiPath, api: ResolvedApi, incoming_query: str) -> URL:
    if api.encode_url:
        remainder = quote(unquote(path.remainder), safe=_ENCODED_PATH_SAFE)
    else:
        remainder = quote(path.remainder, safe=_RAW_PATH_SAFE)
    target_path = target.raw_path
    joined = (target_path.rstrip("/") + remainder) if remainder else (target_path or "/")
    query = "&".join(
        part for part in (target.raw_query_string, quote(incoming_query, safe=_RAW_QUERY_SAFE)) if part
    )
    if api.query:
        pairs = parse_qsl(query, keep_blank_values=True)
        present = {name for name, _ in pairs}
        added = [
            (name, value) for name, values in api.query.items() if name not in present for value in values
        ]
        if added:
            # As Go's url.Values.Encode: sorted by key, each value re-escaped.
            query = urlencode(sorted(pairs + added, key=lambda pair: pair[0]))
    return URL(origin + joined + ("?" + query if query else ""), encoded=True)


def _headers(scope: Scope, api: ResolvedApi) -> tuple[CIMultiDict[str], str | None, str | None]:
    """The headers to forward, the caller's Access-Token and its Content-Length (one pass: ASGI servers give
    header names in lower case)."""
    headers: CIMultiDict[str] = CIMultiDict()
    forwarded_for: list[str] = []
    named_by_connection: set[str] = set()
    access_token = length = None
    for raw_name, raw_value in scope["headers"]:
        name, value = raw_name.decode("latin-1").lower(), raw_value.decode("latin-1")
        if name == "x-forwarded-for":
            forwarded_for.append(value)
        elif name not in _NOT_FORWARDED:
            headers.add(name, value)
        elif name == "connection":
            named_by_connection.update(token.strip().lower() for token in value.split(","))
        elif name == "access-token":
            access_token = value
        elif name == "content-length":
            length = value
    for name in named_by_connection:
        headers.popall(name, None)
    client = scope.get("client")
    if client:
        forwarded_for.append(client[0])
    if forwarded_for:
        headers["X-Forwarded-For"] = ", ".join(forwarded_for)
    _add_parameters(headers, api)
    return headers, access_token, length


def _add_parameters(headers: CIMultiDict[str], api: ResolvedApi) -> None:
    """The request-parameters Secret's headers, where the caller sent none of that name."""
    for name, values in api.headers.items():
        if name not in headers:
            for value in values:
                headers.add(name, value)


async def _read_body(receive: Receive, limit: int, length: str | None) -> _Body:
    """The body whole when it fits in ``limit`` bytes, else a stream of what was read and the rest (even when
    all of it came in one read: whether a body is retried must not depend on how its bytes arrived)."""
    chunks: list[bytes] = []
    size = 0
    more = True
    while more and size <= limit:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientGone
        chunk = message.get("body", b"")
        if chunk:
            chunks.append(chunk)
            size += len(chunk)
        more = message.get("more_body", False)
    if not more and size <= limit:
        return _Body(b"".join(chunks), None)
    return _Body(_stream(chunks, receive, more=more), length)


async def _stream(first: list[bytes], receive: Receive, *, more: bool) -> AsyncIterator[bytes]:
    for chunk in first:
        yield chunk
    first.clear()
    while more:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientGone
        chunk = message.get("body", b"")
        if chunk:
            yield chunk
        more = message.get("more_body", False)


async def _relay(response: aiohttp.ClientResponse, send: Send, *, method: str, target: URL, base: str) -> int:
    status = response.status
    named_by_connection = {
        token.strip().lower()
        for name, value in response.raw_headers
        if name.lower() == b"connection"
        for token in value.split(b",")
    }
    headers = [
        (name, value)
        for name, value in response.raw_headers
        if name.lower() not in _HOP_BY_HOP_BYTES and name.lower() not in named_by_connection
    ]
    if status >= _SERVER_ERROR:
        headers.append((b"target-system-status", str(status).encode()))
        status = 502
    elif status in _REDIRECT_REWRITTEN:
        headers = [
            (name, _rewritten_location(value, target, base) if name.lower() == b"location" else value)
            for name, value in headers
        ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    if method != "HEAD":
        try:
            async for chunk in response.content.iter_any():
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
        except (aiohttp.ClientError, TimeoutError) as exc:
            log.warning("target_body_failed", target=target.host, error=_reason(exc))
            raise TargetBodyFailed(str(exc)) from exc
    await send({"type": "http.response.body", "body": b""})
    return status


def _rewritten_location(value: bytes, target: URL, base: str) -> bytes:
    """A Location into the target's API becomes the same place behind the gateway (an absolute path, which the
    caller resolves against the gateway URL it called, so the caller's Host header is never trusted for it); any
    other Location is left as it is.

    Stricter than Kyma's: the scheme and port must match too (the target's origin), and the target's path must
    be a whole-segment prefix (a target ``/api/v1`` does not claim ``/api/v10``)."""
    text = value.decode("latin-1")
    request_url = URL.build(scheme=target.scheme, host=target.raw_host or "", port=target.explicit_port)
    try:
        location = request_url.join(URL(text, encoded=True))
    except ValueError:
        return value
    if location.scheme != target.scheme or location.host != target.host or location.port != target.port:
        return value
    prefix = target.raw_path.rstrip("/")
    path = location.raw_path
    if path != prefix and not path.startswith(prefix + "/"):
        return value
    rewritten = urlunsplit(
        ("", "", base + path[len(prefix) :], location.raw_query_string, location.raw_fragment)
    )
    return rewritten.encode("latin-1")


async def _answer_error(send: Send, error: GatewayError) -> None:
    body = error.body()
    headers = [(b"content-type", CONTENT_TYPE), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": error.status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def _reason(exc: BaseException) -> str:
    return str(exc) or type(exc).__name__
