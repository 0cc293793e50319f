"""A credential write the database refuses must not put the credential into the logs.

The database refuses the write here because a trigger says so: a value it refuses while our validation
accepts it (on PostgreSQL, before INVALID_INPUT for it existed, a password holding NUL) ends the same way, a
masked INTERNAL answer and a logged error. That error, as SQLAlchemy words it, ends with the statement's
parameters, and a console traceback can show every frame's local variables: both would carry the password.
Logs are captured as the server writes them, with the server's own configuration, in both formats.
"""

from __future__ import annotations

import io
import logging
from collections.abc import AsyncIterator, Iterator

import pytest
import structlog
from sqlalchemy import text

from kernel.db import Database
from kernel.observability.logging import configure_logging
from tests.support import Operator

SECRET = "s3cret-pa55word-that-must-stay-out-of-logs"
CLIENT_SECRET = "oauth-client-secret-that-must-stay-out-of-logs"

REGISTER_APPLICATION = 'mutation { registerApplication(in: {name: "%s"}) { id } }'
ADD_BUNDLE = """
mutation ($id: ID!, $password: String!, $secret: String!) {
  addBundle(applicationID: $id, in: {
    name: "refused",
    defaultInstanceAuth: {
      credential: {basic: {username: "user", password: $password}},
      requestAuth: {csrf: {tokenEndpointURL: "https://csrf.example.com/token",
                           credential: {oauth: {clientId: "client", clientSecret: $secret,
                                                url: "https://auth.example.com/token"}}}}
    }
  }) { id }
}
"""

_SQLITE_TRIGGER = (
    "CREATE TRIGGER refuse_bundles BEFORE INSERT ON bundles "
    "BEGIN SELECT RAISE(ABORT, 'bundles are refused'); END"
)
_POSTGRESQL_TRIGGER = (
    (
        "CREATE FUNCTION refuse_bundles() RETURNS trigger LANGUAGE plpgsql AS "
        "$$ BEGIN RAISE EXCEPTION 'bundles are refused'; END $$"
    ),
    "CREATE TRIGGER refuse_bundles BEFORE INSERT ON bundles FOR EACH ROW EXECUTE FUNCTION refuse_bundles()",
)


@pytest.fixture
async def bundles_refused(database: Database) -> AsyncIterator[None]:
    """Every bundle insert fails in the database, until the test ends."""
    create = (_SQLITE_TRIGGER,) if database.is_sqlite else _POSTGRESQL_TRIGGER
    drop = (
        ("DROP TRIGGER refuse_bundles",)
        if database.is_sqlite
        else ("DROP TRIGGER refuse_bundles ON bundles", "DROP FUNCTION refuse_bundles()")
    )
    async with database.write_engine.begin() as connection:
        for statement in create:
            await connection.execute(text(statement))
    yield
    async with database.write_engine.begin() as connection:
        for statement in drop:
            await connection.execute(text(statement))


@pytest.fixture(params=[True, False], ids=["json", "console"])
def server_logs(request: pytest.FixtureRequest) -> Iterator[io.StringIO]:
    """What the server's log handler writes, set up as `compass serve` does (COMPASS_LOG_JSON true and false)."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    structlog_config = structlog.get_config()
    configure_logging(level="info", json=request.param)
    written = io.StringIO()
    for handler in root.handlers:
        if handler not in handlers and isinstance(handler, logging.StreamHandler):
            handler.setStream(written)
    yield written
    root.handlers[:] = handlers
    root.setLevel(level)
    structlog.configure(**structlog_config)


async def test_a_credential_refused_by_the_database_stays_out_of_the_logs(
    operator: Operator, bundles_refused: None, server_logs: io.StringIO
) -> None:
    # given
    application = await operator.query(REGISTER_APPLICATION % "secret-keeper")
    application_id = application["registerApplication"]["id"]

    # when
    codes = await operator.error_codes(
        ADD_BUNDLE, {"id": application_id, "password": SECRET, "secret": CLIENT_SECRET}
    )

    # then
    logs = server_logs.getvalue()
    assert codes == ["INTERNAL"]
    assert "graphql_unexpected_error" in logs  # the failure itself is logged, with its traceback
    assert "bundles are refused" in logs
    assert SECRET not in logs
    assert CLIENT_SECRET not in logs
