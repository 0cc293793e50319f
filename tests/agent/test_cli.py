"""`compass-agent` as an operator runs it: a fresh process configured by the environment and a Secret-like
directory, against a real server."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import time
from pathlib import Path

from agent.status import ConnectionState
from tests.agent.conftest import AGENT_VARIABLES, COMPASS_AGENT, Landscape


def compass_agent(environment: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 - our own entry point, fixed arguments
        [str(COMPASS_AGENT), *args], env=environment, capture_output=True, text=True, timeout=60, check=False
    )


async def run_agent(landscape: Landscape, *args: str, **environment: str) -> subprocess.CompletedProcess[str]:
    return await asyncio.to_thread(compass_agent, landscape.environment(**environment), *args)


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


def test_sync_without_once_is_a_usage_error(tmp_path: Path) -> None:
    done = compass_agent(bare_environment(tmp_path), "sync")

    assert done.returncode == 2
    assert "--once" in done.stderr


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


async def wait_for(condition: object, *, seconds: float = 20) -> None:
    deadline = time.monotonic() + seconds
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, "the condition did not come true in time"
        await asyncio.sleep(0.05)


async def test_run_keeps_syncing_until_sigterm(landscape: Landscape) -> None:
    # given
    await landscape.application("shop")
    process = subprocess.Popen(  # noqa: S603 - our own entry point
        [str(COMPASS_AGENT), "run"],
        env=landscape.environment(AGENT_SYNC_PERIOD="0.2"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        await wait_for(lambda: "application-mp-shop.yaml" in landscape.manifests())

        # when
        await landscape.application("billing")
        await wait_for(lambda: "application-mp-billing.yaml" in landscape.manifests())
        process.send_signal(signal.SIGTERM)
        _, stderr = await asyncio.to_thread(process.communicate, timeout=20)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()

    # then
    assert process.returncode == 0, stderr
    assert "agent_stopped" in stderr
