"""Events benchmark: legacy events sent by an application over mTLS keep-alive connections into one
``compass-events serve`` process, stored on its bus and delivered to a subscriber's sink, against a bare endpoint
that takes the same POSTs over the same TLS and does nothing, in the same run.

The application ``bench`` (its client id the CN of a certificate from a trustme CA, the CA the ingress trusts)
sends ``order.created`` v1; one Subscription takes them to a sink on this process's event loop (bench/sink.py).
Each event carries its send time in its data; the sink notes when it arrived. The load runs in a process of its
own (bench/load_client.py: aiohttp on uvloop). Per backend (embedded SQLite with durability on; NATS JetStream
when nats-server is installed) it prints:

- closed loop: events/s accepted, p50 and p99 of the acknowledgement, the ratio to the baseline's events/s,
  events/s delivered meanwhile, p50 and p99 from send to delivery, how long the sink took to receive the rest
  after the load stopped, and CPU per event of the events process (and of nats-server);
- open loop at ``--fixed-load`` × what the backend sustained: the same latencies below saturation;
- whether every accepted event was delivered, and the goal of issue 12 (accepted ≥ 0.3 × baseline, embedded);
  with ``--repeat N`` the two closed loops run N times in all, and the goal is judged on the median ratio (a
  shared machine moves one run's figures by a tenth either way).

bench/README.md says what each figure means. Nothing asserts on time; tests/test_bench_events_smoke.py keeps this
code working.

    python bench/events.py [--duration 5] [--backends embedded,nats] [--fixed-load 0.5] [--repeat 1]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import ssl
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    # `python bench/events.py`: make `bench` importable from the repository root.
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import aiohttp
import trustme

from bench.common import (
    OPEN_LOOP_CONNECTIONS,
    bench_main,
    closed_loop,
    log,
    ms,
    open_loop,
    percentile,
    ratio,
    run_load_client,
    verdict,
)
from bench.sink import BenchSink
from dataplane.tls import LOOPBACK_NAMES, ServingCertificate, serving_certificate
from testing.applications import Manifest, ManifestDirectory, application, event_entry, service
from testing.events import start_events
from testing.nats import NatsServer, nats_server_binary
from testing.ports import free_port
from testing.processes import cpu_seconds
from testing.served import ServedProcess
from testing.waiting import NotInTime, wait_until

APPLICATION = "bench"
CLIENT_ID = "bench-sender"  # the CN of the application's certificate, one of its clientIds
EVENT_TYPE, EVENT_VERSION = "order.created", "v1"
EVENT_TIME = "2026-01-01T00:00:00Z"
BACKENDS = ("embedded", "nats")
DURABILITY = {
    "embedded": "SQLite WAL, synchronous=FULL, one fsync per batch of concurrent appends",
    "nats": "JetStream file storage, acknowledged once the server wrote it",
}
THROUGHPUT_GOAL = 0.3  # accepted events/s ÷ the baseline's, embedded backend
DRAIN_STALL = 10.0  # seconds without a delivery after which the rest is counted as not delivered
PROBE_WAIT = 1.0  # seconds a probe event may take to reach the sink once the Subscription runs


# The application's side: what the load client process and the probe send -----------------------------------


def client_context(config: dict[str, Any]) -> ssl.SSLContext:
    """Trusts the listener's serving CA and presents the application's certificate."""
    context = ssl.create_default_context(cafile=config["serving_ca"])
    context.load_cert_chain(config["certificate"], config["key"])
    return context


def application_session(config: dict[str, Any], connections: int) -> aiohttp.ClientSession:
    connector = aiohttp.TCPConnector(limit=connections, ssl=client_context(config))
    return aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=60))


async def send_event(session: aiohttp.ClientSession, url: str) -> None:
    """One legacy event stamped with ``time.monotonic()`` (CLOCK_MONOTONIC, one clock for every process of the
    machine); anything but 200 raises."""
    data = {"sent": time.monotonic()}
    body = {
        "event-type": EVENT_TYPE,
        "event-type-version": EVENT_VERSION,
        "event-time": EVENT_TIME,
        "data": data,
    }
    async with session.post(url, json=body) as response:
        answer = await response.read()
    if response.status != 200:
        raise RuntimeError(f"{url} answered {response.status}: {answer[:300]!r}")


async def load_process(config: dict[str, Any]) -> dict[str, Any]:
    """The load client process's work: at a fixed ``rate``, or closed loop over ``concurrency`` connections;
    ``measure_from`` and ``finished``: when its measured window opened and its last answer came, on the clock
    the events are stamped with."""
    url, rate = config["url"], config.get("rate")
    concurrency, warmup, duration = config["concurrency"], config["warmup"], config["duration"]
    async with application_session(config, OPEN_LOOP_CONNECTIONS if rate else concurrency) as session:

        async def call() -> int:
            await send_event(session, url)
            return 1

        measure_from = time.monotonic() + warmup
        if rate:
            result = await open_loop(call, rate=rate, warmup=warmup, duration=duration)
        else:
            result = await closed_loop(
                call, concurrency=concurrency, min_count=concurrency, warmup=warmup, duration=duration
            )
        return {**result, "measure_from": measure_from, "finished": time.monotonic()}


async def run_client(config: dict[str, Any]) -> dict[str, Any]:
    return await run_load_client("bench.events:load_process", config)


# Certificates, manifests and servers ------------------------------------------------------------------------


@dataclass(frozen=True)
class Certificates:
    client_ca: Path  # what both servers verify client certificates against
    certificate: Path  # the application's, CN = CLIENT_ID
    key: Path
    serving: ServingCertificate  # both servers' own, made as compass-events makes it

    def client_config(self) -> dict[str, str]:
        return {
            "serving_ca": str(self.serving.ca),
            "certificate": str(self.certificate),
            "key": str(self.key),
        }


def certificates(directory: Path) -> Certificates:
    directory.mkdir()
    ca = trustme.CA()
    leaf = ca.issue_cert(common_name=CLIENT_ID)
    files = Certificates(
        directory / "client-ca.pem",
        directory / "application.pem",
        directory / "application-key.pem",
        serving_certificate(directory / "serving", LOOPBACK_NAMES),
    )
    ca.cert_pem.write_to_path(str(files.client_ca))
    leaf.cert_chain_pems[0].write_to_path(str(files.certificate))
    leaf.private_key_pem.write_to_path(str(files.key))
    return files


def manifests(sink_url: str) -> list[Manifest]:
    """The application (allowed to send ``order.created``) and a Subscription of its events to the sink."""
    subscription = {
        "apiVersion": "eventing.kyma-project.io/v1alpha2",
        "kind": "Subscription",
        "metadata": {"name": APPLICATION, "namespace": "default"},
        "spec": {"sink": sink_url, "source": APPLICATION, "types": [f"{EVENT_TYPE}.{EVENT_VERSION}"]},
    }
    events = service("events", event_entry(EVENT_TYPE))
    return [application(APPLICATION, events, client_ids=[CLIENT_ID]), subscription]


def baseline_server(workdir: Path, files: Certificates) -> tuple[ServedProcess, str]:
    """The bare endpoint (bench/events_baseline.py) and the URL events are sent to."""
    port, api_port = free_port(), free_port()
    tls = (files.serving.certificate, files.serving.key, files.client_ca)
    command = [sys.executable, "-m", "bench.events_baseline", str(port), str(api_port), *map(str, tls)]
    served = ServedProcess("events bench baseline", command, log=workdir / "baseline.log", http_port=api_port)
    return served, f"https://127.0.0.1:{port}/{APPLICATION}/v1/events"


@dataclass(frozen=True)
class Target:
    name: str  # baseline, embedded or nats
    url: str  # where the application POSTs its events
    pids: dict[str, int]  # whose CPU counts: "server", its "delivery" process, on NATS "bus" (nats-server)
    processes: tuple[ServedProcess, ...]
    sink: BenchSink | None  # where its events arrive; None: nowhere (the baseline)


@contextlib.asynccontextmanager
async def events_server(
    workdir: Path, files: Certificates, backend: str, sink: BenchSink
) -> AsyncIterator[Target]:
    """``compass-events serve`` on ``backend`` (its nats-server started first), stopped at the end."""
    with contextlib.ExitStack() as stack:
        settings = {"tls_cert_file": str(files.serving.certificate), "tls_key_file": str(files.serving.key)}
        pids: dict[str, int] = {}
        processes: list[ServedProcess] = []
        if backend == "nats":
            nats = stack.enter_context(NatsServer(workdir / "nats-store", log=workdir / "nats.log"))
            settings |= {"bus": "nats", "nats_url": nats.url}
            pids["bus"] = nats.pid
            processes.append(nats)
        served = start_events(
            workdir / "manifests",
            workdir / f"{backend}-data",
            files.client_ca,
            workdir / f"{backend}.log",
            **settings,
        )
        stack.callback(served.process.stop)
        pids["server"] = served.process.pid
        [pids["delivery"]] = served.process.children()  # serve is ready once its delivery process is
        url = f"{served.url}/{APPLICATION}/v1/events"
        try:
            yield Target(backend, url, pids, (served.process, *processes), sink)
        except BaseException:
            log(f"compass-events log:\n{served.process.log_tail()}")
            raise


async def prime(target: Target, files: Certificates) -> None:
    """Sends one event at a time until one reaches the sink: then the delivery runs the Subscription. It starts
    a Subscription at the log's head when it first sees it, so a probe not delivered within ``PROBE_WAIT`` was
    sent before and never will be: none is left to arrive during a measured run."""
    sink = target.sink
    assert sink is not None
    sink.reset()
    async with application_session(files.client_config(), 1) as session:

        async def delivered() -> bool:
            await send_event(session, target.url)
            with contextlib.suppress(NotInTime):
                await wait_until(lambda: sink.delivered_count > 0, seconds=PROBE_WAIT, every=0.01)
            return sink.delivered_count > 0

        await wait_until(delivered, seconds=60, every=0.0, what=f"{target.name}: a first event delivered")


# Measuring --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Load:
    """What the load client measured: events acknowledged (rate, p50, p99 of the answer)."""

    rate: float
    p50: float
    p99: float
    count: int  # events in the measured window
    requests: int  # every event it sent, warm-up included
    client_cpu: float  # share of one CPU
    wall: float
    measure_from: float  # time.monotonic() when the window opened
    finished: float  # and when the last answer came

    @property
    def window_end(self) -> float:
        return self.measure_from + (self.count / self.rate if self.rate else 0.0)


@dataclass(frozen=True)
class Delivered:
    """What the sink saw of one run's events."""

    count: int  # events it took, of the run's requests
    rate: float  # of those, per second, that arrived within the load's measured window
    p50: float  # from send to arrival, of the events sent within the window
    p99: float
    drain: float  # seconds from the load's last answer until the last arrival


