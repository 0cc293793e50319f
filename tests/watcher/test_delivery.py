"""Delivery (watcher/delivery.py) from a real spool to a control plane over real mTLS (testing/control_plane.py):
in order, the v2 body with the runtime's certificate, retried while the control plane is down or failing, dropped
and counted when it refuses the event itself, and never lost before it was taken."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import REGISTRY

from dataplane.control_plane import ControlPlaneClient, ControlPlaneCredentials
from testing.control_plane import ClientCredentials, ControlPlaneStandIn, write_agent_state
from testing.waiting import wait_until, wait_until_blocking
from testing.watcher import ServedWatcher
from tests.connector.support import Harness
from tests.watcher.conftest import (
    MODULE,
    RUNTIME_CN,
    StartDeliverer,
    StartWatcher,
    connected_agent_state,
    watch_event,
)
from tests.watcher.test_admission import admission_review, application
from watcher.events import WatchEvent
from watcher.settings import WatcherSettings


def metric(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def failures(reason: str) -> float:
    return metric("compass_watcher_delivery_failures_total", reason=reason)


async def delivered(control_plane: ControlPlaneStandIn, count: int) -> list[bytes]:
    """The bodies the control plane took, once it took ``count`` (the test asserts the exact list)."""
    await wait_until(lambda: len(control_plane.delivered) >= count, what=f"{count} events delivered")
    return [request.body for request in control_plane.delivered]


def bodies(*names: str) -> list[bytes]:
    return [watch_event(name).body() for name in names]


async def test_events_are_posted_in_order_to_the_module_path_with_the_runtime_certificate(
    control_plane: ControlPlaneStandIn, start_deliverer: StartDeliverer
) -> None:
    before = metric("compass_watcher_events_delivered_total")
    running = await start_deliverer()

    await running.append("a", "b", "c")

    assert await delivered(control_plane, 3) == bodies("a", "b", "c")
    first = control_plane.delivered[0]
    assert first.method == "POST"
    assert first.path == f"/v2/{MODULE}/event"
    assert first.content_type == "application/json"
    assert first.common_name == RUNTIME_CN
    assert first.body == (
        b'{"watched":{"Namespace":"kyma-system","Name":"a"},"watchedGvk":'
        b'{"group":"applicationconnector.kyma-project.io","version":"v1alpha1","kind":"Application"}}'
    )
    await wait_until(lambda: running.spool.depth == 0, what="the spool emptied")
    assert metric("compass_watcher_events_delivered_total") - before == 3


async def test_events_spooled_before_the_deliverer_started_are_delivered_without_a_wake(
    control_plane: ControlPlaneStandIn, start_deliverer: StartDeliverer, watcher_settings: WatcherSettings
) -> None:
    first = await start_deliverer()
    await first.halt()
    for name in ("a", "b"):
        await first.spool.append(watch_event(name))

    await start_deliverer()  # the same spool directory, as after a restart

    assert await delivered(control_plane, 2) == bodies("a", "b")


async def test_while_the_control_plane_is_down_events_stay_spooled_and_arrive_in_order_once_it_is_back(
    control_plane: ControlPlaneStandIn, start_deliverer: StartDeliverer
) -> None:
    control_plane.stop()
    before = failures("unreachable")
    running = await start_deliverer()

    await running.append("a", "b", "c")
    await wait_until(lambda: failures("unreachable") - before >= 2, what="two failed attempts")
    assert running.spool.depth == 3

    control_plane.start()
    assert await delivered(control_plane, 3) == bodies("a", "b", "c")


@pytest.mark.parametrize("status", [500, 503, 429, 408])
async def test_an_event_answered_with_a_passing_failure_is_sent_again(
    status: int, control_plane: ControlPlaneStandIn, start_deliverer: StartDeliverer
) -> None:
    control_plane.answer(status, status)
    running = await start_deliverer()

    await running.append("a", "b")

    assert await delivered(control_plane, 2) == bodies("a", "b")
    assert [request.status for request in control_plane.received] == [status, status, 200, 200]
    assert [request.body for request in control_plane.received[:3]] == bodies("a", "a", "a")


@pytest.mark.parametrize("status", [400, 404, 413])
async def test_an_event_the_control_plane_refuses_as_wrong_is_dropped_and_counted(
    status: int, control_plane: ControlPlaneStandIn, start_deliverer: StartDeliverer
) -> None:
    before = metric("compass_watcher_events_rejected_total", code=str(status))
    control_plane.answer(status)
    running = await start_deliverer()

    await running.append("a", "b")

    assert await delivered(control_plane, 1) == bodies("b")
    assert [(request.body, request.status) for request in control_plane.received] == [
        (bodies("a")[0], status),
        (bodies("b")[0], 200),
    ]
    assert metric("compass_watcher_events_rejected_total", code=str(status)) - before == 1
    await wait_until(lambda: running.spool.depth == 0, what="the spool emptied")


async def test_a_refused_certificate_is_retried_and_the_renewed_one_is_used_once_the_agent_wrote_it(
    control_plane: ControlPlaneStandIn,
    start_deliverer: StartDeliverer,
    runtime_credentials: ClientCredentials,
    agent_state_dir: Path,
) -> None:
    control_plane.refuse(runtime_credentials)
    before = failures("refused")
    running = await start_deliverer()

    await running.append("a")
    await wait_until(lambda: failures("refused") - before >= 2, what="the certificate refused twice")
    assert running.spool.depth == 1

    renewed = control_plane.issue(RUNTIME_CN)
    write_agent_state(
        agent_state_dir, renewed, control_plane.ca_pem, f"{control_plane.base_url}/director/graphql"
    )

    assert await delivered(control_plane, 1) == bodies("a")
    assert {request.status for request in control_plane.received[:-1]} == {403}


async def test_without_the_agents_credentials_nothing_is_sent_and_once_written_they_are_used_at_once(
    tmp_path: Path,
    control_plane: ControlPlaneStandIn,
    start_deliverer: StartDeliverer,
    runtime_credentials: ClientCredentials,
) -> None:
    # given: a backoff of minutes (its first wait alone at least 30 s) while the agent has not connected
    state_dir = tmp_path / "not-yet-connected"
    before = failures("not_ready")
    running = await start_deliverer(state_dir=state_dir, retry_seconds=60.0, retry_cap_seconds=600.0)
    await running.append("a")
    await wait_until(lambda: failures("not_ready") - before >= 2, what="two attempts without credentials")
    assert running.deliverer.credentials.problem is not None
    assert control_plane.received == []

    # when
    connected_agent_state(state_dir, control_plane, runtime_credentials)

    # then: delivered within wait_until's default patience, far below the backoff
    assert await delivered(control_plane, 1) == bodies("a")
    assert running.deliverer.credentials.problem is None


@pytest.mark.parametrize(
    "director_url",
    [
        "https://[::1/director/graphql",
        "https://127.0.0.1:http/director/graphql",
        "https://127.0.0.1:65536/director",
    ],
)
async def test_a_director_url_that_is_no_url_leaves_delivery_waiting_for_the_agent_to_fix_it(
    director_url: str,
    tmp_path: Path,
    control_plane: ControlPlaneStandIn,
    start_deliverer: StartDeliverer,
    runtime_credentials: ClientCredentials,
) -> None:
    state_dir = tmp_path / "agent-misconfigured"
    write_agent_state(state_dir, runtime_credentials, control_plane.ca_pem, director_url)
    before = failures("not_ready")
    running = await start_deliverer(state_dir=state_dir)

    await running.append("a")
    await wait_until(lambda: failures("not_ready") - before >= 2, what="two attempts with the broken URL")
    assert running.deliverer.credentials.problem is not None
    assert "not an https URL" in running.deliverer.credentials.problem

    write_agent_state(
        state_dir, runtime_credentials, control_plane.ca_pem, f"{control_plane.base_url}/director/graphql"
    )
    assert await delivered(control_plane, 1) == bodies("a")


async def test_the_configured_control_plane_url_wins_over_the_agents_director_url(
    tmp_path: Path,
    control_plane: ControlPlaneStandIn,
    start_deliverer: StartDeliverer,
    runtime_credentials: ClientCredentials,
) -> None:
    state_dir = tmp_path / "agent-elsewhere"
    write_agent_state(
        state_dir, runtime_credentials, control_plane.ca_pem, "https://127.0.0.1:9/director/graphql"
    )
    running = await start_deliverer(state_dir=state_dir, control_plane_url=f"{control_plane.base_url}/")

    await running.append("a")

    assert await delivered(control_plane, 1) == bodies("a")


async def test_an_event_being_retried_when_the_deliverer_stops_is_delivered_after_a_restart(
    control_plane: ControlPlaneStandIn, start_deliverer: StartDeliverer
) -> None:
    control_plane.stop()
    before = failures("unreachable")
    first = await start_deliverer()
    await first.append("a", "b")
    await wait_until(lambda: failures("unreachable") > before, what="a failed attempt")
    await first.halt()
    assert first.spool.depth == 2

    control_plane.start()
    await start_deliverer()

    assert await delivered(control_plane, 2) == bodies("a", "b")


WATCH_EVENTS = """
query ($id: ID!) {
  runtime(id: $id) { watchEvents { module watched { namespace name } watchedGvk { group version kind } } }
}
"""


async def test_events_are_taken_by_a_real_server_and_listed_on_the_runtime(
    compass: Harness, tmp_path: Path, start_deliverer: StartDeliverer
) -> None:
    operator = await compass.operator()
    runtime = await compass.connect_runtime(operator)
    state_dir = tmp_path / "connected-agent"
    write_agent_state(
        state_dir,
        ClientCredentials(
            runtime.credentials.chain_file.read_bytes(), runtime.credentials.key_file.read_bytes()
        ),
        compass.ca.ca_pem.encode(),
        f"{compass.server.https_url}/director/graphql",
    )
    running = await start_deliverer(state_dir=state_dir)

    await running.append("a", "b")

    async def listed() -> list[dict[str, Any]]:
        data = await operator.query(WATCH_EVENTS, {"id": runtime.object_id})
        return list(data["runtime"]["watchEvents"])

    await wait_until(lambda: running.spool.depth == 0, what="both events delivered")
    gvk = {"group": "applicationconnector.kyma-project.io", "version": "v1alpha1", "kind": "Application"}
    assert await listed() == [  # newest first
        {"module": MODULE, "watched": {"namespace": "kyma-system", "name": name}, "watchedGvk": gvk}
        for name in ("b", "a")
    ]


def admit(watcher: ServedWatcher, name: str) -> str:
    """An Application created, as the API server reviews it with the watcher; the answer's message."""
    body = json.dumps(admission_review("CREATE", application(name), None)).encode()
    answer = watcher.post(f"/validate/{MODULE}", body)
    assert answer.status_code == 200
    return str(answer.json()["response"]["status"]["message"])


