"""Fleet benchmark: R runtimes, each with its own client certificate, polling `compass serve --workers W`.

On PostgreSQL (COMPASS_TEST_POSTGRES_URL, which ``make bench-fleet`` sets through scripts/with-postgres.sh) it
seeds one tenant with A applications (the Director benchmark's shape: 3 bundles of 2 APIs and 1 event each)
spread over F formations, and R runtimes spread over the same formations, so that each runtime sees A/F
applications. Every runtime gets its own client certificate through the Connector (one-time token,
``configuration``, a CSR with an EC P-256 key, ``signCertificateSigningRequest``) and then polls
``applicationsForRuntime`` with the Compass Runtime Agent's document (bench/director.py) every P seconds
(first poll at a random point of the warm-up, then P ± jitter) over mTLS, on one connection kept
across polls as Go's HTTP client keeps it (``--new-connection-per-poll``: a TLS handshake every poll), with
``If-None-Match`` as our agent sends it (``--plain``: without, as Compass's agent polls). The warm-up
(``--warmup``, a period unless told) is unmeasured: every runtime connects and fetches its first view. Then, for ``--duration`` seconds,
an operator changes one application every C seconds (its description carries a marker), and the bench
records when each affected runtime (the runtimes of that application's formation) first fetched a view with
the marker.

The load comes from ``--clients`` separate processes (asyncio on uvloop, a hand-written HTTP/1.1 client over
``asyncio.open_connection``: httpx would cost the clients more CPU than the server on 2 cores).

It prints, per run: achieved polls/s, p50/p99 latency, errors, answers 200/304 and the 200s whose view had not
changed, the connections opened, CPU per poll and CPU % of the server processes (parent and workers,
utime+stime from /proc), of PostgreSQL and of the clients, the clients' memory and scheduling lag (if it grows,
the clients are the bottleneck) and the change propagation (per change and affected runtime, the time from the
operator's answer until the runtime fetched it: p50, p99 and max).

``--push``: every runtime also holds its change stream (``GET /director/changes``, server-sent events, on a
connection of its own as an agent does), opened at a random point of the warm-up; ``subscribed`` and every
``changed`` make it poll at once (with If-None-Match), the period staying as the resync. The propagation figures
then measure push, and a second table says how many streams were open, how many changes were pushed, which
affected runtimes fetched a change after a push (or only at their period), and the server's CPU per poll and,
for ``--idle`` seconds before the clients start and after the polls stop (the streams still open), per second.

``--find-max`` searches, for each ``--workers`` value, the largest R with p99 < 250 ms and zero errors: it
starts at ``--runtimes``, doubles while runs pass and halves while they fail, then bisects, at most
``--search-runs`` runs per W. ``--profile`` then runs the largest W=1 fleet once more under pyinstrument.

``--poll-cost`` measures one runtime instead (A applications, F = 1, one keep-alive connection, W = 1): the
server's CPU per request of ``GET /healthz``, of an unchanged poll and of one with If-None-Match, as multiples
of the first, beside issue 15's goals (bench/README.md).

    python bench/fleet.py [--runtimes 1000] [--workers 1] [--period 10] [--change-every 15] [--duration 60]
    python bench/fleet.py --find-max --workers 1,2 --duration 30
    python bench/fleet.py --poll-cost [--duration 10]
    python bench/fleet.py --push --runtimes 5000 --workers 2 --period 20 --formations 100 --warmup 120
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import hashlib
import inspect
import json
import os
import random
import re
import resource
import signal
import ssl
import sys
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

if __package__ in (None, ""):
    # `python bench/fleet.py` (as `make bench-fleet` runs it): `bench` is importable from the repository root.
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

# The load client processes (`bench.load_client bench.fleet:load_process`) import this module too: they stay
# free of the server's packages, so what needs those is imported where it is used.
from bench import load_client
from bench.common import CONNECTOR_PATH, DIRECTOR_PATH, JSON_CONTENT, ROOT, percentile, ratio, verdict
from testing.processes import cpu_by_process, postgres_backends

if TYPE_CHECKING:
    from testing.served import ServedCompass

P99_LIMIT = 0.250
PUSH_P99_LIMIT = 2.0
CHANGES_PATH = "/director/changes"
# The first and the longest wait before a stream is opened again (doubling, ± 50 %).
STREAM_RETRY = (1.0, 30.0)
REGISTER_BATCH = 250  # runtimes per unit of work when seeding
IDLE_MARGIN = 1.0  # with --push: seconds between the last polls and the idle reading, and after it
MARKER = re.compile(rb"fleet-change-(\d+)")
POLL_TIMEOUT = 10.0
UPDATE_APPLICATION = (
    'mutation {{ result: updateApplication(id: "{id}", in: {{providerName: "Bench Provider", '
    'description: "{marker}"}}) {{ id }} }}'
)


def _log(message: str) -> None:
    print(f"[fleet {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# --- the client processes -----------------------------------------------------------------------------------


@dataclass
class _Tally:
    """What the polls of one client process measured; polls started during the warm-up count apart."""

    measure_from: float
    latencies: list[float] = field(default_factory=list)
    lags: list[float] = field(default_factory=list)
    statuses: Counter[str] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)
    warmup_errors: Counter[str] = field(default_factory=Counter)
    unchanged_200: int = 0
    connections: int = 0  # opened by measured polls
    retried: int = 0
    # (runtime, change, when fetched, whether a push made that poll)
    sightings: list[tuple[int, int, float, bool]] = field(default_factory=list)
    streams: int = 0  # change streams open (subscribed) now
    pushes: int = 0  # `changed` events received in the measured window
    pushed_polls: int = 0  # measured polls a push made

    def failed(self, at: float, failure: str) -> None:
        (self.errors if at >= self.measure_from else self.warmup_errors)[failure] += 1


Answer = tuple[int, dict[str, str], bytes]


class _NothingRead(ConnectionError):
    """The connection ended before a byte of the answer came."""


async def _read_head(reader: asyncio.StreamReader) -> tuple[int, dict[str, str]]:
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError as error:
        if error.partial:
            raise
        raise _NothingRead from None
    except (ConnectionResetError, BrokenPipeError) as error:
        raise _NothingRead from error
    lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        if name:
            headers[name.strip().lower()] = value.strip()
    return int(lines[0].split(" ", 2)[1]), headers


async def _read_answer(reader: asyncio.StreamReader) -> Answer:
    status, headers = await _read_head(reader)
    if status in (204, 304):
        return status, headers, b""
    if "content-length" in headers:
        body = await reader.readexactly(int(headers["content-length"]))
    elif headers.get("transfer-encoding", "").lower() == "chunked":
        chunks = []
        while size := int((await reader.readuntil(b"\r\n")).split(b";")[0], 16):
            chunks.append((await reader.readexactly(size + 2))[:-2])
        await reader.readuntil(b"\r\n")  # the empty trailer
        body = b"".join(chunks)
    else:
        body = await reader.read()
    if headers.get("content-encoding", "").lower() == "gzip":
        body = gzip.decompress(body)
    return status, headers, body


class Connection:
    """A runtime's connection to the server as Go's ``http.Transport`` keeps it (the Compass agent's client).

    With ``keep_alive`` one connection carries poll after poll. One the server has closed while it was idle
    (its keep-alive timeout, its connection cap, a restart) is seen at the next poll by the end of its stream
    and replaced; one that the server closes as the request goes out (no byte of an answer came back) is
    replaced and the request sent again, once: the poll is a read, which HTTP lets a client repeat. Without
    ``keep_alive`` every exchange opens a connection of its own and closes it.
    """

    def __init__(self, host: str, port: int, context: ssl.SSLContext, *, keep_alive: bool) -> None:
        self.host, self.port, self.context, self.keep_alive = host, port, context, keep_alive
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None
        self.opened = 0  # connections opened, handshakes included
        self.retried = 0  # requests sent again on a new connection

    def _idle_and_open(self) -> bool:
        return (
            self.reader is not None
            and self.writer is not None
            and not self.writer.is_closing()
            and not self.reader.at_eof()
        )

    async def _connect(self) -> None:
        self.reader, self.writer = await asyncio.open_connection(
            self.host,
            self.port,
            ssl=self.context,
            server_hostname=self.host,
            ssl_handshake_timeout=POLL_TIMEOUT,
        )
        self.opened += 1

    async def _send(self, request: bytes) -> Answer:
        assert self.reader is not None
        assert self.writer is not None
        self.writer.write(request)
        return await _read_answer(self.reader)

    async def exchange(self, request: bytes) -> Answer:
        """Sends ``request`` (whole, head and body) and reads its answer; a gzip body comes back decompressed."""
        reused = self._idle_and_open()
        try:
            if not reused:
                self.close()
                await self._connect()
            try:
                answer = await self._send(request)
            except _NothingRead:
                if not reused:
                    raise
                self.close()
                self.retried += 1
                await self._connect()
                answer = await self._send(request)
        except BaseException:
            self.close()
            raise
        if not self.keep_alive or answer[1].get("connection", "").lower() == "close":
            self.close()
        return answer

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


class _Runtime:
    """One runtime's agent: its certificate and connection, its last ETag and view, what it has seen."""

    def __init__(self, index: int, runtime_id: str, context: ssl.SSLContext, config: dict[str, Any]) -> None:
        self.index = index
        host, port = config["host"], config["https_port"]
        self.connection = Connection(host, port, context, keep_alive=config["keep_alive"])
        self.plain = config["plain"]
        body = json.dumps({"query": config["document"].replace("RUNTIME_ID", runtime_id), "variables": None})
        self.body = body.encode()
        closing = "" if config["keep_alive"] else "Connection: close\r\n"
        # Go's transport asks for gzip (and decompresses) unless told not to: the Compass agent's does.
        self.head = (
            f"POST {DIRECTOR_PATH} HTTP/1.1\r\nHost: {host}:{port}\r\n"
            f"Content-Type: application/json; charset=utf-8\r\nContent-Length: {len(self.body)}\r\n"
            f"Accept-Encoding: gzip\r\n{closing}x-request-id: fleet\r\n"
        )
        self.etag: str | None = None
        self.view: bytes | None = None
        self.seen: set[int] = set()
        self.context = context
        self.wake = asyncio.Event()
        self.pushed = False
        self.subscription: asyncio.Task[None] | None = None

    def nudge(self) -> None:
        """A push: the runtime polls at once (once more after the poll under way, if one is)."""
        self.pushed = True
        self.wake.set()

    async def wait_until(self, at: float) -> bool:
        """Until ``at`` or a push, whichever comes first: True when a push woke it. A timer and an event rather
        than a task per wait: the client holds thousands of runtimes."""
        if not self.wake.is_set():
            timer = asyncio.get_running_loop().call_later(max(0.0, at - time.monotonic()), self.wake.set)
            try:
                await self.wake.wait()
            finally:
                timer.cancel()
        self.wake.clear()
        pushed, self.pushed = self.pushed, False
        return pushed

    def request(self, etag: str | None) -> bytes:
        conditional = f"If-None-Match: {etag}\r\n" if etag else ""
        return (self.head + conditional + "\r\n").encode("latin-1") + self.body

    async def poll(self) -> Answer:
        return await self.connection.exchange(self.request(None if self.plain else self.etag))

    def answered(
        self,
        tally: _Tally,
        status: int,
        headers: dict[str, str],
        body: bytes,
        at: float,
        *,
        measured: bool,
        pushed: bool = False,
    ) -> None:
        if measured:
            tally.statuses[str(status)] += 1
        if status == 304:
            return
        if status != 200 or b'"errors":' in body:
            (tally.errors if measured else tally.warmup_errors)[f"HTTP {status}: {body[:120]!r}"] += 1
            return
        digest = hashlib.blake2b(body, digest_size=16).digest()
        if self.view is not None and digest == self.view and not self.plain and measured:
            tally.unchanged_200 += 1  # a new ETag, the same view: a rebuild the runtime did not need
        self.view = digest
        self.etag = headers.get("etag")
        for match in MARKER.finditer(body):
            change = int(match.group(1))
            if change not in self.seen:
                self.seen.add(change)
                tally.sightings.append((self.index, change, at, pushed))


async def _events(reader: asyncio.StreamReader, headers: dict[str, str]) -> AsyncIterator[bytes]:
    """The names of the events of a server-sent event stream, as they come (comments, the heartbeats, skipped)."""
    chunked = headers.get("transfer-encoding", "").lower() == "chunked"
    buffer = b""
    while True:
        if chunked:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            if not size:
                return
            buffer += (await reader.readexactly(size + 2))[:-2]
        else:
            data = await reader.read(1 << 16)
            if not data:
                return
            buffer += data
        *blocks, buffer = buffer.split(b"\n\n")
        for block in blocks:
            for line in block.split(b"\n"):
                if line.startswith(b"event:"):
                    yield line[6:].strip()


async def _follow_changes(runtime: _Runtime, tally: _Tally, config: dict[str, Any]) -> None:
    """A runtime's change stream, as an agent keeps it: its own mTLS connection, ``GET /director/changes``;
    ``subscribed`` and every ``changed`` nudge the runtime. A stream that cannot be opened or that ends is an
    error (of the run, once measuring) and is opened again with backoff and jitter as an agent does (at a fixed
    second, an overloaded server's failed handshakes came back as a storm), until the task is cancelled."""
    host, port = config["host"], config["https_port"]
    request = (
        f"GET {CHANGES_PATH} HTTP/1.1\r\nHost: {host}:{port}\r\nAccept: text/event-stream\r\n"
        "x-request-id: fleet\r\n\r\n"
    ).encode()
    rng = random.Random(runtime.index)
    wait = STREAM_RETRY[0]
    while True:
        subscribed = False
        try:
            reader, writer = await asyncio.open_connection(
                host, port, ssl=runtime.context, server_hostname=host, ssl_handshake_timeout=POLL_TIMEOUT
            )
            try:
                writer.write(request)
                async with asyncio.timeout(POLL_TIMEOUT):
                    status, headers = await _read_head(reader)
                if status != 200:
                    raise ConnectionError(f"the change stream answered HTTP {status}")
                async for event in _events(reader, headers):
                    if event == b"subscribed":
                        subscribed = True
                        tally.streams += 1
                        wait = STREAM_RETRY[0]
                    elif event == b"changed":
                        tally.pushes += time.monotonic() >= tally.measure_from
                    else:
                        continue
                    runtime.nudge()
                raise ConnectionError("the server ended the change stream")
            finally:
                writer.close()
                tally.streams -= subscribed
        except Exception as error:  # noqa: BLE001 - every failure is a counted error of the fleet
            tally.failed(time.monotonic(), f"stream: {type(error).__name__}: {str(error)[:80]}")
        await asyncio.sleep(wait * rng.uniform(0.5, 1.5))
        wait = min(wait * 2, STREAM_RETRY[1])


async def _runtime_loop(
    runtime: _Runtime, tally: _Tally, start: float, end: float, config: dict[str, Any]
) -> None:
    """Polls every period (± jitter); a poll that overran its period is followed by the next one at once.

    First polls are spread over the warm-up (at least a period): a longer ``--warmup`` ramps the fleet up, as
    runtimes join a real one over time, instead of every runtime's handshake and first view in one period.
    With push, the runtime opens its change stream there instead (over the warm-up alone): its first poll
    follows ``subscribed``, every ``changed`` makes one at once, and the period is the resync after the first.
    The lag is how late the client's event loop woke for a poll it had to wait for: it grows when the client
    processes, not the server, are the bottleneck.
    """
    period, jitter = config["period"], config["jitter"]
    rng = random.Random(runtime.index)
    scheduled = start + rng.uniform(0, config["warmup"] if config["push"] else max(period, config["warmup"]))
    if config["push"]:
        await asyncio.sleep(max(0.0, scheduled - time.monotonic()))
        runtime.subscription = asyncio.create_task(_follow_changes(runtime, tally, config))
        scheduled += period * rng.uniform(1 - jitter, 1 + jitter)
    while True:
        waited = scheduled > time.monotonic()
        pushed = await runtime.wait_until(min(scheduled, end))
        began = time.monotonic()
        if began >= end:
            break
        measured = began >= tally.measure_from
        if measured and waited and not pushed:
            tally.lags.append(began - scheduled)
        tally.pushed_polls += measured and pushed
        opened, retried = runtime.connection.opened, runtime.connection.retried
        try:
            # asyncio.timeout rather than wait_for: no task per poll, which the client feels at thousands of them.
            async with asyncio.timeout(POLL_TIMEOUT):
                status, headers, body = await runtime.poll()
        except Exception as error:  # noqa: BLE001 - every failure is a counted error of the fleet
            tally.failed(began, f"{type(error).__name__}: {str(error)[:80]}")
        else:
            finished = time.monotonic()
            if measured:
                tally.latencies.append(finished - began)
            runtime.answered(tally, status, headers, body, finished, measured=measured, pushed=pushed)
        if measured:
            tally.connections += runtime.connection.opened - opened
            tally.retried += runtime.connection.retried - retried
        if scheduled <= time.monotonic():  # a pushed poll leaves the period's schedule as it was
            scheduled = max(scheduled + period * rng.uniform(1 - jitter, 1 + jitter), time.monotonic())


async def load_process(config: dict[str, Any]) -> dict[str, Any]:
    """One load client process: its share of the runtimes polling, from the start time it is sent."""
    runtimes = []
    for index, runtime_id, chain, key in config["runtimes"]:
        context = ssl.create_default_context(cafile=config["ca_file"])
        context.load_cert_chain(chain, key)
        runtimes.append(_Runtime(index, runtime_id, context, config))
    loop = asyncio.get_running_loop()
    sys.stdout.write("ready\n")
    sys.stdout.flush()
    start = float(await loop.run_in_executor(None, sys.stdin.readline))
    measure_from = start + config["warmup"]
    end = measure_from + config["duration"]
    tally = _Tally(measure_from)
    await asyncio.sleep(max(0.0, start - time.monotonic()))
    polls = asyncio.gather(*(_runtime_loop(runtime, tally, start, end, config) for runtime in runtimes))
    await asyncio.sleep(max(0.0, measure_from - time.monotonic()))
    cpu_from, wall_from = time.process_time(), time.monotonic()
    await polls
    cpu, wall, streams = time.process_time() - cpu_from, time.monotonic() - wall_from, tally.streams
    subscriptions = [runtime.subscription for runtime in runtimes if runtime.subscription is not None]
    if subscriptions:
        # The streams stay open, without polls, while the bench measures what they cost the idle server.
        await asyncio.sleep(max(0.0, end + config["idle"] - time.monotonic()))
        for subscription in subscriptions:
            subscription.cancel()
        await asyncio.gather(*subscriptions, return_exceptions=True)
    return {
        "connections": tally.connections,
        "retried": tally.retried,
        "rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "latencies": [round(value, 6) for value in tally.latencies],
        "lags": [round(value, 6) for value in tally.lags],
        "statuses": dict(tally.statuses),
        "errors": dict(tally.errors),
        "warmup_errors": dict(tally.warmup_errors),
        "unchanged_200": tally.unchanged_200,
        "sightings": tally.sightings,
        "cpu": cpu,
        "wall": wall,
        "streams": streams,
        "pushes": tally.pushes,
        "pushed_polls": tally.pushed_polls,
    }


# --- the server ---------------------------------------------------------------------------------------------


def cpu_used(before: dict[int, float], after: dict[int, float]) -> float:
    """CPU used between two readings by the processes present in both (a process that exited took its own)."""
    return sum(after[pid] - before[pid] for pid in before.keys() & after.keys())


def fleet_server(
    data_dir: Path, env: dict[str, str], workers: int, log: Path, profile_to: Path | None = None
) -> ServedCompass:
    """`compass serve --workers W` as an operator runs it (JSON logs to a file), the bench's limits raised in
    ``env``; with ``profile_to``, one process under pyinstrument instead."""
    from testing.served import ServedCompass

    command = [sys.executable, "-m", "bench.fleet", "profiled-serve", str(profile_to)] if profile_to else None
    url = env["COMPASS_DATABASE_URL"]
    return ServedCompass(data_dir, url, workers=workers, env=env, command=command, log=log)


def processes_of(server: ServedCompass) -> list[int]:
    """The server's processes: the parent and its workers."""
    return [server.pid, *server.children()]


def profiled_serve(output: str) -> None:
    """`compass serve` (one process) under pyinstrument; the profile is written when SIGTERM stops it."""
    from pyinstrument import Profiler

    from bench.director import profile_tables, render_profile_tables
    from compass.cli import app

    # uvicorn re-raises the signal that stopped it once it has shut down: a handler of ours keeps the process
    # alive long enough to write the profile.
    signal.signal(signal.SIGTERM, lambda *_: None)
    # Started by the bench when its measured window begins (``run_fleet``): the warm-up's first polls, which build
    # every view and read every identity, are left out. The signal's handler runs inside whichever request was
    # being served: the whole thread is sampled (not one task's awaits), from this frame down.
    profiler = Profiler(interval=0.001, async_mode="disabled")
    here = inspect.currentframe()
    signal.signal(signal.SIGUSR1, lambda *_: profiler.start(caller_frame=here))
    try:
        app(["serve"], standalone_mode=False)
    finally:
        lines = ["(the measured window never began)"]
        if profiler.is_running:
            session = profiler.stop()
            root = session.root_frame()
            lines = [f"{session.duration:.1f} s sampled, {session.cpu_time:.1f} s of CPU"]
            if root is not None:
                # uvloop's own work (sockets, TLS, waiting for the database or the next request) shows as the
                # self time of asyncio's runner, the Python frame that called into it.
                lines += render_profile_tables(profile_tables(root), top=20)
        Path(output).write_text("\n".join(lines) + "\n")


# --- the fleet in the database ------------------------------------------------------------------------------


@dataclass
class Fleet:
    tenant_id: str
    formations: list[str]
    application_ids: list[str]  # application j is in formation j % F
    runtime_ids: list[str] = field(default_factory=list)  # runtime i is in formation i % F
    changes: int = 0  # operator changes made so far, over all runs
    certificates: list[tuple[str, str]] = field(default_factory=list)  # (chain file, key file) of runtime i


async def seed(database: Any, options: argparse.Namespace) -> Fleet:
    from bench.seed import application_input
    from director.application.service import application as application_service
    from director.formation.inputs import FormationInput, FormationObjectType
    from director.formation.service import formation as formation_service
    from director.polling.invalidation import unit_of_work
    from director.tenant.service import tenant as tenant_service

    async with database.transaction() as session:
        tenant = await tenant_service.create(session, f"fleet-{uuid.uuid4().hex[:8]}")
    async with unit_of_work(database, tenant.id) as session:
        formations = [f"fleet-{index}" for index in range(options.formations)]
        for name in formations:
            await formation_service.create(session, tenant.id, FormationInput(name=name))
        applications = []
        for index in range(options.applications):
            data = application_input(index, options.bundles, description="initial")
            application = await application_service.register(session, tenant.id, data)
            formation = formations[index % len(formations)]
            await formation_service.assign(
                session, tenant.id, FormationObjectType.APPLICATION, application.id, formation
            )
            applications.append(application.id)
    return Fleet(tenant.id, formations, applications)


async def _copy(session: Any, model: Any, rows: list[dict[str, Any]]) -> None:
    """Rows (column values, the same columns in each) into ``model``'s table with PostgreSQL's COPY, in the
    session's transaction: millions of assignments, which even a bulk INSERT took most of an hour to write."""
    if rows:
        columns = list(rows[0])
        raw = await (await session.connection()).get_raw_connection()
        records = [tuple(row[column] for column in columns) for row in rows]
        await raw.driver_connection.copy_records_to_table(
            model.__tablename__, records=records, columns=columns
        )


async def add_runtimes(database: Any, fleet: Fleet, count: int) -> None:
    """Runtimes up to ``count`` (runtime i in formation i % F), written in bulk: the rows ``registerRuntime`` and
    ``assignFormation`` make, without their reads and checks per runtime. A formation's assignments pair every two
    of its participants (as in Compass), so joining a formation of N makes 2N + 1 of them, and R runtimes in F
    formations about R²/F in all: the services made 5,000 runtimes in 9-19 minutes. Here the assignments and
    their operations are those ``director.formationassignment.service`` makes (READY: nobody in the fleet has a
    webhook), written with PostgreSQL's COPY, REGISTER_BATCH runtimes per unit of work."""
    from sqlalchemy import insert

    from director.formation.service import formation as formation_service
    from director.formationassignment.service import new_rows, pairs_joining
    from director.models import SCENARIOS, AssignmentOperation, FormationAssignment, Label, Runtime
    from director.normalization import IS_NORMALIZED_LABEL
    from director.polling.invalidation import changes, unit_of_work
    from kernel.models import new_id, utcnow

    formations = len(fleet.formations)
    members: list[dict[str, str]] = [{} for _ in range(formations)]  # formation → participant id → type
    for index, application_id in enumerate(fleet.application_ids):
        members[index % formations][application_id] = "APPLICATION"
    for index, runtime_id in enumerate(fleet.runtime_ids):
        members[index % formations][runtime_id] = "RUNTIME"
    async with database.read_sessions() as session:
        formation_ids = [
            (await formation_service.get(session, fleet.tenant_id, name)).id for name in fleet.formations
        ]
    while (first := len(fleet.runtime_ids)) < count:
        began, batch = time.monotonic(), []
        async with unit_of_work(database, fleet.tenant_id) as session:
            await changes(session).new_runtime()
            now = utcnow()
            runtimes, labels = [], []
            for index in range(first, min(first + REGISTER_BATCH, count)):
                runtime_id = new_id()
                batch.append(runtime_id)
                runtimes.append(
                    {"id": runtime_id, "tenant_id": fleet.tenant_id, "name": f"fleet-runtime-{index:05d}"}
                )
                for key, value in (
                    (IS_NORMALIZED_LABEL, "true"),
                    (SCENARIOS, [fleet.formations[index % formations]]),
                ):
                    labels.append(
                        {
                            "id": new_id(),
                            "tenant_id": fleet.tenant_id,
                            "key": key,
                            "value": value,
                            "runtime_id": runtime_id,
                        }
                    )
            await session.execute(insert(Runtime), runtimes)
            await session.execute(insert(Label), labels)
            assignments, operations = [], []
            for offset, runtime_id in enumerate(batch):
                formation = (first + offset) % formations
                pairs = pairs_joining(runtime_id, "RUNTIME", members[formation])
                made = new_rows(fleet.tenant_id, formation_ids[formation], pairs, {}, {}, now)
                assignments += made[0]
                operations += made[1]
                members[formation][runtime_id] = "RUNTIME"
            await _copy(session, FormationAssignment, assignments)
            await _copy(session, AssignmentOperation, operations)
        fleet.runtime_ids.extend(batch)
        _log(
            f"  {len(fleet.runtime_ids)} runtimes registered ({time.monotonic() - began:.1f} s for {len(batch)}, "
            f"{len(assignments)} assignments)"
        )


async def certify(database: Any, fleet: Fleet, server: ServedCompass, count: int, directory: Path) -> float:
    """Client certificates for runtimes up to ``count``: one-time tokens in one transaction, then
    ``configuration`` and ``signCertificateSigningRequest`` through the server, 32 runtimes at a time."""
    import httpx

    from bench.certificates import certify as certify_runtime
    from director.polling.invalidation import unit_of_work
    from director.systemauth.inputs import TokenPolicy
    from director.systemauth.service import system_auth as system_auth_service
    from kernel.models import utcnow

    first = len(fleet.certificates)
    if first >= count:
        return 0.0
    began = time.monotonic()
    tokens = []
    lifetime = timedelta(hours=1)
    connector_url = f"{server.http_url}{CONNECTOR_PATH}"
    policy = TokenPolicy(
        runtime_ttl=lifetime,
        application_ttl=lifetime,
        connector_url=connector_url,
        legacy_connector_url=f"{server.http_url}/v1/applications/signingRequests/info",
    )
    async with unit_of_work(database, fleet.tenant_id) as session:
        for runtime_id in fleet.runtime_ids[first:count]:
            issued = await system_auth_service.request_runtime_token(
                session, fleet.tenant_id, runtime_id, None, policy=policy, now=utcnow()
            )
            tokens.append(issued.token)
    directory.mkdir(exist_ok=True)
    limits = httpx.Limits(max_connections=32, max_keepalive_connections=32)
    certificates: dict[int, tuple[str, str]] = {}

    async with httpx.AsyncClient(base_url=server.http_url, limits=limits, timeout=60) as client:

        async def one(index: int, token: str, turn: asyncio.Semaphore) -> None:
            chain, key = directory / f"runtime-{index:05d}.crt", directory / f"runtime-{index:05d}.key"
            async with turn:
                await certify_runtime(client, token, chain, key)
            certificates[index] = (str(chain), str(key))

        turn = asyncio.Semaphore(32)
        await asyncio.gather(*(one(first + offset, token, turn) for offset, token in enumerate(tokens)))
    fleet.certificates.extend(certificates[index] for index in range(first, count))
    return time.monotonic() - began


# --- one run ------------------------------------------------------------------------------------------------


@dataclass
class Run:
    workers: int
    runtimes: int
    polls_per_second: float
    p50: float
    p99: float
    errors: int
    error_samples: list[str]
    statuses: dict[str, int]
    unchanged_200: int
    connections: int  # opened by the clients during the measured window
    retried: int  # polls sent again on a new connection after the server closed the one they went out on
    server_cpu: float  # cores
    postgres_cpu: float
    client_cpu: float
    client_cpu_max: float  # the busiest client process, cores
    client_mib: float  # the largest client process's peak resident memory
    lag_p99: float
    # Per change and affected runtime: from the operator's answer until the runtime fetched the change.
    propagation: list[float]
    incomplete_changes: int
    changes: int
    load_average: float
    duration: float
    push: Push | None = None

    @property
    def passed(self) -> bool:
        return self.p99 < P99_LIMIT and self.errors == 0

    def per_poll(self, cores: float) -> float:
        """CPU ms per poll of ``cores`` busy over the run."""
        polls = sum(self.statuses.values())
        return cores * self.duration / polls * 1000 if polls else float("nan")

    def propagation_text(self) -> str:
        if not self.propagation:
            return "(none fetched)"
        return " ".join(
            f"{value:5.2f}"
            for value in (
                percentile(self.propagation, 0.50),
                percentile(self.propagation, 0.99),
                max(self.propagation),
            )
        )

    def push_line(self) -> str:
        assert self.push is not None
        push = self.push
        passed = (
            bool(self.propagation)
            and percentile(self.propagation, 0.99) < PUSH_P99_LIMIT
            and push.by_push == push.affected
        )
        return (
            f"{self.workers:>2} {self.runtimes:>6} | {push.streams:>7} {push.pushes:>7} {push.pushed_polls:>6} | "
            f"{push.by_push:>7} {len(self.propagation) - push.by_push:>6} {push.affected:>8} | "
            f"{self.per_poll(self.server_cpu):7.2f} | {push.idle_without * 1000:9.1f} {push.idle_with * 1000:7.1f} "
            f"{push.per_stream() * 1e6:9.2f} | {self.propagation_text():>25} | {'PASS' if passed else 'FAIL'}"
        )

    def line(self) -> str:
        ok, not_modified = self.statuses.get("200", 0), self.statuses.get("304", 0)
        return (
            f"{self.workers:>2} {self.runtimes:>6} | {self.polls_per_second:8.1f} {self.p50 * 1000:7.1f} "
            f"{self.p99 * 1000:7.1f} {self.errors:>6} | {ok:>6} {not_modified:>6} {self.unchanged_200:>6} | "
            f"{self.connections:>6} {self.retried:>5} | {self.per_poll(self.server_cpu):7.2f} "
            f"{self.server_cpu * 100:6.0f} {self.postgres_cpu * 100:5.0f} | "
            f"{self.per_poll(self.client_cpu):7.2f} {self.client_cpu * 100:6.0f} {self.client_cpu_max * 100:4.0f} "
            f"{self.client_mib:5.0f} {self.lag_p99 * 1000:7.1f} | {self.propagation_text():>17} "
            f"({self.changes - self.incomplete_changes}/{self.changes}) | {self.load_average:4.1f} | "
            f"{'PASS' if self.passed else 'FAIL'}"
        )


@dataclass
class Push:
    """What a run with ``--push`` adds: the streams, the pushes, and what the open streams cost the idle server."""

    streams: int  # open when the polls stopped
    pushes: int  # `changed` events the runtimes received in the measured window
    pushed_polls: int  # measured polls a push made
    by_push: int  # (change, affected runtime) fetched by a poll a push made
    affected: int  # (change, affected runtime) in all
    idle_without: float  # the server's CPU, cores, idle before the clients started
    idle_with: float  # ... idle with the streams open, after the polls stopped

    def per_stream(self) -> float:
        """Cores per open stream: its heartbeats and the watcher it keeps."""
        return (self.idle_with - self.idle_without) / self.streams if self.streams else float("nan")


RUN_HEADER = (
    " W      R |  polls/s  p50 ms  p99 ms errors |    200    304 unchg. |  conns retry | ms/poll server    PG |"
    " ms/poll client  max   MiB lag99ms | propagation s p50 p99 max       | load | p99<250ms & 0 errors"
)
RUN_LEGEND = (
    "  polls/s: answers per second over the run; p50/p99: request + answer, and connect + TLS handshake",
    "  when the poll opened a connection;",
    "  errors: failed connections, timeouts (10 s), non-200/304 answers, GraphQL errors, failed operator",
    "  changes;",
    "  200/304: answers; unchg.: 200 answers (new ETag) with the same view as the runtime's last one;",
    "  conns: connections (TLS handshakes) the measured polls opened; retry: measured polls sent",
    "  again on a new connection because the server had closed the kept one as the poll went out;",
    "  ms/poll server/client: CPU ms per poll (least sensitive to other work on the machine);",
    "  server/PG/client: CPU % of one core (server = parent + workers; client = all client processes,",
    "  max = the busiest one); MiB: the largest client process's peak resident memory;",
    "  lag99ms: p99 of how late the clients started a poll (a client bottleneck);",
    "  propagation: per operator change and runtime of the application's formation, the time from the",
    "  operator's answer until that runtime fetched the change: p50, p99, max over all of them (changes",
    "  every affected runtime fetched/changes); load: 1-minute load average after the run.",
)
PUSH_HEADER = (
    " W      R | streams changed  polls | by push period affected | ms/poll | idle ms/s    with µs/stream |"
    " propagation s p50 p99 max | p99<2s & all by push"
)
PUSH_LEGEND = (
    "  streams: change streams open when the polls stopped; changed: `changed` events the runtimes received;",
    "  polls: the polls those events made (measured window);",
    "  by push/period: (change, affected runtime) fetched by a poll a push made / by a periodic poll;",
    "  affected: (change, affected runtime) in all: by push = affected when push reached every one;",
    "  ms/poll: the server's CPU ms per poll, the streams' work included;",
    "  idle ms/s: the server's CPU ms per second without a poll, before the clients connected; with: the",
    "  same with every stream open; µs/stream: the difference per open stream, µs of CPU per second;",
    "  propagation: as above, from the operator's answer until the runtime fetched the change.",
)


async def operate(
    options: argparse.Namespace,
    server: ServedCompass,
    fleet: Fleet,
    *,
    start: float,
    end: float,
    failures: Counter[str],
) -> list[tuple[int, int, float]]:
    """Changes one application every --change-every seconds from ``start`` on; (change, application, time).

    A change the server fails (or does not answer within 30 s) counts in ``failures``, an error of the run.

    Change numbers go on from run to run (``fleet.changes``): a marker a previous run left in the database
    must not count as this run's change. The time is when the operator got its answer: the change is
    committed by then.
    """
    import httpx

    headers = {**JSON_CONTENT, **server.operator_headers(fleet.tenant_id)}
    changes: list[tuple[int, int, float]] = []
    at = start
    # Each change gets its longest period (P + jitter) and 3 s to reach every runtime before the run ends;
    # with push, 3 s: what the period brings later does not count.
    last = end - 3 - (0 if options.push else options.period * (1 + options.jitter))
    async with httpx.AsyncClient(base_url=server.http_url, timeout=30) as client:
        while at <= last:
            await asyncio.sleep(max(0.0, at - time.monotonic()))
            number = fleet.changes
            fleet.changes += 1
            # 7 and the usual 100 applications are coprime: changes go round every application and formation.
            application = (number * 7) % len(fleet.application_ids)
            document = UPDATE_APPLICATION.format(
                id=fleet.application_ids[application], marker=f"fleet-change-{number}"
            )
            at += options.change_every
            try:
                response = await client.post(
                    DIRECTOR_PATH, content=json.dumps({"query": document, "variables": None}), headers=headers
                )
            except httpx.HTTPError as error:
                failures[f"operator: {type(error).__name__}"] += 1
                continue
            if response.status_code != 200 or b'"errors":' in response.content:
                failures[f"operator: HTTP {response.status_code} {response.content[:120]!r}"] += 1
                continue
            changes.append((number, application, time.monotonic()))
    return changes


@dataclass
class Reach:
    """Where the changes reached: each affected runtime's delay for each change it fetched, the changes some
    affected runtime never fetched, the fetches a push made, and the (change, affected runtime) pairs."""

    delays: list[float] = field(default_factory=list)
    incomplete: int = 0
    by_push: int = 0
    affected: int = 0


def _propagation(
    fleet: Fleet,
    runtimes: int,
    changes: list[tuple[int, int, float]],
    sightings: list[tuple[int, int, float, bool]],
) -> Reach:
    seen = {(runtime, change): (at, pushed) for runtime, change, at, pushed in sightings}
    formations = len(fleet.formations)
    reach = Reach()
    for number, application, committed in changes:
        affected = range(application % formations, runtimes, formations)
        fetched = [sighting for index in affected if (sighting := seen.get((index, number))) is not None]
        reach.delays.extend(at - committed for at, _ in fetched)
        reach.by_push += sum(pushed for _, pushed in fetched)
        reach.affected += len(affected)
        reach.incomplete += len(fetched) < len(affected) or not affected
    return reach


async def _start_clients(
    options: argparse.Namespace, server: ServedCompass, fleet: Fleet, runtimes: int
) -> list[asyncio.subprocess.Process]:
    """The client processes, each with its share of the runtimes, ready once they return."""
    from bench.director import sync_document

    shares = [list(range(client, runtimes, options.clients)) for client in range(options.clients)]
    processes = []
    for share in shares:
        config = {
            "runtimes": [[index, fleet.runtime_ids[index], *fleet.certificates[index]] for index in share],
            "ca_file": str(server.ca_file),
            "host": "127.0.0.1",
            "https_port": server.https_port,
            "document": sync_document("RUNTIME_ID"),
            "period": options.period,
            "warmup": options.warmup,
            "jitter": options.jitter,
            "duration": options.duration,
            "plain": options.plain,
            "keep_alive": options.keep_alive,
            "push": options.push,
            # The clients keep the streams open while the server's idle CPU is measured (idle_with).
            "idle": options.idle + 2 * IDLE_MARGIN,
        }
        process = await asyncio.create_subprocess_exec(
            *load_client.command("bench.fleet:load_process"),
            cwd=ROOT,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            limit=1 << 28,
        )
        assert process.stdin is not None
        assert process.stdout is not None
        process.stdin.write(json.dumps(config).encode() + b"\n")
        await process.stdin.drain()
        processes.append(process)
    for process in processes:
        assert process.stdout is not None
        if (await process.stdout.readline()).strip() != b"ready":
            raise RuntimeError("a fleet client failed to start")
    return processes


async def run_fleet(
    options: argparse.Namespace, server: ServedCompass, fleet: Fleet, runtimes: int, *, profiled: bool = False
) -> Run:
    from sqlalchemy.engine import make_url

    database = make_url(server.env["COMPASS_DATABASE_URL"]).database or ""
    server_pids, pg_pids = processes_of(server), postgres_backends(database)
    idle_without = await _idle_cpu(server_pids, options.idle) if options.push else 0.0
    processes = await _start_clients(options, server, fleet, runtimes)
    start = time.monotonic() + 0.5
    for process in processes:
        assert process.stdin is not None
        process.stdin.write(f"{start}\n".encode())
        await process.stdin.drain()
    # The warm-up: every runtime fetches its first view (without an ETag), unmeasured.
    measure_from = start + options.warmup
    end = measure_from + options.duration
    await asyncio.sleep(max(0.0, measure_from - time.monotonic()))
    if profiled:
        os.kill(server.pid, signal.SIGUSR1)
    server_from, pg_from, wall_from = cpu_by_process(server_pids), cpu_by_process(pg_pids), time.monotonic()
    errors: Counter[str] = Counter()
    changes = await operate(options, server, fleet, start=measure_from + 0.5, end=end, failures=errors)
    await asyncio.sleep(max(0.0, end - time.monotonic()))
    server_cpu = cpu_used(server_from, cpu_by_process(server_pids))
    pg_cpu = cpu_used(pg_from, cpu_by_process(pg_pids))
    wall = time.monotonic() - wall_from
    idle_with = 0.0
    if options.push:
        await asyncio.sleep(IDLE_MARGIN)  # the last polls answered
        idle_with = await _idle_cpu(server_pids, options.idle)
    results = []
    for process in processes:
        assert process.stdout is not None
        line = await process.stdout.readline()
        await process.wait()
        if process.returncode != 0 or not line:
            raise RuntimeError(f"a fleet client failed with {process.returncode}")
        results.append(json.loads(line))
    latencies = [value for result in results for value in result["latencies"]]
    statuses: Counter[str] = Counter()
    warmup_errors: Counter[str] = Counter()
    for result in results:
        errors.update(result["errors"])
        warmup_errors.update(result["warmup_errors"])
        statuses.update(result["statuses"])
    sightings = [tuple(sighting) for result in results for sighting in result["sightings"]]
    reach = _propagation(fleet, runtimes, changes, sightings)
    push = None
    if options.push:
        push = Push(
            streams=sum(result["streams"] for result in results),
            pushes=sum(result["pushes"] for result in results),
            pushed_polls=sum(result["pushed_polls"] for result in results),
            by_push=reach.by_push,
            affected=reach.affected,
            idle_without=idle_without,
            idle_with=idle_with,
        )
    return Run(
        workers=server.workers,
        runtimes=runtimes,
        polls_per_second=len(latencies) / options.duration,
        p50=percentile(latencies, 0.50),
        p99=percentile(latencies, 0.99),
        errors=sum(errors.values()),
        error_samples=[f"{count} x {message}" for message, count in errors.most_common(3)]
        + [f"{count} x {message} (warm-up, not counted)" for message, count in warmup_errors.most_common(2)],
        statuses=dict(statuses),
        unchanged_200=sum(result["unchanged_200"] for result in results),
        connections=sum(result["connections"] for result in results),
        retried=sum(result["retried"] for result in results),
        server_cpu=server_cpu / wall,
        postgres_cpu=pg_cpu / wall,
        client_cpu=sum(result["cpu"] / result["wall"] for result in results),
        client_cpu_max=max(result["cpu"] / result["wall"] for result in results),
        client_mib=max(result["rss_mib"] for result in results),
        lag_p99=percentile([value for result in results for value in result["lags"]], 0.99),
        propagation=reach.delays,
        incomplete_changes=reach.incomplete,
        changes=len(changes),
        load_average=os.getloadavg()[0],
        duration=options.duration,
        push=push,
    )


async def _idle_cpu(pids: list[int], seconds: float) -> float:
    """The CPU (cores) ``pids`` used over the next ``seconds``."""
    before, began = cpu_by_process(pids), time.monotonic()
    await asyncio.sleep(seconds)
    return cpu_used(before, cpu_by_process(pids)) / (time.monotonic() - began)


# --- the bench ----------------------------------------------------------------------------------------------


@dataclass
class Bench:
    options: argparse.Namespace
    workdir: Path
    data_dir: Path
    database: Any
    env: dict[str, str]
    fleet: Fleet | None = None
    runs: list[Run] = field(default_factory=list)

    def serve(self, workers: int, runtimes: int, *, profile_to: Path | None = None) -> ServedCompass:
        """The server for R runtimes: with keep-alive each holds a connection (two with push: its change
        stream), so the per-process cap on connections (1000 by default) is raised to that, as an operator of
        such a fleet must."""
        connections = runtimes * (2 if self.options.push else 1)
        env = {**self.env, "COMPASS_MAX_CONNECTIONS": str(max(1000, connections))}
        log = self.workdir / f"serve-w{workers}.log"
        server = fleet_server(self.data_dir, env, workers, log, profile_to=profile_to)
        server.start()
        server.wait_ready()
        return server

    async def prepare(self, server: ServedCompass, runtimes: int) -> Fleet:
        """The fleet seeded (once), with R runtimes registered and certified."""
        if self.fleet is None:
            options = self.options
            _log(f"seeding {options.applications} applications in {options.formations} formations")
            self.fleet = await seed(self.database, self.options)
        if len(self.fleet.runtime_ids) < runtimes:
            _log(f"registering runtimes up to {runtimes}")
            await add_runtimes(self.database, self.fleet, runtimes)
        if len(self.fleet.certificates) < runtimes:
            took = await certify(self.database, self.fleet, server, runtimes, self.workdir / "runtimes")
            _log(f"client certificates up to {runtimes} through the Connector in {took:.1f} s")
        return self.fleet

    async def measure(self, workers: int, runtimes: int, *, profile_to: Path | None = None) -> Run:
        server = self.serve(workers, runtimes, profile_to=profile_to)
        try:
            fleet = await self.prepare(server, runtimes)
            _log(f"W = {workers}, R = {runtimes}: {self.options.duration:g} s of polling")
            run = await run_fleet(self.options, server, fleet, runtimes, profiled=profile_to is not None)
        finally:
            server.stop()
        self.runs.append(run)
        print(run.line(), flush=True)
        if run.push is not None:
            print(f"   push: {run.push_line()}", flush=True)
        for sample in run.error_samples:
            print(f"          error: {sample}", flush=True)
        return run

    async def find_max(self, workers: int, start: int) -> Run | None:
        """The largest passing R: double while passing, halve while failing, then bisect the gap."""
        options = self.options
        best: Run | None = None
        failed_at: int | None = None
        runtimes = start
        for _ in range(options.search_runs):
            run = await self.measure(workers, runtimes)
            if run.passed:
                best = run if best is None or run.runtimes > best.runtimes else best
            else:
                failed_at = runtimes if failed_at is None else min(failed_at, runtimes)
            if failed_at is None:
                runtimes = min(runtimes * 2, options.max_runtimes)
                if best is not None and runtimes == best.runtimes:
                    break  # the cap passed
            elif best is None:
                runtimes = max(runtimes // 2, 1)
            else:
                runtimes = (best.runtimes + failed_at) // 2
                if failed_at - best.runtimes <= max(options.resolution * best.runtimes, 1):
                    break
        return best


# --- the poll cost ------------------------------------------------------------------------------------------

#: Issue 15's first goal: the server CPU per request of an unchanged poll, without and with If-None-Match, as a
#: multiple of ``GET /healthz`` on the same listener; (name, title, status answered, goal).
POLL_COST_CASES = (
    ("healthz", "(a) GET /healthz", 200, None),
    ("plain", "(b) unchanged poll, no If-None-Match", 200, 3.0),
    ("etag", "(c) unchanged poll, If-None-Match (304)", 304, 2.0),
)
POLL_COST_ROUNDS = 5
POLL_COST_HEADER = (
    "case                                       requests   req/s  p50 ms  CPU ms/req  ÷ (a) PG ms/req | goal"
)
POLL_COST_WARMUP = 1.0


@dataclass
class PollCost:
    """One case's requests, the CPU seconds of the server and of PostgreSQL meanwhile, each request's latency."""

    requests: int = 0
    cpu: float = 0.0
    postgres_cpu: float = 0.0
    latencies: list[float] = field(default_factory=list)

    def per_request(self, seconds: float) -> float:
        return seconds / self.requests if self.requests else float("nan")


async def _repeat(
    connection: Connection, request: bytes, status: int, seconds: float, cost: PollCost
) -> None:
    """Sends ``request`` one at a time for ``seconds``: every answer must be ``status`` without GraphQL errors."""
    until = time.monotonic() + seconds
    while (began := time.monotonic()) < until:
        answered, _, body = await connection.exchange(request)
        if answered != status or b'"errors":' in body:
            raise RuntimeError(f"expected {status}, the server answered {answered}: {body[:200]!r}")
        cost.latencies.append(time.monotonic() - began)
        cost.requests += 1


async def poll_cost(bench: Bench) -> tuple[dict[str, PollCost], int]:
    """The cases in turn on one runtime's one keep-alive connection to `compass serve` (one process), each
    ``--duration`` seconds in all, split over rounds so that the machine's other work falls on every case
    alike; also the connections the runtime opened (1 when keep-alive held)."""
    from sqlalchemy.engine import make_url

    from bench.director import agent_ssl_context, sync_document

    server = bench.serve(1, 1)
    try:
        fleet = await bench.prepare(server, 1)
        config = {
            "host": "127.0.0.1",
            "https_port": server.https_port,
            "document": sync_document("RUNTIME_ID"),
            "plain": True,
            "keep_alive": True,
        }
        context = agent_ssl_context(str(server.ca_file), *fleet.certificates[0])
        runtime = _Runtime(0, fleet.runtime_ids[0], context, config)
        connection = runtime.connection
        status, headers, body = await connection.exchange(runtime.request(None))
        if status != 200 or "etag" not in headers:
            raise RuntimeError(f"the runtime's first poll answered {status}: {body[:200]!r}")
        healthz = (
            f"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1:{server.https_port}\r\nAccept-Encoding: gzip\r\n\r\n"
        )
        requests = {
            "healthz": healthz.encode(),
            "plain": runtime.request(None),
            "etag": runtime.request(headers["etag"]),
        }
        for name, _, status, _ in POLL_COST_CASES:
            await _repeat(connection, requests[name], status, POLL_COST_WARMUP, PollCost())
        costs = {name: PollCost() for name, *_ in POLL_COST_CASES}
        pids = processes_of(server)
        postgres = postgres_backends(make_url(server.env["COMPASS_DATABASE_URL"]).database or "")
        for _ in range(POLL_COST_ROUNDS):
            for name, _, status, _ in POLL_COST_CASES:
                before, postgres_before = cpu_by_process(pids), cpu_by_process(postgres)
                seconds = bench.options.duration / POLL_COST_ROUNDS
                await _repeat(connection, requests[name], status, seconds, costs[name])
                costs[name].cpu += cpu_used(before, cpu_by_process(pids))
                costs[name].postgres_cpu += cpu_used(postgres_before, cpu_by_process(postgres))
        connection.close()
    finally:
        server.stop()
    return costs, connection.opened


def _print_poll_cost(options: argparse.Namespace, costs: dict[str, PollCost], connections: int) -> None:
    print(
        f"\n=== poll cost: one runtime, A = {options.applications} applications ({options.bundles} bundles each), "
        f"one keep-alive mTLS connection, `compass serve` (one process), PostgreSQL ===\n"
        f"the server's CPU per request (/proc) over {POLL_COST_ROUNDS} rounds of "
        f"{options.duration / POLL_COST_ROUNDS:g} s per case, the cases taking turns; one request at a time; "
        f"connections the runtime opened: {connections}"
    )
    print(
        "PG ms/req: the CPU of PostgreSQL's backends for the bench's database per request, the server's background\n"
        "writes (last-seen flushes) included: near 0 when the requests ran no SQL (/proc counts 10 ms ticks)"
    )
    print(POLL_COST_HEADER)
    floor = costs["healthz"].per_request(costs["healthz"].cpu)
    for name, title, _, goal in POLL_COST_CASES:
        cost = costs[name]
        multiple = ratio(cost.per_request(cost.cpu), floor)
        verdict_text = "" if goal is None else f"<= {goal:g} x: {verdict(multiple <= goal)}"
        print(
            f"{title:<42} {cost.requests:>8} {cost.requests / options.duration:7.0f} "
            f"{percentile(cost.latencies, 0.5) * 1000:7.2f} {cost.per_request(cost.cpu) * 1000:11.3f} "
            f"{multiple:6.2f} {cost.per_request(cost.postgres_cpu) * 1000:9.3f} | {verdict_text}"
        )


async def fleets(bench: Bench) -> None:
    """The fleet runs (or the search) per W, the profile, and the report."""
    options = bench.options
    _print_setup(options)
    print(RUN_HEADER, flush=True)
    best: dict[int, Run | None] = {}
    if options.find_max:
        start = options.runtimes
        for workers in options.workers:
            found = best[workers] = await bench.find_max(workers, start)
            # More workers hold at least as many runtimes: the next search starts from there.
            start = found.runtimes if found is not None else start
    else:
        for workers in options.workers:
            await bench.measure(workers, options.runtimes)
    profile_text = None
    if options.profile:
        runtimes = (best.get(1) or bench.runs[0]).runtimes if bench.runs else options.runtimes
        profile_file = bench.workdir / "profile.txt"
        _log(f"profiling W = 1, R = {runtimes} under pyinstrument (it slows the server)")
        profiled = await bench.measure(1, runtimes, profile_to=profile_file)
        written = profile_file.exists()
        profile_text = profile_file.read_text() if written else "(no profile written)"
        bench.runs.remove(profiled)
    _print_report(options, bench, best, profile_text)
    for log in sorted(bench.workdir.glob("serve-w*.log")):
        _print_log_findings(log)
        if options.keep_logs:
            options.keep_logs.mkdir(parents=True, exist_ok=True)
            (options.keep_logs / log.name).write_bytes(log.read_bytes())


async def main_async(options: argparse.Namespace) -> None:
    from kernel.db import Database
    from testing.databases import temporary_workspace

    started = time.monotonic()
    async with temporary_workspace("postgresql", "compass-fleet") as (workdir, url):
        data_dir = workdir / "data"
        env = {
            "COMPASS_DATA_DIR": str(data_dir),
            "COMPASS_DATABASE_URL": url,
            "COMPASS_LOG_LEVEL": options.log_level,
            "COMPASS_LOG_JSON": "true",
            # Every runtime redeems its token from 127.0.0.1 within seconds: the defaults refuse that.
            "COMPASS_REDEMPTIONS_PER_SECOND": "1000000",
            "COMPASS_MAX_CERTIFICATES_PER_CLIENT": "100",
        }
        # Seeding only; a COPY of a batch's assignments may outlast the operator's statement timeout.
        database = Database(url, statement_timeout=None)
        bench = Bench(options, workdir, data_dir, database, env)
        try:
            if options.poll_cost:
                _print_poll_cost(options, *await poll_cost(bench))
            else:
                await fleets(bench)
        finally:
            await database.dispose()
    print(f"\nbench took {time.monotonic() - started:.0f} s on {os.cpu_count()} CPUs", flush=True)


def _print_setup(options: argparse.Namespace) -> None:
    from kernel.settings import Settings

    mode = "with If-None-Match (our agent)"
    if options.plain:
        mode = "without If-None-Match (--plain, as Compass's agent)"
    connection = "a new mTLS connection per poll (--new-connection-per-poll)"
    if options.keep_alive:
        keep_alive = Settings.model_fields["keep_alive_timeout_seconds"].default
        connection = (
            f"one keep-alive mTLS connection per runtime (the server keeps an idle one {keep_alive:g} s)"
        )
    if options.push:
        connection += (
            ";\nand its change stream (GET /director/changes, a connection of its own), opened during the warm-up: "
            "it polls when told"
        )
    print(
        f"\nfleet: A = {options.applications} applications ({options.bundles} bundles each) in F = "
        f"{options.formations} formations, so {options.applications // options.formations} per runtime; each "
        f"runtime polls every P = {options.period:g} s (± {options.jitter:.0%})\n{mode}, {connection};\n"
        f"an operator changes an application every C = {options.change_every:g} s;\n"
        f"runs of {options.warmup:g} s warm-up + {options.duration:g} s measured; {options.clients} client "
        "processes; PostgreSQL",
        flush=True,
    )


def _print_report(
    options: argparse.Namespace, bench: Bench, best: dict[int, Run | None], profile: str | None
) -> None:
    print("\n=== fleet runs ===")
    print("\n".join(RUN_LEGEND))
    print(RUN_HEADER)
    for measured in bench.runs:
        print(measured.line())
    if options.push:
        print("\n=== push: every runtime holds a change stream and polls when told ===")
        print("\n".join(PUSH_LEGEND))
        print(PUSH_HEADER)
        for measured in bench.runs:
            print(measured.push_line())
    if options.find_max:
        print("\nlargest fleet with p99 < 250 ms and zero errors:")
        for workers, run in best.items():
            if run is None:
                print(f"  --workers {workers}: none of the runs passed")
                continue
            print(
                f"  --workers {workers}: {run.runtimes} runtimes, {run.polls_per_second:.1f} polls/s, "
                f"p50 {run.p50 * 1000:.1f} ms, p99 {run.p99 * 1000:.1f} ms, propagation p50/p99/max "
                f"{run.propagation_text().strip()} s, server CPU {run.per_poll(run.server_cpu):.2f} ms a poll, "
                f"{run.server_cpu * 100:.0f}% of a core (PostgreSQL {run.postgres_cpu * 100:.0f}%, clients "
                f"{run.client_cpu * 100:.0f}%: {run.per_poll(run.client_cpu):.2f} ms a poll)"
            )
    if profile is not None:
        print("\n--- profile: compass serve (one process) under the fleet, pyinstrument ---")
        print(profile)


def _print_log_findings(log: Path) -> None:
    """What the server logged at warning or above, counted by event (deadlocks, failed flushes...)."""
    events: Counter[str] = Counter()
    for line in log.read_text(errors="replace").splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict) and record.get("level") in ("warning", "error", "critical"):
            events[f"{record.get('event')}"[:100]] += 1
    if events:
        print(f"\n{log.name}: warnings and errors the server logged")
        for event, count in events.most_common(8):
            print(f"  {count:>6} x {event}")


def parse_options(argv: list[str]) -> argparse.Namespace:
    formatter = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=formatter)
    parser.add_argument("--runtimes", type=int, default=1000, help="R: runtimes (where --find-max starts)")
    parser.add_argument("--workers", default="1", help="W: server processes, comma separated for several")
    parser.add_argument("--period", type=float, default=10.0, help="P: seconds between a runtime's polls")
    parser.add_argument("--jitter", type=float, default=0.1, help="each period varies by this share")
    parser.add_argument("--applications", type=int, default=100, help="A: applications")
    parser.add_argument("--formations", type=int, default=10, help="F: formations (runtimes and apps spread)")
    parser.add_argument("--bundles", type=int, default=3, help="bundles per application (2 APIs, 1 event)")
    parser.add_argument("--change-every", type=float, default=15.0, help="C: seconds between changes")
    parser.add_argument(
        "--duration",
        type=float,
        help="measured seconds of polling per run (60); with --poll-cost, per case (10)",
    )
    parser.add_argument(
        "--warmup",
        type=float,
        help="unmeasured seconds first, over which the runtimes' first polls are spread (default P)",
    )
    parser.add_argument("--clients", type=int, default=2, help="client processes")
    parser.add_argument("--plain", action="store_true", help="no If-None-Match (Compass's agent)")
    parser.add_argument(
        "--keep-alive",
        action="store_true",
        default=True,
        help="one connection per runtime, kept across polls as Go's HTTP client keeps it (the default)",
    )
    parser.add_argument(
        "--new-connection-per-poll",
        dest="keep_alive",
        action="store_false",
        help="a TLS handshake every poll",
    )
    parser.add_argument(
        "--poll-cost",
        action="store_true",
        help="instead of a fleet: one runtime's server CPU per request for GET /healthz, an unchanged poll, "
        "and one with If-None-Match (F = 1)",
    )
    parser.add_argument(
        "--push",
        action="store_true",
        help="every runtime also holds its change stream and polls when told: propagation measures push",
    )
    parser.add_argument(
        "--idle",
        type=float,
        default=10.0,
        help="with --push: seconds of the server's idle CPU measured without and with the streams open",
    )
    parser.add_argument("--find-max", action="store_true", help="search the largest passing R per W")
    parser.add_argument("--search-runs", type=int, default=4, help="runs per W in --find-max")
    parser.add_argument("--max-runtimes", type=int, default=8000, help="--find-max never goes above this")
    parser.add_argument("--resolution", type=float, default=0.15, help="--find-max stops at this gap")
    parser.add_argument("--profile", action="store_true", help="profile W=1 at the largest passing R")
    parser.add_argument("--keep-logs", type=Path, help="copy the servers' logs into this directory")
    parser.add_argument("--log-level", default="info", help="the server's log level (as operators run it)")
    options = parser.parse_args(argv)
    options.workers = [int(value) for value in options.workers.split(",") if value.strip()]
    if options.warmup is None:
        options.warmup = options.period
    if options.poll_cost:
        options.formations = 1
        options.duration = options.duration or 10.0
        return options
    options.duration = options.duration or 60.0
    if options.formations < 1 or options.applications < options.formations:
        parser.error("--applications must be at least --formations, and --formations at least 1")
    if options.push and options.duration < 4:
        parser.error("--duration must be at least 4 s: changes need that to be pushed")
    if not options.push and options.duration < options.period * (1 + options.jitter) + 4:
        parser.error("--duration must be longer than a period and 4 s: changes need that to propagate")
    return options


def main(argv: list[str]) -> None:
    if argv[:1] == ["profiled-serve"]:
        profiled_serve(argv[1])
        return
    options = parse_options(argv)
    if not os.environ.get("COMPASS_TEST_POSTGRES_URL"):
        sys.exit("bench/fleet.py needs PostgreSQL: run `make bench-fleet` or set COMPASS_TEST_POSTGRES_URL")
    # Every kept connection is a file descriptor in a client and in the server, which inherit this limit.
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    asyncio.run(main_async(options))


if __name__ == "__main__":
    main(sys.argv[1:])