@dataclass(frozen=True)
class Run:
    target: str
    load: Load
    delivered: Delivered | None  # None for the baseline
    cpu: dict[str, float]  # CPU seconds of each process over the load and the drain
    seconds: float  # how long the load client loaded the server and the drain took
    load_average: float  # 1-minute load average after the run: above the CPUs, other work competed

    def per_event(self, name: str) -> float:
        return (
            self.cpu[name] / self.load.requests if name in self.cpu and self.load.requests else float("nan")
        )

    def busy(self, name: str) -> float:
        return self.cpu[name] / self.seconds if name in self.cpu else float("nan")


async def drain(sink: BenchSink, expected: int) -> None:
    """Until the sink took ``expected`` events, or ``DRAIN_STALL`` seconds passed without one arriving."""
    seen, since = -1, time.monotonic()
    while (count := sink.delivered_count) < expected:
        now = time.monotonic()
        if count != seen:
            seen, since = count, now
        elif now - since > DRAIN_STALL:
            return
        await asyncio.sleep(0.01)


def delivered_figures(sink: BenchSink, load: Load) -> Delivered:
    arrivals = [(float(json.loads(body)["sent"]), at) for at, body in sink.arrivals]
    latencies = [at - sent for sent, at in arrivals if sent >= load.measure_from]
    window = load.window_end - load.measure_from
    in_window = sum(load.measure_from <= at <= load.window_end for _, at in arrivals)
    last = max((at for _, at in arrivals), default=load.finished)
    return Delivered(
        len(arrivals),
        in_window / window if window > 0 else float("nan"),
        percentile(latencies, 0.50),
        percentile(latencies, 0.99),
        max(0.0, last - load.finished),
    )