def served_metric(watcher: ServedWatcher, sample: str) -> float:
    """A sample of the served watcher's /metrics (``name{labels}`` as exposed), 0 when absent."""
    for line in watcher.metrics().splitlines():
        name, _, value = line.rpartition(" ")
        if name == sample:
            return float(value)
    return 0.0


def application_body(name: str) -> bytes:
    """The v2 body of an event about the (cluster-scoped) Application ``name``."""
    return WatchEvent(
        MODULE, "", name, "applicationconnector.kyma-project.io", "v1alpha1", "Application"
    ).body()


FAST_RETRY = {"retry_seconds": "0.05", "retry_cap_seconds": "0.2"}


def test_an_event_admitted_while_the_control_plane_is_down_is_delivered_after_a_sigkill_and_a_restart(
    tmp_path: Path, control_plane: ControlPlaneStandIn, watcher_factory: StartWatcher
) -> None:
    control_plane.stop()
    directory = tmp_path / "watcher"
    directory.mkdir()
    watcher = watcher_factory(directory=directory, **FAST_RETRY)

    assert admit(watcher, "shop") == "kcp request queued"
    wait_until_blocking(
        lambda: served_metric(watcher, 'compass_watcher_delivery_failures_total{reason="unreachable"}') >= 1,
        what="a failed delivery attempt",
    )
    watcher.process.kill()
    assert [event.name for event in watcher.spooled()] == ["shop"]

    control_plane.start()
    watcher_factory(directory=directory, **FAST_RETRY)

    wait_until_blocking(
        lambda: len(control_plane.delivered) >= 1, what="the event delivered after the restart"
    )
    assert [request.body for request in control_plane.delivered] == [application_body("shop")]


