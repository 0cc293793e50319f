"""`make demo` run as a user runs it: ``python -m demo`` from the repository, in a process of its own, with its
temporary directory under this test's (TMPDIR), so that the processes it starts can be told by their
environment, which they all inherit."""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from testing.processes import with_environment

ROOT = Path(__file__).resolve().parent.parent
DEMO = [sys.executable, "-m", "demo"]
RUN_SECONDS = 180
STOP_SECONDS = 60
# Printed once the runtime's processes run: the server, the agent, the gateway and the event ingress.
RUNTIME_STARTED = "$ compass-events serve"


@dataclass(frozen=True)
class DemoRun:
    returncode: int
    output: str
    temporary: Path

    def proofs(self) -> list[str]:
        return [line.strip() for line in self.output.splitlines() if line.strip().startswith("proved:")]

    def line(self, starting: str) -> str:
        """The one output line that starts (once stripped) with ``starting``."""
        [found] = [line.strip() for line in self.output.splitlines() if line.strip().startswith(starting)]
        return found

    def outcome(self, starting: str) -> str:
        """What that line says the command or call gave (after its ``->``)."""
        return self.line(starting).split(" -> ", 1)[1]

    def url(self, starting: str) -> str:
        """The URL an outcome starts with (``$ compass-events serve -> https://127.0.0.1:PORT (…)``)."""
        return self.outcome(starting).split()[0].removesuffix(":")


def demo_environment(temporary: Path) -> dict[str, str]:
    return {**os.environ, "TMPDIR": str(temporary)}


def left_behind(temporary: Path) -> set[int]:
    """The processes the demo started (each inherits its TMPDIR) that still run."""
    return with_environment("TMPDIR", str(temporary))


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> DemoRun:
    temporary = tmp_path_factory.mktemp("demo")
    done = subprocess.run(
        DEMO,
        cwd=ROOT,
        env=demo_environment(temporary),
        capture_output=True,
        text=True,
        timeout=RUN_SECONDS,
        check=False,
    )
    return DemoRun(done.returncode, done.stdout + done.stderr, temporary)


def test_the_demo_exits_0_once_every_step_proved_what_it_claims(demo_run: DemoRun) -> None:
    assert demo_run.returncode == 0, demo_run.output
    assert "FAILED" not in demo_run.output
    assert "== 5/5 Summary: every step proved what it claims" in demo_run.output


def test_the_operator_is_served_with_the_jwt_compass_token_signed(demo_run: DemoRun) -> None:
    assert demo_run.outcome("{ viewer { id type } }") == '{"id": "operator", "type": "USER"}'


def test_the_agent_connects_the_runtime_and_labels_it_with_the_event_ingress(demo_run: DemoRun) -> None:
    proofs = demo_run.proofs()
    synced = "proved: the agent redeemed the token and synced: connectionState Synchronized, runtime CONNECTED"
    assert synced in proofs
    events_url = demo_run.url("$ compass-events serve")
    assert f"proved: the agent labelled the runtime runtime_eventServiceUrl = {events_url}" in proofs


def test_the_info_url_announces_the_runtimes_event_ingress_as_events_url(demo_run: DemoRun) -> None:
    events_url = demo_run.url("$ compass-events serve")
    assert f"proved: eventsUrl is the runtime's event ingress: {events_url}/mp-shop/v1/events" in demo_run.proofs()


def test_the_shop_gets_its_certificate_and_is_identified_by_it(demo_run: DemoRun) -> None:
    subject_cn = demo_run.line("shop: GET legacyConnectorURL").rsplit("CN=", 1)[1]
    assert demo_run.outcome("shop: POST csrUrl").startswith(f"201: certificate CN={subject_cn},")
    assert demo_run.outcome("shop: GET management/info") == 'clientIdentity {"application": "mp-shop"}'


def test_the_shops_service_becomes_a_bundle_with_its_api_and_event_definition(demo_run: DemoRun) -> None:
    shop_url = demo_run.url("$ python -m demo.shop")
    [proof] = [line for line in demo_run.proofs() if "the Director holds the service" in line]
    assert f'bundle "orders": API orders -> {shop_url}/api' in proof
    assert "event definition" in proof


def test_the_workload_gets_the_apis_answer_through_the_gateway(demo_run: DemoRun) -> None:
    gateway_url = demo_run.url("$ compass-gateway serve")
    assert demo_run.line("workload: GET").startswith(f"workload: GET {gateway_url}/mp-shop/orders/orders/orders/1001 ")
    answer = demo_run.outcome("workload: GET")
    assert answer.startswith('200 {"order":{"id":"1001"')
    assert answer.endswith('"servedTo":"shop-orders-client"}')


def test_the_subscriber_receives_the_shops_event(demo_run: DemoRun) -> None:
    delivered = demo_run.line("subscriber: POST /orders")
    assert "ce-type sap.kyma.custom.mpshop.order.created.v1, ce-source mp-shop" in delivered
    assert delivered.endswith('data {"orderId":"1003"}')


def test_the_demo_leaves_no_process_and_no_state_behind(demo_run: DemoRun) -> None:
    assert left_behind(demo_run.temporary) == set()
    assert list(demo_run.temporary.iterdir()) == []
    assert "stopped 5 processes" in demo_run.output


def read_until(process: subprocess.Popen[bytes], marker: str, seconds: float) -> str:
    """The demo's output up to the line holding ``marker``."""
    assert process.stdout is not None
    output = b""
    deadline = time.monotonic() + seconds
    while marker.encode() not in output:
        remaining = deadline - time.monotonic()
        assert remaining > 0, f"the demo did not print {marker!r} within {seconds} s:\n{output.decode()}"
        readable, _, _ = select.select([process.stdout], [], [], remaining)
        chunk = os.read(process.stdout.fileno(), 65536) if readable else b""
        assert chunk or not readable, f"the demo ended before printing {marker!r}:\n{output.decode()}"
        output += chunk
    return output.decode()


def test_ctrl_c_mid_run_stops_every_process_and_removes_the_state(tmp_path: Path) -> None:
    # given: the demo in a session of its own, as in a terminal, with its runtime's processes running
    demo = subprocess.Popen(
        DEMO, cwd=ROOT, env=demo_environment(tmp_path), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        before = read_until(demo, RUNTIME_STARTED, RUN_SECONDS)
        assert left_behind(tmp_path)

        # when: Ctrl-C, which the terminal sends to the foreground process group
        os.killpg(demo.pid, signal.SIGINT)
        rest, _ = demo.communicate(timeout=STOP_SECONDS)
    finally:
        if demo.poll() is None:
            os.killpg(demo.pid, signal.SIGKILL)
            demo.wait()
        for pid in left_behind(tmp_path):  # only when the demo failed to: the test must not leave them either
            os.kill(pid, signal.SIGKILL)

    # then
    output = before + rest.decode()
    assert demo.returncode == 128 + signal.SIGINT, output
    assert "interrupted by SIGINT: stopping everything" in output
    assert left_behind(tmp_path) == set()
    assert list(tmp_path.iterdir()) == []