async def measure(target: Target, config: dict[str, Any]) -> Run:
    """One load client run against ``target``, then (with a sink) the wait for its events to arrive."""
    for process in target.processes:
        process.check_alive()
    if target.sink is not None:
        target.sink.reset()
    cpu_from = {name: cpu_seconds(pid) for name, pid in target.pids.items()}
    result = await run_client({**config, "url": target.url})
    load = Load(**{key: result[key] for key in Load.__dataclass_fields__})
    delivered = None
    if target.sink is not None:
        await drain(target.sink, load.requests)
        delivered = delivered_figures(target.sink, load)
    cpu = {name: cpu_seconds(pid) - cpu_from[name] for name, pid in target.pids.items()}
    seconds = load.wall + max(0.0, time.monotonic() - load.finished)
    return Run(target.name, load, delivered, cpu, seconds, os.getloadavg()[0])


@dataclass(frozen=True)
class Row:
    backend: str
    closed: Run
    fixed: Run | None  # open loop at --fixed-load × what the closed loop sustained


async def measure_baseline(workdir: Path, files: Certificates, options: argparse.Namespace) -> Run:
    baseline_process, baseline_url = baseline_server(workdir, files)
    with baseline_process:
        log("baseline: closed loop")
        target = Target("baseline", baseline_url, {"server": baseline_process.pid}, (baseline_process,), None)
        return await measure(target, load_config(files, options))


