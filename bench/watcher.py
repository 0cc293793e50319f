"""Runtime Watcher benchmark: what an outage of the control plane does to the runtime's writes and to the spool.

It starts a real ``compass serve`` (SQLite, free loopback ports, ``COMPASS_WATCH_EVENTS_KEPT`` above what the bench
sends) with one runtime (bench/seed.py), gets the runtime's client certificate through the Connector as an agent's
first connection does (bench/certificates.py), and writes what a connected agent keeps into a temporary
``AGENT_STATE_DIR``: ``client.crt``, ``client.key``, ``ca.crt`` (the CA that signed the server's certificate) and
``management-plane.json`` naming the server's HTTPS listener. Then a real ``compass-watcher serve`` on that state
directory (testing/watcher.py), with retries from ``--retry-seconds`` doubling to ``--retry-cap-seconds``: the
defaults (1 s to 60 s) would make phase 3 measure mostly the backoff's last wait.

A load client process (``python -m bench.load_client bench.watcher:send_reviews``) sends the admission reviews as
the API server calls a webhook: ``POST /validate/compass-runtime-agent?timeout=3s`` over HTTPS, TLS 1.3, the
server verified against the watcher's published ``ca.crt`` for ``compass-watcher.kyma-system.svc``, one kept
connection per caller (warmed by a GET, answered 405, before the clock starts). Each review is the CREATE of a
distinct Application; each answer must be ``allowed`` with the review's uid and ``kcp request queued``.

1. control plane up: N reviews from C callers: answer latency p50/p99 and reviews/s (the baseline), and how long
   until the control plane holds all N (``compass_watcher_events_delivered_total`` and the spool's depth from
   ``/metrics``).
2. control plane down (``compass serve`` stopped): N more reviews, the same figures and their ratio to phase 1;
   the spool's depth from ``/metrics``, and its files (the admitted order: one file per event, by sequence).
3. control plane back (the same ports): seconds from its being ready until the spool is empty, events/s, and
   whether the control plane stored them in the admitted order (its ``watch_events`` rows by ``received_at``).
4. spool bound: a fresh watcher with ``WATCHER_SPOOL_MAX_EVENTS`` = M < N and the control plane down: N reviews,
   then the spool's depth and the dropped count from ``/metrics`` (M and N - M), whether the events kept are the
   newest (each caller's last ones: callers run side by side, so only each caller's own order is known), and,
   the control plane back, whether exactly those were delivered, in order.

Order and completeness are printed as ``yes`` or ``NO``; nothing asserts on time. tests/test_bench_watcher_smoke.py
keeps this code working.

    python bench/watcher.py [--events 500] [--spool-max 100] [--callers 4]
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import ssl
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    # `python bench/watcher.py`: make `bench`, `testing` and the server's packages importable from the root.
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import select

from bench import common
from bench.certificates import connect_runtime
from bench.common import log, ms, percentile, ratio
from bench.seed import Seeded, seed_runtime
from director.watcher.models import WatchEvent as StoredEvent
from kernel.db import Database
from testing.control_plane import ClientCredentials, write_agent_state
from testing.databases import temporary_workspace
from testing.processes import cpu_seconds
from testing.served import ServedCompass, operator_headers
from testing.waiting import wait_until
from testing.watcher import SERVICE_HOST, ServedWatcher, start_watcher

MODULE = "compass-runtime-agent"
GROUP, VERSION, KIND, RESOURCE = (
    "applicationconnector.kyma-project.io",
    "v1alpha1",
    "Application",
    "applications",
)
MANAGED_BY = {"applicationconnector.kyma-project.io/managed-by": "compass-runtime-agent"}
QUEUED = "kcp request queued"
DRAIN_PATIENCE_SECONDS = 300.0
# The metrics read from the watcher's /metrics (Prometheus sample names).
SPOOL_DEPTH = "compass_watcher_spool_events"
DROPPED = "compass_watcher_events_dropped_total"
DELIVERED = "compass_watcher_events_delivered_total"
FAILURES = "compass_watcher_delivery_failures_total"

ADMISSION_HEADER = "admission                        reviews   reviews/s    p50 ms    p99 ms   reviews/s ÷ 1   p50 ÷ 1   p99 ÷ 1"


# --- the load client (its own process) ---------------------------------------------------------------------


def admission_review(name: str, uid: str) -> dict[str, Any]:
    """The ``admission.k8s.io/v1`` AdmissionReview the API server sends for the CREATE of an Application the
    agent manages (``k8s.io/api`` ``admission/v1``: omitempty fields left out)."""
    kind = {"group": GROUP, "version": VERSION, "kind": KIND}
    resource = {"group": GROUP, "version": VERSION, "resource": RESOURCE}
    created = {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": KIND,
        "metadata": {
            "name": name,
            "uid": str(uuid.uuid4()),
            "resourceVersion": "1",
            "generation": 1,
            "creationTimestamp": "2026-12-07T10:00:00Z",
            "labels": MANAGED_BY,
        },
        "spec": {"description": f"bench application {name}", "skipInstallation": False, "services": []},
    }
    request = {
        "uid": uid,
        "kind": kind,
        "resource": resource,
        "requestKind": kind,
        "requestResource": resource,
        "name": name,
        "operation": "CREATE",
        "userInfo": {
            "username": "system:serviceaccount:kyma-system:compass-runtime-agent",
            "groups": [
                "system:serviceaccounts",
                "system:serviceaccounts:kyma-system",
                "system:authenticated",
            ],
        },
        "object": created,
        "oldObject": None,
        "dryRun": False,
        "options": {"kind": "CreateOptions", "apiVersion": "meta.k8s.io/v1"},
    }
    return {"kind": "AdmissionReview", "apiVersion": "admission.k8s.io/v1", "request": request}


def _check_answer(response: httpx.Response, uid: str) -> None:
    """A review the watcher did not queue would make the figures about something else."""
    answer = response.json().get("response") if response.status_code == 200 else None
    message = (answer or {}).get("status", {}).get("message")
    if not answer or answer.get("uid") != uid or answer.get("allowed") is not True or message != QUEUED:
        raise RuntimeError(
            f"the webhook did not queue {uid}: HTTP {response.status_code} {response.text[:300]}"
        )


async def send_reviews(config: dict[str, Any]) -> dict[str, Any]:
    """The load client: ``names`` sent by ``callers`` side by side, each caller taking the next name when its
    previous review was answered. Returns every answer's latency, each caller's names in the order it sent
    them, the wall time from the first send to the last answer, and the TLS version of the connections."""
    names: list[str] = config["names"]
    bodies = {
        name: (uid := str(uuid.uuid4()), json.dumps(admission_review(name, uid)).encode()) for name in names
    }
    context = ssl.create_default_context(cadata=config["bundle"])
    context.minimum_version = ssl.TLSVersion.TLSv1_3
    url = f"{config['webhook_url']}/validate/{MODULE}"
    headers = {"Content-Type": "application/json", "Host": f"{SERVICE_HOST}:443"}
    extensions = {"sni_hostname": SERVICE_HOST}
    queue = list(reversed(names))
    latencies: list[float] = []
    sent: list[list[str]] = [[] for _ in range(config["callers"])]
    versions: set[str] = set()

    async def caller(index: int, client: httpx.AsyncClient) -> None:
        while queue:
            name = queue.pop()
            uid, body = bodies[name]
            started = time.perf_counter()
            response = await client.post(
                url, params={"timeout": "3s"}, content=body, headers=headers, extensions=extensions
            )
            latencies.append(time.perf_counter() - started)
            _check_answer(response, uid)
            sent[index].append(name)

    limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
    clients = [httpx.AsyncClient(verify=context, timeout=10, trust_env=False, limits=limits) for _ in sent]
    try:
        for client in clients:  # the connection and its handshake before the clock starts
            warm = await client.get(url, headers={"Host": f"{SERVICE_HOST}:443"}, extensions=extensions)
            if warm.status_code != 405:
                raise RuntimeError(f"the webhook answered GET with {warm.status_code}")
            tls = warm.extensions["network_stream"].get_extra_info("ssl_object")
            versions.add(str(tls.version()) if tls is not None else "none")
        started = time.perf_counter()
        await asyncio.gather(*(caller(index, client) for index, client in enumerate(clients)))
        wall = time.perf_counter() - started
    finally:
        for client in clients:
            await client.aclose()
    return {"latencies": latencies, "sent": sent, "wall": wall, "tls": sorted(versions)}


# --- the bench's side ---------------------------------------------------------------------------------------


@dataclass
class Admission:
    """One batch of reviews as the load client measured it."""

    latencies: list[float]
    sent: list[list[str]]  # per caller, in the order it sent them
    wall: float
    tls: list[str]

    @property
    def count(self) -> int:
        return len(self.latencies)

    @property
    def rate(self) -> float:
        return ratio(self.count, self.wall)

    @property
    def p50(self) -> float:
        return percentile(self.latencies, 0.50)

    @property
    def p99(self) -> float:
        return percentile(self.latencies, 0.99)


@dataclass
class Report:
    events: int
    callers: int
    spool_max: int
    retry: tuple[float, float]
    up: Admission
    up_drain: float  # from the first review until the control plane held every event
    up_after_last: float  # of which after the last answer
    up_complete: bool  # the control plane holds exactly the events sent
    up_order: bool  # each caller's events stored in the order it sent them
    down: Admission
    down_depth: float  # the spool's depth from /metrics after the outage's reviews
    down_failures: float  # delivery attempts that failed during the outage
    restart_seconds: float  # from starting `compass serve` again until it was ready
    back_drain: float  # from its being ready until the spool was empty
    back_span: float  # from the first to the last of those events stored (the server's received_at)
    back_order: bool  # stored in the order of the spool's files
    back_ties: int  # consecutive stored events with the same received_at
    back_cpu: dict[str, float]  # CPU seconds of each process during that drain, by command
    bounded: Admission
    bounded_depth: float
    bounded_dropped: float
    bounded_newest: bool
    bounded_drain: float
    bounded_order: bool


class Bench:
    """The control plane, the watcher and the runtime's state, and what the phases share."""

    def __init__(
        self, options: argparse.Namespace, workdir: Path, server: ServedCompass, database: Database
    ) -> None:
        self.options = options
        self.workdir = workdir
        self.server = server
        self.database = database
        self.state_dir = workdir / "agent"
        self.runtime_id = ""

    async def connect(self, seeded: Seeded) -> None:
        """The runtime's certificate through the Connector, and the agent's state directory around it."""
        self.runtime_id = seeded.runtime_id
        headers = operator_headers(self.server.settings, seeded.tenant_id)
        async with httpx.AsyncClient(base_url=self.server.http_url, timeout=60, trust_env=False) as client:
            certificate = await connect_runtime(client, headers, seeded.runtime_id, self.workdir)
        credentials = ClientCredentials(
            certificate.chain_file.read_bytes(), certificate.key_file.read_bytes()
        )
        director_url = f"{self.server.https_url}{common.DIRECTOR_PATH}"
        write_agent_state(self.state_dir, credentials, self.server.ca_file.read_bytes(), director_url)

    async def watcher(self, name: str, **settings: str) -> ServedWatcher:
        retry, cap = self.options.retry_seconds, self.options.retry_cap_seconds
        directory = self.workdir / name
        directory.mkdir()
        return await asyncio.to_thread(
            start_watcher,
            self.state_dir,
            directory,
            retry_seconds=str(retry),
            retry_cap_seconds=str(cap),
            **settings,
        )

    async def admit(self, watcher: ServedWatcher, prefix: str) -> Admission:
        names = [f"{prefix}-{index:06d}" for index in range(self.options.events)]
        config = {
            "names": names,
            "callers": self.options.callers,
            "bundle": watcher.bundle().decode("ascii"),
            "webhook_url": watcher.webhook_url,
        }
        result = await common.run_load_client("bench.watcher:send_reviews", config)
        return Admission(result["latencies"], result["sent"], result["wall"], result["tls"])

    async def stored(self, prefix: str) -> list[tuple[str, Any]]:
        """The control plane's stored events of this phase: (name, received_at), in the order it received them."""
        query = (
            select(StoredEvent.name, StoredEvent.received_at)
            .where(StoredEvent.runtime_id == self.runtime_id, StoredEvent.name.startswith(f"{prefix}-"))
            .order_by(StoredEvent.received_at)
        )
        async with self.database.transaction() as session:
            return [(name, received) for name, received in (await session.execute(query)).all()]

    async def stop_control_plane(self) -> None:
        await asyncio.to_thread(self.server.stop)

    async def start_control_plane(self) -> float:
        started = time.perf_counter()
        await self.server.restart()
        return time.perf_counter() - started