def test_a_full_spool_drops_the_oldest_event_and_the_metrics_show_it(
    control_plane: ControlPlaneStandIn, watcher_factory: StartWatcher
) -> None:
    control_plane.stop()
    watcher = watcher_factory(spool_max_events="2", **FAST_RETRY)

    for name in ("first", "second", "third"):
        assert admit(watcher, name) == "kcp request queued"

    assert served_metric(watcher, "compass_watcher_events_dropped_total") == 1
    assert [event.name for event in watcher.spooled()] == ["second", "third"]
    control_plane.start()
    wait_until_blocking(lambda: len(control_plane.delivered) >= 2, what="the kept events delivered")
    assert [request.body for request in control_plane.delivered] == [
        application_body("second"),
        application_body("third"),
    ]


@pytest.mark.parametrize("url", ["http://127.0.0.1:8080", "https://127.0.0.1:http", "https://:8443"])
def test_a_configured_control_plane_url_must_be_https(agent_state_dir: Path, url: str) -> None:
    with pytest.raises(ValueError, match="not an https URL"):
        ControlPlaneCredentials(agent_state_dir, url)


def test_a_director_url_that_is_not_https_leaves_the_credentials_not_ready(
    tmp_path: Path, control_plane: ControlPlaneStandIn, runtime_credentials: ClientCredentials
) -> None:
    write_agent_state(
        tmp_path, runtime_credentials, control_plane.ca_pem, "http://127.0.0.1:8080/director/graphql"
    )
    credentials = ControlPlaneCredentials(tmp_path)

    assert credentials.current() is None
    assert credentials.problem is not None
    assert "not an https URL" in credentials.problem


