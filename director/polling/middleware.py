"""Change-aware polling for runtimes: ETag / If-None-Match, and serialized answers kept per revision.

A runtime's agent sends the same document every period. When nothing in its view changed since the answer was
built, the answer comes from memory (or as 304 Not Modified when the agent sent the ETag back) without a SQL
statement: the runtime's identity (``ConnectorService.identify``) and its view's revision (``kept_revisions``)
are kept in memory until a committed change names them (``kernel.changes``). Requests of operators, and of plain
agents that send no ETag, still get full answers, only cheaper when repeated.

A kept answer is sent as gzip to a client whose Accept-Encoding admits it (Go's transport asks for gzip, so the
Compass agent does) and as is to others. Each representation is made once, when first asked for, and kept in its
place: a fleet of gzip clients keeps only compressed bytes (a tenth of the JSON), and no request compresses.
Each representation has its own strong ETag (RFC 9110 8.8.3), the gzip one ending in ``-gzip"``.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import re
from dataclasses import dataclass
from functools import lru_cache
from http import HTTPStatus

from graphql import GraphQLError, OperationDefinitionNode, OperationType
from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from director.polling.kept_revisions import KeptRevisions
from director.polling.last_seen import LastSeenRecorder
from kernel.cache import MemoryCache
from kernel.graphql.documents import document_key, parse_bounded
from kernel.http import ANSWERED_WITH_ERRORS
from kernel.observability.metrics import RUNTIME_ANSWER_ENCODINGS_TOTAL, RUNTIME_POLLS_TOTAL
from kernel.principal import ClientKind, ClientPrincipal

QUERY_DOCUMENTS = 16_384
"""Documents whose kind (only queries, or not) is remembered. Compass's agent writes its runtime id into
the document, so a fleet sends a few documents per runtime: with 512 entries a fleet of 656 parsed every poll
(9% of the server's CPU in bench/fleet.py's profile). Each is remembered by a digest: ~3 MB when full,
whatever the size of the documents."""

GZIP_LEVEL = 1
"""Measured on the agent's answer for 100 applications (537 KB of JSON): level 1 makes 53 KB in 2.2 ms, level 6
43 KB in 4.0 ms, level 9 41 KB in 7.2 ms. Every runtime whose view changed compresses its new answer once, so the
CPU counts more than the last fifth of the bytes."""
_QVALUE = re.compile(r"(?:0(?:\.[0-9]{0,3})?|1(?:\.0{0,3})?)\Z")


@dataclass(frozen=True, slots=True)
class KeptAnswer:
    """A runtime's answer as JSON (identity) and gzip-compressed: those asked for so far, at least one."""

    identity: bytes | None
    compressed: bytes | None

    def __len__(self) -> int:
        """The bytes kept: what the cache's byte bound counts."""
        return len(self.identity or b"") + len(self.compressed or b"")

    def both(self) -> tuple[bytes, bytes]:
        """Identity and gzip, the missing one made from the other."""
        if self.identity is None:
            RUNTIME_ANSWER_ENCODINGS_TOTAL.labels(encoding="identity").inc()
            compressed = self.compressed or b""
            return gzip.decompress(compressed), compressed
        return self.identity, _compress(self.identity) if self.compressed is None else self.compressed


def _compress(answer: bytes) -> bytes:
    RUNTIME_ANSWER_ENCODINGS_TOTAL.labels(encoding="gzip").inc()
    return gzip.compress(answer, compresslevel=GZIP_LEVEL, mtime=0)


def _etag(runtime_id: str, revision: tuple[int, int], body: bytes) -> str:
    digest = hashlib.sha256(f"{runtime_id}\n{revision[0]}.{revision[1]}\n".encode() + body).hexdigest()[:40]
    return f'"{digest}"'