async def metrics(watcher: ServedWatcher) -> dict[str, float]:
    """Every sample of the watcher's /metrics, summed over labels."""
    async with httpx.AsyncClient(timeout=10, trust_env=False) as client:
        text = (await client.get(f"{watcher.api_url}/metrics")).text
    samples: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples[sample.name] = samples.get(sample.name, 0.0) + sample.value
    return samples


async def until_delivered(watcher: ServedWatcher, delivered: float) -> float:
    """Waits until the watcher has delivered ``delivered`` events in all and its spool is empty; returns
    ``time.perf_counter()`` when it saw so (polled every 10 ms)."""

    async def done() -> bool:
        figures = await metrics(watcher)
        return figures.get(DELIVERED, 0.0) >= delivered and figures.get(SPOOL_DEPTH, 1.0) == 0

    await wait_until(done, seconds=DRAIN_PATIENCE_SECONDS, what="the spool draining", every=0.01)
    return time.perf_counter()


def kept_in_caller_order(sent: list[list[str]], order: list[str]) -> bool:
    """``order`` holds each caller's names in the order that caller sent them."""
    position = {name: index for index, name in enumerate(order)}
    return all(
        [position[name] for name in names if name in position]
        == sorted(position[name] for name in names if name in position)
        for names in sent
    )


