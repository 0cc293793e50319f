"""The benchmark's floor: a bare Starlette endpoint answering the Runtime Agent's sync document.

It loads the same rows as pycompass with one hand-written SQL statement per table (labels twice: the
runtime's, then the applications'). It uses the same engines (``kernel.db.Database``, so the same pool and
the same SQLite pragmas) and builds the same JSON bytes by hand. It has no GraphQL, no ORM, no
authentication, no logging and no metrics, so what pycompass spends above it is what those layers cost. It
answers exactly one document shape (``bench.director.sync_document``) and picks the runtime id, the ``after``
cursor and the page size (``first``, which only the smoke tests write) out of the query text.

On ``AGENT_PATH`` it answers as pycompass answers a runtime's client certificate (director/polling/): the
tenant's revision first (one statement), then the answer kept in memory for that revision and body, or 304 Not
Modified when ``If-None-Match`` carries its ETag. It takes the tenant from the ``Tenant`` header: it has no
identity lookup, as it has no authentication.

Serve it with ``python -m uvicorn --factory bench.baseline:app_from_environment`` and
``BENCH_BASELINE_DATABASE_URL`` set.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
from collections import defaultdict
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import String, bindparam, text
from sqlalchemy.ext.asyncio import AsyncConnection
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from kernel.db import Database

DATABASE_URL_VARIABLE = "BENCH_BASELINE_DATABASE_URL"
PATH = "/director/graphql"
AGENT_PATH = "/agent/director/graphql"
ANSWERS_KEPT = 64
PAGE_SIZE = 200

_RUNTIME_ID = re.compile(r'runtimeID:\s*"([^"]+)"')
_AFTER = re.compile(r'after:\s*"([^"]*)"')
_FIRST = re.compile(r"first:\s*(\d+)")
_NOT_ALLOWED = re.compile(r"[^-a-z0-9]")
_HYPHEN_RUNS = re.compile(r"-{2,}")

_IDS = bindparam("ids", expanding=True, type_=String)
_REVISION = text("SELECT revision FROM tenants WHERE id = :tenant")
_RUNTIME = text("SELECT id FROM runtimes WHERE tenant_id = :tenant AND id = :runtime")
_RUNTIME_LABELS = text(
    'SELECT "key", value FROM labels WHERE tenant_id = :tenant AND runtime_id = :runtime ORDER BY "key"'
)
# count(*) OVER () is evaluated before LIMIT/OFFSET: the page and the total in one statement.
_APPLICATIONS = """
SELECT a.id, a.name, a.provider_name, a.description, count(*) OVER () AS total
FROM applications a
WHERE a.tenant_id = :tenant AND a.id IN (
    SELECT l.application_id FROM labels l
    WHERE l.tenant_id = :tenant AND l."key" = 'scenarios' AND l.application_id IS NOT NULL AND {in_scenarios})
ORDER BY a.name, a.id
LIMIT :limit OFFSET :offset
"""
_SQLITE_IN_SCENARIOS = (
    "EXISTS (SELECT 1 FROM json_each(l.value) e WHERE json_type(l.value) = 'array' "
    "AND e.type = 'text' AND e.value IN :scenarios)"
)
_POSTGRES_IN_SCENARIOS = "jsonb_exists_any(l.value, CAST(:scenarios AS text[]))"
_APPLICATION_LABELS = text(
    'SELECT application_id, "key", value FROM labels '
    'WHERE tenant_id = :tenant AND application_id IN :ids ORDER BY "key"'
).bindparams(_IDS)
_AUTHS = text(
    "SELECT application_id, id FROM system_auths "
    "WHERE tenant_id = :tenant AND application_id IN :ids ORDER BY created_at, id"
).bindparams(_IDS)
_BUNDLES = text(
    "SELECT application_id, id, name, description, instance_auth_request_input_schema, "
    "default_instance_auth FROM bundles "
    "WHERE tenant_id = :tenant AND application_id IN :ids ORDER BY created_at, id"
).bindparams(_IDS)
_APIS = text(
    "SELECT bundle_id, id, name, description, target_url, spec_data, spec_type, spec_format "
    "FROM api_definitions WHERE tenant_id = :tenant AND bundle_id IN :ids ORDER BY created_at, id"
).bindparams(_IDS)
_EVENTS = text(
    "SELECT bundle_id, id, name, description, spec_data, spec_type, spec_format "
    "FROM event_definitions WHERE tenant_id = :tenant AND bundle_id IN :ids ORDER BY created_at, id"
).bindparams(_IDS)


def normalize_name(name: str) -> str:
    """Compass's Kubernetes-safe name, written out again so that the baseline shares no GraphQL-side code."""
    return _HYPHEN_RUNS.sub("-", _NOT_ALLOWED.sub("-", f"mp-{name}".lower())).removesuffix("-")


