"""Assembles the ASGI application: both APIs, health, metrics and the middleware that every request passes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy import text
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from compass.auth.jwt import JWTVerifier
from compass.auth.middleware import AuthenticationMiddleware
from compass.db import Database
from compass.graphiql import static_mount
from compass.http import BodySizeLimitMiddleware
from compass.migrate import current_revision, head_revision
from compass.observability.metrics import HttpMetricsMiddleware, metrics_endpoint
from compass.observability.request_context import RequestContextMiddleware
from compass.settings import Settings
from director.graphql.schema import build_schema
from director.graphql.view import DirectorGraphQL

DIRECTOR_PATH = "/director/graphql"


class DatabaseBehindError(RuntimeError):
    """The database is not at the migration head this code expects."""


async def check_migrations(database: Database) -> None:
    current, head = await current_revision(database.engine), head_revision()
    if current != head:
        raise DatabaseBehindError(
            f"the database is at migration {current or 'none'} but this pycompass needs {head}: "
            "run `compass migrate` (with the same COMPASS_DATABASE_URL) and start again"
        )


def create_app(settings: Settings, database: Database | None = None) -> Starlette:
    database = database or Database(settings.effective_database_url)
    director = DirectorGraphQL(build_schema(settings), database=database, settings=settings)

    async def healthz(_: Request) -> JSONResponse:
        return JSONResponse({"status": "ok"})

    async def readyz(_: Request) -> JSONResponse:
        try:
            async with database.engine.connect() as connection:
                await connection.execute(text("SELECT 1"))
        except Exception as error:  # noqa: BLE001 - any failure means "not ready", reported not raised
            return JSONResponse({"status": "unavailable", "database": type(error).__name__}, status_code=503)
        return JSONResponse({"status": "ok"})

    @asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        await check_migrations(database)
        yield
        await database.dispose()

    return Starlette(
        routes=[
            Route(DIRECTOR_PATH, director, methods=["GET", "POST"]),
            Route("/healthz", healthz),
            Route("/readyz", readyz),
            Route("/metrics", metrics_endpoint),
            static_mount(),
        ],
        middleware=[
            Middleware(RequestContextMiddleware),
            Middleware(HttpMetricsMiddleware),
            Middleware(BodySizeLimitMiddleware, max_bytes=settings.max_body_bytes),
            Middleware(
                AuthenticationMiddleware,
                verifier=JWTVerifier(settings),
                database=database,
                protected_paths=(DIRECTOR_PATH,),
            ),
        ],
        lifespan=lifespan,
    )