def newest_per_caller(sent: list[list[str]], kept: list[str]) -> bool:
    """What a bounded spool kept is, for each caller, the tail of what it sent (nothing older kept while
    something newer was dropped)."""
    held = set(kept)
    for names in sent:
        flags = [name in held for name in names]
        if flags != sorted(flags):  # False … False True … True
            return False
    return True


def ties(stored: list[tuple[str, Any]]) -> int:
    return sum(1 for before, after in itertools.pairwise(stored) if before[1] == after[1])


# --- the phases ---------------------------------------------------------------------------------------------


async def run(options: argparse.Namespace) -> Report:
    log("a migrated SQLite database and `compass serve`")
    async with temporary_workspace("sqlite", "compass-watcher-bench") as (workdir, url):
        database = Database(url)
        try:
            seeded = await seed_runtime(database)
            kept = str(4 * options.events + 100)  # every event the bench sends stays stored
            env = {"COMPASS_WATCH_EVENTS_KEPT": kept, "COMPASS_LOG_LEVEL": "warning"}
            server = ServedCompass(workdir / "data", url, env=env, log=workdir / "compass.log")
            await asyncio.to_thread(server.__enter__)
            try:
                bench = Bench(options, workdir, server, database)
                await bench.connect(seeded)
                return await phases(bench)
            finally:
                await asyncio.to_thread(server.stop)
        finally:
            await database.dispose()