async def measure_backend(
    workdir: Path,
    files: Certificates,
    sink: BenchSink,
    backend: str,
    options: argparse.Namespace,
    *,
    open_loop: bool = True,
) -> Row:
    config = load_config(files, options)
    async with events_server(workdir, files, backend, sink) as target:
        await prime(target, files)
        log(f"{backend}: closed loop")
        closed = await measure(target, config)
        fixed = None
        if open_loop and options.fixed_load > 0 and closed.delivered is not None:
            sustained = min(closed.load.rate, closed.delivered.rate)
            rate = max(1.0, options.fixed_load * sustained)
            log(f"{backend}: open loop at {rate:.0f} events/s")
            fixed = await measure(target, {**config, "rate": rate})
    return Row(backend, closed, fixed)


def load_config(files: Certificates, options: argparse.Namespace) -> dict[str, Any]:
    return {
        **files.client_config(),
        "concurrency": options.concurrency,
        "warmup": options.warmup,
        "duration": options.duration,
    }


@dataclass(frozen=True)
class Round:
    """One more pair of closed loops (``--repeat``): the baseline's, then the embedded backend's."""

    baseline: Run
    embedded: Run


@dataclass
class Report:
    baseline: Run
    rows: list[Row]
    skipped: list[str]  # why a backend asked for was not measured
    rounds: list[Round]  # after the first, with --repeat

    def goal_ratios(self) -> list[float]:
        """Embedded accepted ÷ baseline, of every round; none when embedded was not measured."""
        embedded = next((row for row in self.rows if row.backend == "embedded"), None)
        if embedded is None:
            return []
        pairs = [(self.baseline, embedded.closed), *((more.baseline, more.embedded) for more in self.rounds)]
        return [ratio(measured.load.rate, baseline.load.rate) for baseline, measured in pairs]


async def run(options: argparse.Namespace) -> Report:
    with tempfile.TemporaryDirectory(prefix="events-bench-") as directory:
        async with BenchSink() as sink:
            return await _run(Path(directory), sink, options)


