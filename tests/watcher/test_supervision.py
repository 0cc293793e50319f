"""The watcher's background tasks (delivery, certificate rotation) outlive an unexpected failure: each is started
again after ``RESTART_SECONDS``, so that a webhook that still answers never hides a delivery that died."""

from __future__ import annotations

import asyncio

import pytest
import structlog

from watcher import server
from watcher.server import Watcher
from watcher.settings import WatcherSettings


async def test_a_task_that_fails_unexpectedly_is_logged_and_started_again(
    watcher_settings: WatcherSettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given: a task that fails the first time it runs and ends normally the second
    monkeypatch.setattr(server, "RESTART_SECONDS", 0.01)
    runs: list[int] = []

    async def flaky() -> None:
        runs.append(len(runs))
        if len(runs) == 1:
            raise RuntimeError("a record the deliverer did not expect")

    # when
    with structlog.testing.capture_logs() as logs:
        await asyncio.wait_for(Watcher(watcher_settings)._supervised("delivery", flaky), timeout=30)

    # then
    assert runs == [0, 1]
    assert [(entry["event"], entry["task"]) for entry in logs] == [("watcher_task_failed", "delivery")]


async def test_a_failed_task_is_not_started_again_once_the_watcher_stops(
    watcher_settings: WatcherSettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given
    monkeypatch.setattr(server, "RESTART_SECONDS", 0.01)
    watcher = Watcher(watcher_settings)
    runs: list[int] = []

    async def failing_while_stopping() -> None:
        runs.append(len(runs))
        watcher._stopping.set()
        raise RuntimeError("failed as the watcher stopped")

    # when
    with structlog.testing.capture_logs():
        await asyncio.wait_for(watcher._supervised("delivery", failing_while_stopping), timeout=30)

    # then
    assert runs == [0]