def _cursor(offset: int) -> str:
    return base64.urlsafe_b64encode(f"offset:{offset}".encode()).decode()


def _offset(cursor: str | None) -> int:
    return int(base64.urlsafe_b64decode(cursor.encode()).decode().removeprefix("offset:")) if cursor else 0


def _page(data: list[Any], offset: int, total: int) -> dict[str, Any]:
    has_next = offset + len(data) < total
    return {
        "data": data,
        "pageInfo": {
            "startCursor": _cursor(offset) if data else "",
            "endCursor": _cursor(offset + len(data)) if has_next else "",
            "hasNextPage": has_next,
        },
        "totalCount": total,
    }


def _whole(data: list[Any]) -> dict[str, Any]:
    """A nested list that fits in one default page of 200, as every nested list here does."""
    return _page(data[:PAGE_SIZE], 0, len(data))


def _spec(row: Any) -> dict[str, Any] | None:
    if not (row.spec_type and row.spec_format):
        return None
    return {"data": row.spec_data, "type": row.spec_type, "format": row.spec_format}


def _credential(record: dict[str, Any] | None) -> dict[str, Any] | None:
    if not record:
        return None
    if basic := record.get("basic"):
        return {"username": basic["username"], "password": basic["password"]}
    oauth = record["oauth"]
    return {"clientId": oauth["clientId"], "clientSecret": oauth["clientSecret"], "url": oauth["url"]}


def _auth(record: dict[str, Any] | None) -> dict[str, Any] | None:
    if record is None:
        return None
    csrf = (record.get("requestAuth") or {}).get("csrf")
    return {
        "credential": _credential(record.get("credential")),
        "additionalHeaders": record.get("additionalHeaders"),
        "additionalQueryParams": record.get("additionalQueryParams"),
        "requestAuth": {"csrf": {"tokenEndpointURL": csrf["tokenEndpointURL"]}} if csrf else None,
    }


def _grouped(rows: Sequence[Any], key: str) -> dict[str, list[Any]]:
    grouped: dict[str, list[Any]] = defaultdict(list)
    for row in rows:
        grouped[getattr(row, key)].append(row)
    return grouped


class SyncDocument:
    """Loads and renders ``runtime { labels }`` + ``applicationsForRuntime`` for one runtime and page."""

    def __init__(self, database: Database) -> None:
        self.database = database
        # SQLite hands JSON columns back as text; SQLAlchemy's asyncpg codec has already decoded JSONB.
        self.json: Callable[[Any], Any] = json.loads if database.is_sqlite else (lambda value: value)
        if database.is_sqlite:
            statement = text(_APPLICATIONS.format(in_scenarios=_SQLITE_IN_SCENARIOS))
            self.applications = statement.bindparams(bindparam("scenarios", expanding=True))
        else:
            self.applications = text(_APPLICATIONS.format(in_scenarios=_POSTGRES_IN_SCENARIOS))

    async def render(
        self, tenant_id: str, runtime_id: str, after: str | None, first: int = PAGE_SIZE
    ) -> dict[str, Any]:
        async with self.database.engine.connect() as connection:
            return await self._render(connection, tenant_id, runtime_id, _offset(after), first)

    async def _render(
        self, connection: AsyncConnection, tenant_id: str, runtime_id: str, offset: int, first: int
    ) -> dict[str, Any]:
        async def rows(statement: Any, **parameters: Any) -> list[Any]:
            return list(await connection.execute(statement, {"tenant": tenant_id, **parameters}))

        if not await rows(_RUNTIME, runtime=runtime_id):
            return {"runtime": None, "result": _page([], offset, 0)}
        labels = {row.key: self.json(row.value) for row in await rows(_RUNTIME_LABELS, runtime=runtime_id)}
        runtime = {"labels": labels}
        scenarios = labels.get("scenarios")
        if not isinstance(scenarios, list) or not scenarios:
            return {"runtime": runtime, "result": _page([], offset, 0)}
        applications = await rows(self.applications, scenarios=scenarios, limit=first, offset=offset)
        total = applications[0].total if applications else 0
        if not applications:
            return {"runtime": runtime, "result": _page([], offset, total)}
        ids = [row.id for row in applications]
        application_labels = _grouped(await rows(_APPLICATION_LABELS, ids=ids), "application_id")
        auths = _grouped(await rows(_AUTHS, ids=ids), "application_id")
        bundle_rows = await rows(_BUNDLES, ids=ids)
        bundle_ids = [row.id for row in bundle_rows]
        apis: dict[str, list[Any]] = {}
        events: dict[str, list[Any]] = {}
        if bundle_ids:  # as a DataLoader that nobody asks: no statement
            apis = _grouped(await rows(_APIS, ids=bundle_ids), "bundle_id")
            events = _grouped(await rows(_EVENTS, ids=bundle_ids), "bundle_id")
        bundles: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for row in bundle_rows:
            bundles[row.application_id].append(
                {
                    "id": row.id,
                    "name": row.name,
                    "description": row.description,
                    "instanceAuthRequestInputSchema": row.instance_auth_request_input_schema,
                    "apiDefinitions": _whole([_api(api) for api in apis.get(row.id, [])]),
                    "eventDefinitions": _whole([_event(event) for event in events.get(row.id, [])]),
                    "defaultInstanceAuth": _auth(self.json(row.default_instance_auth)),
                }
            )
        normalized = labels.get("isNormalized") == "true"
        data = [
            {
                "id": row.id,
                "name": normalize_name(row.name) if normalized else row.name,
                "providerName": row.provider_name,
                "description": row.description,
                "labels": {label.key: self.json(label.value) for label in application_labels.get(row.id, [])},
                "auths": [{"id": auth.id} for auth in auths.get(row.id, [])],
                "bundles": _whole(bundles.get(row.id, [])),
            }
            for row in applications
        ]
        return {"runtime": runtime, "result": _page(data, offset, total)}