async def phases(bench: Bench) -> Report:
    options = bench.options
    watcher = await bench.watcher("watcher")
    try:
        log("phase 1: control plane up")
        before = await metrics(watcher)
        first = time.perf_counter()
        up = await bench.admit(watcher, "up")
        last_answer = first + up.wall
        delivered_at = await until_delivered(watcher, before.get(DELIVERED, 0.0) + options.events)
        stored_up = [name for name, _ in await bench.stored("up")]

        log("phase 2: control plane down")
        await bench.stop_control_plane()
        before_outage = await metrics(watcher)
        down = await bench.admit(watcher, "down")
        during = await metrics(watcher)
        admitted = [event.name for event in await asyncio.to_thread(watcher.spooled)]

        log("phase 3: control plane back")
        restart = await bench.start_control_plane()
        pids = {"compass serve": bench.server.pid, "compass-watcher serve": watcher.process.pid}
        cpu = {command: cpu_seconds(pid) for command, pid in pids.items()}
        ready = time.perf_counter()
        drained = await until_delivered(watcher, during.get(DELIVERED, 0.0) + options.events)
        drain_cpu = {command: cpu_seconds(pid) - cpu[command] for command, pid in pids.items()}
        stored_back = await bench.stored("down")
    finally:
        await asyncio.to_thread(watcher.process.stop)

    log(f"phase 4: a watcher with WATCHER_SPOOL_MAX_EVENTS={options.spool_max}, control plane down")
    bounded_watcher = await bench.watcher("bounded", spool_max_events=str(options.spool_max))
    try:
        await bench.stop_control_plane()
        bounded = await bench.admit(bounded_watcher, "bounded")
        bounded_figures = await metrics(bounded_watcher)
        kept = [event.name for event in await asyncio.to_thread(bounded_watcher.spooled)]
        await bench.start_control_plane()
        back = time.perf_counter()
        bounded_drained = await until_delivered(
            bounded_watcher, bounded_figures.get(DELIVERED, 0.0) + len(kept)
        )
        stored_bounded = [name for name, _ in await bench.stored("bounded")]
    finally:
        await asyncio.to_thread(bounded_watcher.process.stop)

    back_names = [name for name, _ in stored_back]
    span = (stored_back[-1][1] - stored_back[0][1]).total_seconds() if len(stored_back) > 1 else float("nan")
    return Report(
        events=options.events,
        callers=options.callers,
        spool_max=options.spool_max,
        retry=(options.retry_seconds, options.retry_cap_seconds),
        up=up,
        up_drain=delivered_at - first,
        up_after_last=delivered_at - last_answer,
        up_complete=sorted(stored_up) == sorted(name for names in up.sent for name in names),
        up_order=kept_in_caller_order(up.sent, stored_up),
        down=down,
        down_depth=during.get(SPOOL_DEPTH, float("nan")),
        down_failures=during.get(FAILURES, 0.0) - before_outage.get(FAILURES, 0.0),
        restart_seconds=restart,
        back_drain=drained - ready,
        back_span=span,
        back_order=back_names == admitted and len(admitted) == options.events,
        back_ties=ties(stored_back),
        back_cpu=drain_cpu,
        bounded=bounded,
        bounded_depth=bounded_figures.get(SPOOL_DEPTH, float("nan")),
        bounded_dropped=bounded_figures.get(DROPPED, float("nan")),
        bounded_newest=len(kept) == options.spool_max and newest_per_caller(bounded.sent, kept),
        bounded_drain=bounded_drained - back,
        bounded_order=stored_bounded == kept,
    )


