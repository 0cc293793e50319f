"""`compass-agent` as an operator runs it: a fresh process configured by the environment and a Secret-like
directory, against a real server."""

from __future__ import annotations

import asyncio
import json
import os
import signal
from importlib.metadata import version
from pathlib import Path

import pytest

from agent.status import ConnectionState
from testing.waiting import wait_until
from tests.agent.support import AGENT_VARIABLES, COMPASS_AGENT, Landscape, compass_agent, run_agent


def bare_environment(tmp_path: Path, **extra: str) -> dict[str, str]:
    clean = {
        name: value
        for name, value in os.environ.items()
        if name not in AGENT_VARIABLES and not name.startswith("AGENT_")
    }
    return {**clean, "AGENT_STATE_DIR": str(tmp_path / "state"), "AGENT_LOG_JSON": "false", **extra}


async def test_sync_once_connects_prints_the_creates_and_applies_them(landscape: Landscape) -> None:
    # given
    await landscape.application("shop")

    # when
    done = await run_agent(landscape, "sync", "--once")

    # then
    assert done.returncode == 0, done.stderr
    assert "create Application/mp-shop" in done.stdout.splitlines()
    assert list(landscape.manifests()) == ["application-mp-shop.yaml"]
    record = await landscape.record()
    assert record is not None and record.state is ConnectionState.SYNCHRONIZED


async def test_sync_once_dry_run_prints_the_plan_and_writes_no_resource(landscape: Landscape) -> None:
    # given
    await landscape.application("shop")

    # when
    done = await run_agent(landscape, "sync", "--once", "--dry-run")

    # then
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert "create Application/mp-shop" in lines
    assert "would create 1" in lines[-1]
    assert landscape.manifests() == {}
    record = await landscape.record()
    # Connecting was needed, and is kept.
    assert record is not None and record.state is ConnectionState.CONNECTED


async def test_sync_once_exits_non_zero_with_the_reason_when_it_failed(landscape: Landscape) -> None:
    # given
    landscape.write_config(TOKEN="not-a-token")

    # when
    done = await run_agent(landscape, "sync", "--once")

    # then
    assert done.returncode == 1
    assert "sync failed: ConnectionFailed: INVALID_TOKEN" in done.stderr


def test_sync_dry_run_without_once_is_a_usage_error(tmp_path: Path) -> None:
    done = compass_agent(bare_environment(tmp_path), "sync", "--dry-run")

    assert done.returncode == 2
    assert "--once" in done.stderr


def test_an_invalid_setting_is_named_with_the_reason_and_no_link(tmp_path: Path) -> None:
    environment = bare_environment(tmp_path, AGENT_SYNC_PERIOD="soon", AGENT_SINK="s3")

    done = compass_agent(environment, "status")

    assert done.returncode == 2
    lines = done.stderr.splitlines()
    assert any(line.startswith("invalid setting AGENT_SYNC_PERIOD: ") for line in lines), done.stderr
    assert any(line.startswith("invalid setting AGENT_SINK: ") for line in lines), done.stderr
    assert "http" not in done.stderr
    assert "Traceback" not in done.stderr


def test_version_prints_the_installed_version(tmp_path: Path) -> None:
    done = compass_agent(bare_environment(tmp_path), "--version")

    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"compass-agent {version('pycompass')}"


@pytest.mark.parametrize("command", [("--help",), ("sync", "--help")], ids=["compass-agent", "sync"])
def test_help_shows_no_value_type_after_a_flag(tmp_path: Path, command: tuple[str, ...]) -> None:
    done = compass_agent(bare_environment(tmp_path), *command)

    assert done.returncode == 0, done.stderr
    assert "--help" in done.stdout
    assert "<bool>" not in done.stdout


def test_missing_connection_settings_are_named(tmp_path: Path) -> None:
    done = compass_agent(bare_environment(tmp_path, RUNTIME_ID="runtime-1"), "sync", "--once")

    assert done.returncode == 2
    assert "CONNECTOR_URL" in done.stderr


def test_status_without_a_connection_record_exits_1(tmp_path: Path) -> None:
    done = compass_agent(bare_environment(tmp_path), "status")

    assert done.returncode == 1
    assert "no CompassConnection" in done.stderr


async def test_status_prints_the_connection_status(landscape: Landscape) -> None:
    # given
    await run_agent(landscape, "sync", "--once")

    # when
    text = await run_agent(landscape, "status")
    as_json = await run_agent(landscape, "status", "--json")

    # then
    assert text.returncode == 0, text.stderr
    assert "connectionState: Synchronized" in text.stdout.splitlines()
    manifest = json.loads(as_json.stdout)
    assert manifest["kind"] == "CompassConnection"
    assert manifest["status"]["connectionState"] == "Synchronized"


async def test_renew_gets_a_new_certificate(landscape: Landscape) -> None:
    # given
    await run_agent(landscape, "sync", "--once")
    before = landscape.credentials().load()

    # when
    done = await run_agent(landscape, "renew")

    # then
    assert done.returncode == 0, done.stderr
    after = landscape.credentials().load()
    assert before is not None and after is not None and after.serial != before.serial
    assert done.stdout.startswith("certificate valid until ")


@pytest.mark.parametrize("command", ["run", "sync"])
async def test_run_and_sync_without_once_keep_syncing_until_sigterm(
    landscape: Landscape, command: str
) -> None:
    # given
    await landscape.application("shop")
    process = await asyncio.create_subprocess_exec(
        str(COMPASS_AGENT),
        command,
        env=landscape.environment(AGENT_SYNC_PERIOD="0.2"),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        await wait_until(lambda: "application-mp-shop.yaml" in landscape.manifests(), what="shop's manifest")

        # when
        await landscape.application("billing")
        await wait_until(lambda: "application-mp-billing.yaml" in landscape.manifests(), what="its manifest")
        process.send_signal(signal.SIGTERM)
        _, stderr = await asyncio.wait_for(process.communicate(), timeout=20)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()

    # then
    assert process.returncode == 0, stderr.decode()
    assert b"agent_stopped" in stderr
