"""The `compass` command as an operator runs it: a fresh process, a data directory, SQLite by default."""

from __future__ import annotations

import asyncio
import sqlite3
import stat
import subprocess
import uuid
from importlib.metadata import version
from pathlib import Path

import jwt
import pytest

from compass import migrate
from credentials.audit.repository import audit_event
from credentials.models import SystemAuth
from director.models import Application, Runtime
from kernel.db import Database
from kernel.principal import ALL_SCOPES
from testing.databases import POSTGRES_URL, create_postgres_database, sqlite_url
from testing.ports import free_port, loopback_socket
from testing.served import COMPASS, run_command

TENANT = "acme"


def compass(data_dir: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """Runs `compass ARGS` with only the COMPASS_* variables given here (none leak in from the test run)."""
    return run_command(COMPASS, *args, COMPASS_DATA_DIR=str(data_dir), COMPASS_LOG_JSON="false", **env)


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("cli-data")


@pytest.fixture(scope="module")
def created(data_dir: Path) -> subprocess.CompletedProcess[str]:
    """`compass tenant create acme`, run once for the module."""
    return compass(data_dir, "tenant", "create", TENANT)


@pytest.fixture(scope="module")
def tenant_id(created: subprocess.CompletedProcess[str]) -> str:
    assert created.returncode == 0, created.stderr
    return created.stdout.strip()


@pytest.fixture(scope="module")
def issued(data_dir: Path, tenant_id: str) -> subprocess.CompletedProcess[str]:  # tenant_id: once acme exists
    """`compass token --tenant acme`, run once for the module."""
    return compass(data_dir, "token", "--tenant", TENANT)


def test_tenant_create_prints_a_uuid(created: subprocess.CompletedProcess[str]) -> None:
    assert created.returncode == 0, created.stderr
    assert str(uuid.UUID(created.stdout.strip())) == created.stdout.strip()


def test_tenant_list_shows_the_created_tenant(data_dir: Path, tenant_id: str) -> None:
    listed = compass(data_dir, "tenant", "list")

    assert listed.returncode == 0, listed.stderr
    assert f"{tenant_id}\t{TENANT}" in listed.stdout.splitlines()


@pytest.mark.usefixtures("tenant_id")
def test_creating_an_existing_tenant_fails_saying_it_exists(data_dir: Path) -> None:
    again = compass(data_dir, "tenant", "create", TENANT)

    assert again.returncode != 0
    assert "already exists" in again.stderr
    assert "Traceback" not in again.stderr


def test_token_carries_the_tenant_id_and_every_scope(
    issued: subprocess.CompletedProcess[str], tenant_id: str
) -> None:
    assert issued.returncode == 0, issued.stderr
    claims = jwt.decode(issued.stdout.strip(), options={"verify_signature": False})
    assert claims["tenant"] == tenant_id
    assert set(claims["scopes"].split()) == set(ALL_SCOPES)


def test_jwt_signing_key_is_readable_by_its_owner_only(
    data_dir: Path, issued: subprocess.CompletedProcess[str]
) -> None:
    assert issued.returncode == 0, issued.stderr

    mode = stat.S_IMODE((data_dir / "jwt-signing-key.pem").stat().st_mode)

    assert mode == 0o600


@pytest.mark.usefixtures("tenant_id")
def test_token_for_an_unknown_tenant_fails_naming_it(data_dir: Path) -> None:
    refused = compass(data_dir, "token", "--tenant", "nope")

    assert refused.returncode != 0
    assert "'nope'" in refused.stderr
    assert refused.stdout == ""


@pytest.mark.skipif(POSTGRES_URL is None, reason="COMPASS_TEST_POSTGRES_URL is not set")
def test_serve_refuses_a_postgresql_database_behind_the_migrations(tmp_path: Path) -> None:
    # given an empty PostgreSQL database, which serve never migrates by itself
    database_url = asyncio.run(create_postgres_database("compass_cli"))

    # when
    served = compass(tmp_path, "serve", COMPASS_DATABASE_URL=database_url, COMPASS_HTTP_PORT=str(free_port()))

    # then
    assert served.returncode != 0
    assert "compass migrate" in served.stderr


# --- refusals an operator can act on ------------------------------------------------------------------------


@pytest.mark.usefixtures("tenant_id")
def test_token_with_an_unknown_scope_names_the_valid_ones_plainly(data_dir: Path) -> None:
    refused = compass(data_dir, "token", "--tenant", TENANT, "--scopes", "bogus")

    assert refused.returncode == 2
    assert "'bogus'" in refused.stderr
    assert all(f"'{scope}'" in refused.stderr for scope in ALL_SCOPES)
    assert "<Scope" not in refused.stderr
    assert refused.stdout == ""


@pytest.mark.usefixtures("tenant_id")
@pytest.mark.parametrize("ttl", ["0", "-60"])
def test_token_with_a_lifetime_below_one_second_is_refused(data_dir: Path, ttl: str) -> None:
    refused = compass(data_dir, "token", "--tenant", TENANT, "--ttl", ttl)

    assert refused.returncode == 2
    assert "--ttl" in refused.stderr
    assert refused.stdout == ""


@pytest.mark.parametrize(
    "command",
    [
        ("token", "--tenant", TENANT),
        ("tenant", "list"),
        ("revoke", "--tenant", TENANT, "--runtime", "r-1"),
        ("audit",),
    ],
    ids=lambda command: command[0] if command[0] != "tenant" else "tenant list",
)
def test_a_command_that_uses_the_servers_database_creates_none_and_names_the_one_it_looked_for(
    tmp_path: Path, command: tuple[str, ...]
) -> None:
    # given a directory that is not the server's data directory
    elsewhere = tmp_path / "not-the-data-dir"

    # when
    refused = compass(elsewhere, *command)

    # then
    assert refused.returncode == 2
    assert str((elsewhere / "compass.db").resolve()) in refused.stderr
    assert "COMPASS_DATA_DIR" in refused.stderr
    assert "COMPASS_DATABASE_URL" in refused.stderr
    assert not elsewhere.exists()


@pytest.mark.usefixtures("tenant_id")
@pytest.mark.parametrize(
    "command",
    [("token", "--tenant", "nope"), ("revoke", "--tenant", "nope", "--runtime", "r-1")],
    ids=["token", "revoke"],
)
def test_an_unknown_tenant_is_reported_with_the_database_opened(data_dir: Path, command: tuple[str, ...]) -> None:
    refused = compass(data_dir, *command)

    assert refused.returncode == 1
    assert "'nope'" in refused.stderr
    assert str((data_dir / "compass.db").resolve()) in refused.stderr


@pytest.mark.usefixtures("tenant_id")
def test_audit_with_an_unknown_event_lists_the_known_ones(data_dir: Path) -> None:
    refused = compass(data_dir, "audit", "--event", "nosuch")

    assert refused.returncode == 2
    assert "'nosuch'" in refused.stderr
    assert "'token_issued'" in refused.stderr
    assert "'certificate_revoked'" in refused.stderr


async def _record_token_events(data_dir: Path, tenant_id: str) -> tuple[str, str, str, str]:
    """A runtime and an application of the tenant, each with a client id whose token was issued: the ids."""
    database = Database(f"sqlite+aiosqlite:///{(data_dir / 'compass.db').resolve()}")
    try:
        async with database.transaction() as session:
            runtime = Runtime(tenant_id=tenant_id, name=f"audited-{uuid.uuid4().hex[:8]}")
            application = Application(tenant_id=tenant_id, name=f"audited-{uuid.uuid4().hex[:8]}")
            session.add_all([runtime, application])
            await session.flush()
            runtime_auth = SystemAuth(tenant_id=tenant_id, runtime_id=runtime.id)
            application_auth = SystemAuth(tenant_id=tenant_id, application_id=application.id)
            session.add_all([runtime_auth, application_auth])
            await session.flush()
            for auth in (runtime_auth, application_auth):
                session.add(audit_event("token_issued", tenant_id=tenant_id, client_id=auth.id))
            return runtime.id, runtime_auth.id, application.id, application_auth.id
    finally:
        await database.dispose()


def test_audit_lines_name_the_runtime_or_application_behind_a_client_id(data_dir: Path, tenant_id: str) -> None:
    # given
    runtime_id, runtime_client, application_id, application_client = asyncio.run(
        _record_token_events(data_dir, tenant_id)
    )

    # when
    listed = compass(data_dir, "audit", "--event", "token_issued")

    # then
    assert listed.returncode == 0, listed.stderr
    lines = listed.stdout.splitlines()
    [runtime_line] = [line for line in lines if f"client={runtime_client}" in line]
    [application_line] = [line for line in lines if f"client={application_client}" in line]
    assert f"runtime={runtime_id}" in runtime_line.split()
    assert f"application={application_id}" in application_line.split()


# --- the command itself -------------------------------------------------------------------------------------


def test_version_prints_the_installed_version(tmp_path: Path) -> None:
    shown = compass(tmp_path, "--version")

    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.strip() == f"compass {version('pycompass')}"


@pytest.mark.parametrize("command", [("--help",), ("serve", "--help")], ids=["compass", "serve"])
def test_help_shows_no_value_type_after_a_flag(tmp_path: Path, command: tuple[str, ...]) -> None:
    shown = compass(tmp_path, *command)

    assert shown.returncode == 0, shown.stderr
    assert "--help" in shown.stdout
    assert "<bool>" not in shown.stdout


# Both listeners are bound by one loop whatever the number of workers (compass.server.bind_listeners): each
# listener and each way of serving is covered once (the first listener alone, the second after the first).
@pytest.mark.parametrize(("taken", "workers"), [("COMPASS_HTTP_PORT", "1"), ("COMPASS_HTTPS_PORT", "2")])
def test_serve_on_a_port_in_use_exits_with_one_clear_message(tmp_path: Path, taken: str, workers: str) -> None:
    # given a port that something else listens on
    with loopback_socket() as occupant:
        occupant.listen()
        port = occupant.getsockname()[1]
        ports = {"COMPASS_HTTP_PORT": str(free_port()), "COMPASS_HTTPS_PORT": str(free_port()), taken: str(port)}

        # when
        served = compass(tmp_path, "serve", "--workers", workers, **ports)

    # then
    assert served.returncode == 1
    assert f"127.0.0.1:{port}" in served.stderr
    assert taken in served.stderr
    assert "in use" in served.stderr
    output = served.stdout + served.stderr
    assert "Traceback" not in output
    assert "Task exception" not in output


@pytest.mark.parametrize("command", [("token", "--tenant", TENANT), ("tenant", "list"), ("migrate",)])
def test_a_database_that_cannot_be_reached_is_one_line_naming_it(tmp_path: Path, command: tuple[str, ...]) -> None:
    port = free_port()  # nothing listens there
    unreachable = f"postgresql+asyncpg://compass:hunter2@127.0.0.1:{port}/compass"

    refused = compass(tmp_path, *command, COMPASS_DATABASE_URL=unreachable)

    assert refused.returncode == 1
    assert "Traceback" not in refused.stderr + refused.stdout
    assert f"cannot reach the database postgresql+asyncpg://compass:***@127.0.0.1:{port}/compass" in refused.stderr
    assert "hunter2" not in refused.stderr + refused.stdout


async def _revision_of(url: str) -> str | None:
    database = Database(url)
    try:
        return await migrate.current_revision(database.engine)
    finally:
        await database.dispose()


def test_a_command_migrates_an_embedded_database_behind_the_newest_migration(tmp_path: Path) -> None:
    # given an embedded database one migration behind
    url = sqlite_url(tmp_path)
    migrate.upgrade(url, "0019")

    # when
    listed = compass(tmp_path, "tenant", "list")

    # then
    assert listed.returncode == 0, listed.stderr
    assert asyncio.run(_revision_of(url)) == migrate.HEAD_REVISION


def test_a_command_refuses_an_embedded_database_ahead_naming_its_revision(tmp_path: Path) -> None:
    # given an embedded database migrated by a newer pycompass (a revision this one does not know)
    url = sqlite_url(tmp_path)
    migrate.upgrade(url)
    with sqlite3.connect(tmp_path / "compass.db") as connection:
        connection.execute("UPDATE alembic_version SET version_num = '9999'")

    # when
    refused = compass(tmp_path, "tenant", "list")

    # then
    assert refused.returncode == 1
    assert "cannot be migrated" in refused.stderr
    assert "'9999'" in refused.stderr
    assert asyncio.run(_revision_of(url)) == "9999"