async def _run(workdir: Path, sink: BenchSink, options: argparse.Namespace) -> Report:
    files = certificates(workdir / "certificates")
    ManifestDirectory(workdir / "manifests").put(*manifests(sink.url))
    baseline = await measure_baseline(workdir, files, options)
    rows, skipped = [], []
    for backend in options.backends:
        if backend == "nats" and nats_server_binary() is None:
            skipped.append("nats: nats-server is not installed (scripts/install-nats.sh installs it)")
            continue
        rows.append(await measure_backend(workdir, files, sink, backend, options))
    rounds = []
    if "embedded" in options.backends:
        for number in range(2, options.repeat + 1):
            log(f"round {number} of {options.repeat}")
            again = await measure_baseline(workdir, files, options)
            embedded = await measure_backend(workdir, files, sink, "embedded", options, open_loop=False)
            rounds.append(Round(again, embedded.closed))
    return Report(baseline, rows, skipped, rounds)


# Printing ---------------------------------------------------------------------------------------------------


def _figure(value: float, width: int) -> str:
    """A number, or ``-`` where it does not apply (NaN)."""
    return f"{'-':>{width}}" if value != value else f"{value:{width}.0f}"  # noqa: PLR0124 - NaN test


CLOSED_HEADER = (
    "server   | accepted ev/s  p50 ms  p99 ms | ratio | delivered ev/s  send→sink p50 ms  p99 ms | drain s"
    " | CPU µs/event server delivery  bus | CPU % srv dlv bus cli | load"
)


def format_closed(run: Run, baseline: Run) -> str:
    load, delivered = run.load, run.delivered
    if delivered is None:
        delivery = f"{'-':>14} {'-':>16} {'-':>7} | {'-':>7}"
    else:
        delivery = (
            f"{delivered.rate:14.0f} {ms(delivered.p50, 16)} {ms(delivered.p99)} | {delivered.drain:7.2f}"
        )
    return (
        f"{run.target:<8} | {load.rate:13.0f} {ms(load.p50)} {ms(load.p99)} | {ratio(load.rate, baseline.load.rate):5.2f}"
        f" | {delivery} | {_figure(run.per_event('server') * 1e6, 19)} {_figure(run.per_event('delivery') * 1e6, 8)}"
        f" {_figure(run.per_event('bus') * 1e6, 4)} | {_figure(run.busy('server') * 100, 9)}"
        f" {_figure(run.busy('delivery') * 100, 3)} {_figure(run.busy('bus') * 100, 3)} {load.client_cpu * 100:3.0f}"
        f" | {run.load_average:4.1f}"
    )


ROUNDS_HEADER = (
    "closed loop again (--repeat), the baseline's and then the embedded backend's, on fresh servers:"
)
FIXED_HEADER = "server   | offered ev/s | accepted p50 ms  p99 ms | send→sink p50 ms  p99 ms"


def format_fixed(run: Run) -> str:
    load, delivered = run.load, run.delivered
    assert delivered is not None
    return (
        f"{run.target:<8} | {load.rate:12.0f} | {ms(load.p50, 15)} {ms(load.p99)} |"
        f" {ms(delivered.p50, 16)} {ms(delivered.p99)}"
    )


def _delivered_line(row: Row) -> str:
    runs = [("closed loop", row.closed), ("open loop", row.fixed)]
    parts = [
        f"{name} {run.delivered.count} of {run.load.requests}"
        for name, run in runs
        if run is not None and run.delivered is not None
    ]
    lost = sum(
        run.load.requests - run.delivered.count
        for _, run in runs
        if run is not None and run.delivered is not None
    )
    outcome = (
        "all delivered" if lost <= 0 else f"{lost} NOT delivered within {DRAIN_STALL:g} s of the last arrival"
    )
    return f"  {row.backend}: {', '.join(parts)} ({outcome})"


def _goal_line(report: Report) -> str:
    goal = f"accepted events/s ≥ {THROUGHPUT_GOAL:g} × baseline on the embedded backend, durability on"
    ratios = report.goal_ratios()
    if not ratios:
        return f"  {goal}: not measured (embedded is not in --backends)"
    if len(ratios) > 1:
        goal += f", median of {len(ratios)} rounds ({' '.join(f'{value:.2f}' for value in ratios)})"
    measured = statistics.median(ratios)
    return f"  {goal}: {measured:.2f} ({verdict(measured >= THROUGHPUT_GOAL)})"


