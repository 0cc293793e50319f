"""The `compass` command as an operator runs it: a fresh process, a data directory, SQLite by default."""

from __future__ import annotations

import asyncio
import os
import socket
import stat
import subprocess
import sys
import uuid
from pathlib import Path

import asyncpg
import jwt
import pytest
from sqlalchemy.engine import make_url

from kernel.principal import ALL_SCOPES

COMPASS = Path(sys.executable).with_name("compass")
POSTGRES_URL = os.environ.get("COMPASS_TEST_POSTGRES_URL")
TENANT = "acme"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def compass(data_dir: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """Runs `compass ARGS` with only the COMPASS_* variables given here (none leak in from the test run)."""
    clean = {name: value for name, value in os.environ.items() if not name.startswith("COMPASS_")}
    clean.update({"COMPASS_DATA_DIR": str(data_dir), "COMPASS_LOG_JSON": "false", **env})
    return subprocess.run(  # noqa: S603 - our own entry point, fixed arguments
        [str(COMPASS), *args], env=clean, capture_output=True, text=True, timeout=60, check=False
    )


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
def issued(data_dir: Path, tenant_id: str) -> subprocess.CompletedProcess[str]:
    """`compass token --tenant acme`, run once for the module."""
    return compass(data_dir, "token", "--tenant", TENANT)


def test_tenant_create_prints_a_uuid(created: subprocess.CompletedProcess[str]) -> None:
    assert created.returncode == 0, created.stderr
    assert str(uuid.UUID(created.stdout.strip())) == created.stdout.strip()


def test_tenant_list_shows_the_created_tenant(data_dir: Path, tenant_id: str) -> None:
    listed = compass(data_dir, "tenant", "list")

    assert listed.returncode == 0, listed.stderr
    assert f"{tenant_id}\t{TENANT}" in listed.stdout.splitlines()


def test_creating_an_existing_tenant_fails_saying_it_exists(data_dir: Path, tenant_id: str) -> None:
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


def test_token_for_an_unknown_tenant_fails_naming_it(data_dir: Path, tenant_id: str) -> None:
    refused = compass(data_dir, "token", "--tenant", "nope")

    assert refused.returncode != 0
    assert "'nope'" in refused.stderr
    assert refused.stdout == ""


async def _empty_postgres_database() -> str:
    assert POSTGRES_URL
    url = make_url(POSTGRES_URL)
    name = f"compass_cli_{uuid.uuid4().hex[:12]}"
    connection = await asyncpg.connect(
        host=url.host, port=url.port, user=url.username, password=url.password, database=url.database
    )
    try:
        await connection.execute(f'CREATE DATABASE "{name}"')
    finally:
        await connection.close()
    return url.set(database=name).render_as_string(hide_password=False)


@pytest.mark.skipif(POSTGRES_URL is None, reason="COMPASS_TEST_POSTGRES_URL is not set")
def test_serve_refuses_a_postgresql_database_behind_the_migrations(tmp_path: Path) -> None:
    # given an empty PostgreSQL database, which serve never migrates by itself
    database_url = asyncio.run(_empty_postgres_database())

    # when
    served = compass(tmp_path, "serve", COMPASS_DATABASE_URL=database_url, COMPASS_HTTP_PORT=str(_free_port()))

    # then
    assert served.returncode != 0
    assert "compass migrate" in served.stderr
