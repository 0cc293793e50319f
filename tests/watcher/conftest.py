"""Fixtures of the watcher's tests: a stand-in control plane over mTLS, the agent's state directory pointing at it,
the watcher's settings beside it, and a spool with its deliverer running in the test's event loop."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from dataplane.control_plane import ControlPlaneCredentials
from testing.control_plane import ClientCredentials, ControlPlaneStandIn, write_agent_state
from testing.watcher import ServedWatcher, SilentListener, start_watcher
from watcher.delivery import Deliverer
from watcher.events import WatchEvent
from watcher.settings import WatcherSettings
from watcher.spool import Spool

RUNTIME_CN = "runtime-1"
MODULE = "compass-runtime-agent"


def watch_event(name: str, module: str = MODULE) -> WatchEvent:
    return WatchEvent(module, "kyma-system", name, "applicationconnector.kyma-project.io", "v1alpha1", "Application")


@pytest.fixture
def control_plane(tmp_path: Path) -> Iterator[ControlPlaneStandIn]:
    with ControlPlaneStandIn(tmp_path / "control-plane") as stand_in:
        yield stand_in


@pytest.fixture
def runtime_credentials(control_plane: ControlPlaneStandIn) -> ClientCredentials:
    return control_plane.issue(RUNTIME_CN)


def connected_agent_state(
    directory: Path, control_plane: ControlPlaneStandIn, credentials: ClientCredentials
) -> Path:
    """What a connected agent keeps: a certificate of the control plane's CA and the control plane's URLs."""
    write_agent_state(
        directory, credentials, control_plane.ca_pem, f"{control_plane.base_url}/director/graphql"
    )
    return directory


@pytest.fixture
def agent_state_dir(
    tmp_path: Path, control_plane: ControlPlaneStandIn, runtime_credentials: ClientCredentials
) -> Path:
    return connected_agent_state(tmp_path / "agent", control_plane, runtime_credentials)


@pytest.fixture
def watcher_settings(tmp_path: Path, agent_state_dir: Path) -> WatcherSettings:
    """Retries within a test's patience: 20 ms doubling to 200 ms."""
    return WatcherSettings(
        state_dir=agent_state_dir, spool_dir=tmp_path / "spool", retry_seconds=0.02, retry_cap_seconds=0.2
    )


@dataclass
class RunningDeliverer:
    spool: Spool
    deliverer: Deliverer
    stop: asyncio.Event
    task: asyncio.Task[None]

    async def append(self, *names: str) -> None:
        """Spools the events as the webhook does, and wakes the deliverer."""
        for name in names:
            await self.spool.append(watch_event(name))
            self.deliverer.wake()

    async def halt(self) -> None:
        self.stop.set()
        await self.task


StartDeliverer = Callable[..., Awaitable[RunningDeliverer]]


@pytest.fixture
async def start_deliverer(watcher_settings: WatcherSettings) -> AsyncIterator[StartDeliverer]:
    """Opens the spool of the settings (``watcher_settings`` updated by the given ones) and runs a deliverer."""
    running: list[RunningDeliverer] = []

    async def start(**overrides: object) -> RunningDeliverer:
        settings = watcher_settings.model_copy(update=overrides)
        spool = Spool(settings.spool_dir, settings.spool_max_events)
        credentials = ControlPlaneCredentials(settings.state_dir, settings.control_plane_url)
        deliverer = Deliverer(spool, credentials, settings)
        stop = asyncio.Event()
        task = asyncio.create_task(deliverer.run(stop), name="watcher-delivery")
        running.append(RunningDeliverer(spool, deliverer, stop, task))
        return running[-1]

    yield start
    for deliverer in running:
        await deliverer.halt()


StartWatcher = Callable[..., ServedWatcher]


@pytest.fixture
def silent_control_plane() -> Iterator[SilentListener]:
    """A control plane that accepts connections and never answers."""
    with SilentListener() as listener:
        yield listener


@pytest.fixture
def watcher_factory(
    tmp_path_factory: pytest.TempPathFactory, agent_state_dir: Path
) -> Iterator[StartWatcher]:
    """Starts `compass-watcher serve` with the agent's state of ``agent_state_dir`` and WATCHER_* settings beyond
    the defaults (``directory``: where its certificates, spool and log go, for a restart); each is stopped at the
    end of the test."""
    started: list[ServedWatcher] = []

    def start(*, directory: Path | None = None, **settings: str) -> ServedWatcher:
        served = start_watcher(agent_state_dir, directory or tmp_path_factory.mktemp("watcher"), **settings)
        started.append(served)
        return served

    yield start
    for served in started:
        served.process.stop()