def _rounds_lines(report: Report) -> list[str]:
    return [
        f"  round {number}: baseline {more.baseline.load.rate:.0f} ev/s, embedded {more.embedded.load.rate:.0f}"
        f" ev/s, ratio {ratio(more.embedded.load.rate, more.baseline.load.rate):.2f}"
        for number, more in enumerate(report.rounds, 2)
    ]


def print_report(report: Report, options: argparse.Namespace) -> None:
    print(
        "\n=== Events in: legacy events over mTLS into one compass-events serve, stored and delivered to a sink,"
        " against a bare endpoint ===\n"
        f"application: aiohttp on uvloop in its own process, {options.concurrency} keep-alive mTLS connections,"
        f" {options.warmup:g} s warm-up + {options.duration:g} s per run;\nsink: a minimal HTTP server on the"
        f" bench's event loop (bench/sink.py), one Subscription; {os.cpu_count()} CPUs shared by all processes"
    )
    for row in report.rows:
        print(f"durability, {row.backend}: {DURABILITY[row.backend]}")
    print(
        "\nclosed loop: accepted = answered 200 (stored durably); ratio = accepted ÷ the baseline's (a bare"
        " Starlette endpoint,\nsame TLS and client-certificate check, nothing done); delivered = taken by the sink"
        " within the window; send→sink from\neach event's send to its arrival; drain = the sink's wait for the"
        " rest after the load stopped; CPU over load and drain;\nload: 1-minute load average after the run"
    )
    print(CLOSED_HEADER)
    print(format_closed(report.baseline, report.baseline))
    for row in report.rows:
        print(format_closed(row.closed, report.baseline))
    if report.rounds:
        print(f"\n{ROUNDS_HEADER}")
        print("\n".join(_rounds_lines(report)))
    fixed = [row.fixed for row in report.rows if row.fixed is not None]
    if fixed:
        print(
            f"\nopen loop at {options.fixed_load:g} × what each backend sustained above (the lower of accepted and"
            " delivered ev/s);\nlatency of the answer from each event's scheduled start"
        )
        print(FIXED_HEADER)
        for run in fixed:
            print(format_fixed(run))
    if report.rows:
        print("\nevery accepted event delivered:")
        for row in report.rows:
            print(_delivered_line(row))
    print(
        "\nevents per SQLite commit: not measured (the log counts its commits inside the served process and"
        " compass-events does not expose the count)"
    )
    for reason in report.skipped:
        print(f"skipped: {reason}")
    print("\ngoal (issue 12):")
    print(_goal_line(report))


def parse_options(argv: list[str]) -> argparse.Namespace:
    formatter = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=formatter)
    parser.add_argument("--duration", type=float, default=5.0, help="measured seconds per run (at most 10)")
    parser.add_argument("--warmup", type=float, default=1.0, help="unmeasured seconds before each run")
    parser.add_argument("--concurrency", type=int, default=16, help="keep-alive connections of the load")
    parser.add_argument(
        "--repeat",
        type=int,
        default=1,
        help="rounds of the baseline's and embedded's closed loops; the goal is judged on their median ratio",
    )
    parser.add_argument(
        "--backends", default=",".join(BACKENDS), help=f"comma separated (default {','.join(BACKENDS)})"
    )
    parser.add_argument(
        "--fixed-load",
        type=float,
        default=0.5,
        help="open-loop rate, a fraction of what each backend sustained; 0 skips",
    )
    options = parser.parse_args(argv)
    options.backends = [name.strip() for name in options.backends.split(",") if name.strip()]
    if unknown := set(options.backends) - set(BACKENDS):
        parser.error(f"unknown backends {sorted(unknown)}: use {' and/or '.join(BACKENDS)}")
    if not 0 < options.duration <= 10:
        parser.error("--duration must be more than 0 and at most 10 seconds")
    if options.warmup < 0 or options.concurrency < 1 or options.fixed_load < 0 or options.repeat < 1:
        parser.error("--warmup and --fixed-load must not be negative, --concurrency and --repeat positive")
    return options


def main(argv: list[str]) -> None:
    bench_main(argv, parse_options, run, print_report)


if __name__ == "__main__":
    main(sys.argv[1:])