def test_a_key_that_is_not_the_certificates_is_not_used_until_the_pair_matches_again(
    agent_state_dir: Path, control_plane: ControlPlaneStandIn, runtime_credentials: ClientCredentials
) -> None:
    # What a read between the agent's renames of a renewed key and of its certificate finds.
    (agent_state_dir / "client.key").write_bytes(control_plane.issue(RUNTIME_CN).key_pem)
    credentials = ControlPlaneCredentials(agent_state_dir)
    assert credentials.current() is None

    (agent_state_dir / "client.key").write_bytes(runtime_credentials.key_pem)
    plane = credentials.current()
    assert plane is not None
    assert plane.base_url == control_plane.base_url
    assert plane.runtime_id == "runtime-1"


async def test_a_client_replaced_after_a_renewal_is_closed_only_once_its_request_is_done(
    control_plane: ControlPlaneStandIn, agent_state_dir: Path
) -> None:
    connection = ControlPlaneClient(ControlPlaneCredentials(agent_state_dir), timeout=10)
    current = await connection.current()
    assert current is not None
    plane, old = current
    async with old.stream("POST", f"{plane.base_url}/v2/{MODULE}/event", content=b"{}") as response:
        renewed = control_plane.issue(RUNTIME_CN)
        write_agent_state(
            agent_state_dir, renewed, control_plane.ca_pem, f"{control_plane.base_url}/director/graphql"
        )
        replaced = await connection.current()
        assert replaced is not None and replaced[1] is not old

        await response.aread()  # the old client still serves the request it started

        assert response.status_code == 200
        assert not old.is_closed
    await wait_until(lambda: old.is_closed, what="the replaced client closed")
    await connection.aclose()