async def _read_body(receive: Receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientDisconnect
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Receive:
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if sent:
            return await receive()
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return replay


async def _only_queries(query: str, operation_name: str | None, max_tokens: int) -> bool:
    """A document over the token limit is no query: GraphQL refuses it after this."""
    try:
        document = await parse_bounded(query, max_tokens=max_tokens)
    except GraphQLError:
        return False
    operations = [node for node in document.definitions if isinstance(node, OperationDefinitionNode)]
    if operation_name is not None:
        operations = [node for node in operations if node.name is not None and node.name.value == operation_name]
    return bool(operations) and all(node.operation is OperationType.QUERY for node in operations)


def _representation_etag(key: str, *, gzipped: bool) -> str:
    """The kept answer's key is its identity representation's ETag."""
    return f'{key[:-1]}-gzip"' if gzipped else key


def _if_none_match(scope: Scope) -> set[str]:
    """The tags, compared weakly as RFC 9110 13.1.2 says (a proxy may have weakened ours)."""
    for name, value in scope.get("headers", []):
        if name == b"if-none-match":
            return {tag.strip().removeprefix("W/") for tag in value.decode("latin-1").split(",")}
    return set()


def _accepts_gzip(scope: Scope) -> bool:
    values = [value for name, value in scope.get("headers", []) if name == b"accept-encoding"]
    return bool(values) and _admits_gzip(b",".join(values))


@lru_cache(maxsize=64)
def _admits_gzip(accept_encoding: bytes) -> bool:
    """RFC 9110 12.5.3: gzip (or x-gzip) named with q > 0, or ``*`` with q > 0 when neither is named. A malformed
    q refuses its coding: identity is always safe."""
    qualities: dict[str, bool] = {}
    for element in accept_encoding.decode("latin-1").split(","):
        coding, *parameters = element.split(";")
        accepted = True
        for parameter in parameters:
            name, _, value = parameter.partition("=")
            if name.strip().lower() == "q":
                value = value.strip()
                accepted = _QVALUE.match(value) is not None and float(value) > 0
        qualities[coding.strip().lower()] = accepted
    for coding in ("gzip", "x-gzip", "*"):
        if coding in qualities:
            return qualities[coding]
    return False


async def _send_answer(send: Send, status: int, etag: str, body: bytes, *, gzipped: bool) -> None:
    """One ``send`` of ``body``, the kept bytes object itself."""
    headers = [
        (b"etag", etag.encode()),
        (b"cache-control", b"private, no-cache"),
        (b"vary", b"Accept-Encoding"),
    ]
    if status == HTTPStatus.OK:
        headers += [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
        if gzipped:
            headers.append((b"content-encoding", b"gzip"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body if status == HTTPStatus.OK else b""})


class RuntimePollCache:
    def __init__(
        self,
        app: ASGIApp,
        *,
        revisions: KeptRevisions,
        cache: MemoryCache[str, KeptAnswer],
        recorder: LastSeenRecorder,
        max_query_tokens: int,
    ) -> None:
        self.app = app
        self.revisions = revisions
        self.cache = cache
        self.recorder = recorder
        self.max_query_tokens = max_query_tokens
        self.query_documents: MemoryCache[bytes, bool] = MemoryCache(max_entries=QUERY_DOCUMENTS)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        principal = scope.get("state", {}).get("principal")
        if (
            scope["type"] != "http"
            or scope["method"] != "POST"
            or not isinstance(principal, ClientPrincipal)
            or principal.identity.kind is not ClientKind.RUNTIME
        ):
            await self.app(scope, receive, send)
            return
        runtime_id = principal.identity.object_id
        self.recorder.seen(runtime_id)
        body = await _read_body(receive)
        if not await self._is_query(body):
            await self.app(scope, _replay(body, receive), send)
            return
        revision = await self.revisions.current(principal.identity.tenant_id, runtime_id)
        key = _etag(runtime_id, revision or (0, 0), body)
        gzipped = _accepts_gzip(scope)
        etag = _representation_etag(key, gzipped=gzipped)
        if etag in _if_none_match(scope):
            RUNTIME_POLLS_TOTAL.labels(outcome="not_modified").inc()
            await _send_answer(send, 304, etag, b"", gzipped=gzipped)
            return
        kept = self.cache.get(key)
        if kept is not None:
            RUNTIME_POLLS_TOTAL.labels(outcome="cached").inc()
            answer = self._representation(key, kept, gzipped=gzipped)
            await _send_answer(send, 200, etag, answer, gzipped=gzipped)
            return
        RUNTIME_POLLS_TOTAL.labels(outcome="executed").inc()
        await self._execute(scope, _replay(body, receive), send, key, gzipped=gzipped)

    def _representation(self, key: str, kept: KeptAnswer, *, gzipped: bool) -> bytes:
        """The kept bytes of the asked representation; one not kept yet is made now and kept beside the other."""
        body = kept.compressed if gzipped else kept.identity
        if body is None:
            identity, compressed = kept.both()
            self.cache.put(key, KeptAnswer(identity, compressed))
            body = compressed if gzipped else identity
        return body

    async def _is_query(self, body: bytes) -> bool:
        """Only reads are answered from memory or with 304; a mutation always runs. Each agent sends the same
        few documents, so parsing each distinct one once is enough."""
        try:
            request = json.loads(body)
        except (ValueError, RecursionError):
            return False  # GraphQL answers 400 after this
        if not isinstance(request, dict) or not isinstance(request.get("query"), str):
            return False
        query, operation_name = request["query"], request.get("operationName")
        operation_name = operation_name if isinstance(operation_name, str) else None
        key = document_key(query, operation_name)
        only_queries = self.query_documents.get(key)
        if only_queries is None:
            only_queries = await _only_queries(query, operation_name, self.max_query_tokens)
            self.query_documents.put(key, only_queries)
        return only_queries

    async def _execute(self, scope: Scope, receive: Receive, send: Send, key: str, *, gzipped: bool) -> None:
        start: Message | None = None
        chunks: list[bytes] = []

        async def capture(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                start = message
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))

        await self.app(scope, receive, capture)
        if start is None:
            return
        answer = b"".join(chunks)
        if start["status"] != HTTPStatus.OK or not _cacheable(scope, start, answer):
            await send(start)
            await send({"type": "http.response.body", "body": answer})
            return
        if gzipped:
            answer = _compress(answer)
        self.cache.put(key, KeptAnswer(None, answer) if gzipped else KeptAnswer(answer, None))
        await _send_answer(send, 200, _representation_etag(key, gzipped=gzipped), answer, gzipped=gzipped)


def _cacheable(scope: Scope, start: Message, answer: bytes) -> bool:
    """An answer without errors, as JSON: one already encoded on its way here passes as it came, never compressed
    twice. The GraphQL view says whether it answered with errors; an answer from elsewhere is parsed to know."""
    if any(name == b"content-encoding" for name, _ in start.get("headers", [])):
        return False
    errors = scope.get("state", {}).get(ANSWERED_WITH_ERRORS)
    if errors is not None:
        return not errors
    try:
        document = json.loads(answer)
    except ValueError:
        return False
    return isinstance(document, dict) and not document.get("errors")