# --- printing -----------------------------------------------------------------------------------------------


def yes(value: bool) -> str:
    return "yes" if value else "NO"


def admission_row(title: str, figures: Admission, baseline: Admission) -> str:
    return (
        f"{title:<32} {figures.count:7d} {figures.rate:11.1f} {ms(figures.p50, 9)} {ms(figures.p99, 9)}"
        f" {ratio(figures.rate, baseline.rate):15.2f} {ratio(figures.p50, baseline.p50):9.2f}"
        f" {ratio(figures.p99, baseline.p99):9.2f}"
    )


def print_report(report: Report, _options: argparse.Namespace) -> None:
    n, m = report.events, report.spool_max
    retry, cap = report.retry
    print(
        f"Runtime Watcher benchmark: N = {n} admission reviews per phase (CREATE of distinct Applications), "
        f"{report.callers} callers side by side, each on one kept HTTPS connection ({', '.join(report.up.tls)}), "
        f"as the API server calls the webhook"
    )
    print(
        "control plane: a real `compass serve` (SQLite), the runtime's certificate from its Connector; "
        f"one `compass-watcher serve` process, retries {retry:g} s doubling to {cap:g} s; "
        f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs"
    )
    print()
    print(
        "admission answers (in 1 the reviews share the CPUs with the delivery and with the control plane "
        "storing the events; in 2 and 4 with neither):"
    )
    print(ADMISSION_HEADER)
    print(admission_row("1. control plane up", report.up, report.up))
    print(admission_row("2. control plane down", report.down, report.up))
    print(admission_row(f"4. down, spool bound M = {m}", report.bounded, report.up))
    print()
    print("1. control plane up:")
    print(
        f"   all {n} delivered {report.up_drain:.2f} s after the first review, {report.up_after_last:.2f} s after "
        f"the last answer ({ratio(n, report.up_drain):.0f} events/s end to end)"
    )
    print(f"   the control plane holds exactly the events admitted: {yes(report.up_complete)}")
    print(f"   each caller's events stored in the order it sent them: {yes(report.up_order)}")
    print()
    print("2. control plane down:")
    print(f"   reviews/s ÷ phase 1: {ratio(report.down.rate, report.up.rate):.2f}")
    print(f"   spool depth (/metrics {SPOOL_DEPTH}): {report.down_depth:.0f} of {n}")
    print(f"   delivery attempts failed meanwhile (/metrics {FAILURES}): {report.down_failures:.0f}")
    print()
    print("3. control plane back:")
    print(f"   `compass serve` ready again {report.restart_seconds:.2f} s after it was started (same ports)")
    print(
        f"   spool empty {report.back_drain:.2f} s after the control plane was ready "
        f"({ratio(n, report.back_drain):.0f} events/s; the first retry may wait up to {cap:g} s)"
    )
    print(
        f"   first to last event stored by the control plane: {report.back_span:.2f} s "
        f"({ratio(n - 1, report.back_span):.0f} events/s delivered)"
    )
    cpu = ", ".join(
        f"{command} {seconds / n * 1000:.2f} ms ({ratio(seconds, report.back_drain) * 100:.0f} % of a CPU)"
        for command, seconds in report.back_cpu.items()
    )
    print(f"   CPU per event delivered, and how busy each process was meanwhile (/proc): {cpu}")
    print(
        f"   stored in the order admitted (the spool's files, oldest first): {yes(report.back_order)}"
        f" ({report.back_ties} ties in received_at)"
    )
    print()
    print(f"4. spool bound: WATCHER_SPOOL_MAX_EVENTS = {m}, an outage of {n} events:")
    print(f"   kept {report.bounded_depth:.0f} (/metrics {SPOOL_DEPTH}), expected {m}")
    print(f"   dropped {report.bounded_dropped:.0f} (/metrics {DROPPED}), expected {n - m}")
    print(f"   the kept events are the newest (each caller's last ones): {yes(report.bounded_newest)}")
    print(
        f"   the control plane back: exactly those delivered, in order: {yes(report.bounded_order)}, "
        f"spool empty {report.bounded_drain:.2f} s after it was ready"
    )