def _api(row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "name": row.name,
        "description": row.description,
        "targetURL": row.target_url,
        "spec": _spec(row),
    }


def _event(row: Any) -> dict[str, Any]:
    return {"id": row.id, "name": row.name, "description": row.description, "spec": _spec(row)}


class AnswersByRevision:
    """The floor of a cached poll: the revision lookup, then bytes kept in a dict (at most ``kept``)."""

    def __init__(self, database: Database, kept: int = ANSWERS_KEPT) -> None:
        self.database = database
        self.kept = kept
        self.answers: dict[str, bytes] = {}

    async def etag(self, tenant_id: str, body: bytes) -> str:
        async with self.database.engine.connect() as connection:
            revision = (await connection.execute(_REVISION, {"tenant": tenant_id})).scalar_one_or_none()
        digest = hashlib.sha256(f"{tenant_id}\n{revision or 0}\n".encode() + body).hexdigest()[:40]
        return f'"{digest}"'

    def keep(self, etag: str, answer: bytes) -> None:
        self.answers[etag] = answer
        while len(self.answers) > self.kept:
            del self.answers[next(iter(self.answers))]


def _if_none_match(request: Request) -> set[str]:
    return {tag.strip() for tag in request.headers.get("if-none-match", "").split(",") if tag.strip()}


def create_app(database: Database) -> Starlette:
    document = SyncDocument(database)
    kept = AnswersByRevision(database)

    async def answer(request: Request, body: bytes) -> Response:
        query = json.loads(body)["query"]
        runtime_id = _RUNTIME_ID.search(query)
        if runtime_id is None:
            return JSONResponse({"data": None, "errors": [{"message": "no runtimeID in the document"}]}, 400)
        after = _AFTER.search(query)
        first = _FIRST.search(query)
        tenant_id = request.headers.get("tenant", "")
        page_size = int(first.group(1)) if first else PAGE_SIZE
        data = await document.render(
            tenant_id, runtime_id.group(1), after.group(1) if after else None, page_size
        )
        # strawberry's view encodes the same way (json.dumps, compact separators): hence the same bytes.
        return Response(json.dumps({"data": data}, separators=(",", ":")), media_type="application/json")

    async def sync(request: Request) -> Response:
        return await answer(request, await request.body())

    async def agent_sync(request: Request) -> Response:
        body = await request.body()
        etag = await kept.etag(request.headers.get("tenant", ""), body)
        headers = {"etag": etag, "cache-control": "private, no-cache"}
        if etag in _if_none_match(request):
            return Response(status_code=304, headers=headers)
        if (cached := kept.answers.get(etag)) is None:
            response = await answer(request, body)
            if response.status_code != 200:
                return response
            cached = bytes(response.body)
            kept.keep(etag, cached)
        return Response(cached, media_type="application/json", headers=headers)

    async def healthz(_: Request) -> Response:
        return JSONResponse({"status": "ok"})

    @asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        yield
        await database.dispose()

    routes = [
        Route(PATH, sync, methods=["POST"]),
        Route(AGENT_PATH, agent_sync, methods=["POST"]),
        Route("/healthz", healthz),
    ]
    return Starlette(routes=routes, lifespan=lifespan)


def app_from_environment() -> Starlette:
    """The uvicorn factory: ``--factory bench.baseline:app_from_environment``."""
    return create_app(Database(os.environ[DATABASE_URL_VARIABLE]))