def parse_options(argv: list[str]) -> argparse.Namespace:
    arguments = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    arguments.add_argument("--events", type=int, default=500, help="N: admission reviews per phase (500)")
    arguments.add_argument("--spool-max", type=int, default=100, help="M: the spool's bound in phase 4 (100)")
    arguments.add_argument(
        "--callers", type=int, default=4, help="callers side by side, one connection each (4)"
    )
    arguments.add_argument("--retry-seconds", type=float, default=0.05, help="WATCHER_RETRY_SECONDS (0.05)")
    arguments.add_argument(
        "--retry-cap-seconds", type=float, default=0.5, help="WATCHER_RETRY_CAP_SECONDS (0.5)"
    )
    options = arguments.parse_args(argv)
    if options.callers < 1 or options.events < options.callers:
        arguments.error("--events must be at least --callers, and --callers at least 1")
    if not 0 < options.spool_max < options.events:
        arguments.error("--spool-max must be between 1 and --events - 1")
    if min(options.retry_seconds, options.retry_cap_seconds) <= 0:
        arguments.error("the retry delays must be positive")
    return options


def main(argv: list[str] | None = None) -> None:
    common.bench_main(sys.argv[1:] if argv is None else argv, parse_options, run, print_report)


if __name__ == "__main__":
    main()
