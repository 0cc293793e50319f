"""Runtime Agent benchmark: the seconds of a first and of an unchanged sync, and the server's CPU per poll.

For each backend (SQLite, and PostgreSQL when COMPASS_TEST_POSTGRES_URL is set, as
``scripts/with-postgres.sh`` sets it) it starts a real ``compass serve`` (plain HTTP and HTTPS on free
loopback ports, a fresh data directory, ``COMPASS_REDEMPTIONS_PER_SECOND`` raised; PostgreSQL in a fresh
database migrated with ``compass migrate``). It seeds one runtime in a formation and, cumulatively, N
applications (3 bundles of 2 APIs and 1 event each, basic credentials: bench/seed.py, through the Director's
services in this process). For each N an operator asks for a one-time token over HTTP and the real agent
(``agent.loop.Agent``, in this process, directory sink in a temporary directory, an EC P-256 key instead of
Compass's RSA 4096 so that key generation does not show in the connect time) connects, syncs once (first
sync) and syncs again until the Director answers 304 (unchanged sync: no resource written). A fresh agent
marks its runtime CONNECTED after its first sync, which bumps the tenant's revision, so for a runtime that
was not yet CONNECTED one sync in between fetches everything again ("re-fetch").

Then it reads the server process's CPU (utime + stime from /proc, all its threads, aiosqlite's included; in
clock ticks of 10 ms) around polls of three kinds:

- ``If-None-Match → 304``: the agent's own poll (``DirectorClient.fetch_applications``), the ETag of its
  last answer sent back: one request whatever N;
- ``no If-None-Match, kept answer``: the same document without the header, as a plain Compass agent polls:
  every page in full from the answers the server keeps per revision;
- ``after a change: executed``: the same document after an operator's ``setRuntimeLabel`` bumped the tenant's
  revision (the mutation outside the measured span): every page executed (GraphQL and SQL) and kept again.

On PostgreSQL it also reads the CPU of the database's own backend processes (found by the database name in
their command line), which the server's figure leaves out.

Last, issue 15's goals for the agent as ratios of this run: the unchanged sync's seconds ÷ the first sync's
(≤ 5 %; the directory sink reads no manifest whose (device, inode, mtime, ctime, size) did not change and
was trusted when indexed, i.e. at least a second older than its index entry: ``files read``; the bench waits
``SETTLE_SECONDS`` before each sync after the first, as the agent's period does; and the sync neither renders
nor compares once a sync found the sink as desired and its listing returns the same manifests: ``compared``,
agent.sync.LastCompare), and
the first sync's ÷ the seconds a bare httpx client with the agent's certificate took, just before the first
sync, to fetch the same pages, executed by the server at a new revision as for the first sync and as warm
(executed once before; two operator changes around it keep it and the first sync executed) (≤ 3 ×). Nothing asserts on time;
tests/test_bench_agent_smoke.py keeps this code working.

    python bench/agent.py [--sizes 100,1000] [--backends sqlite,postgresql] [--polls 500] [--full-polls 50]
                          [--uncached-polls 3]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    # `python bench/agent.py`: make `bench`, `agent` and the server's packages importable from the root.
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx

from agent.connection import Connection
from agent.director_client import PAGE_SIZE, DirectorClient, FetchResult
from agent.loop import Agent, Outcome
from agent.queries import APPLICATIONS_FOR_RUNTIME
from agent.settings import AgentSettings
from agent.sinks.base import Manifest
from agent.sinks.directory import DirectorySink
from agent.status import ConnectionState
from bench import common
from bench.common import DIRECTOR_PATH, JSON_CONTENT, graphql_result, log
from bench.seed import Seeded, add_applications, seed_runtime
from kernel.db import Database
from kernel.settings import Settings
from testing.databases import temporary_workspace
from testing.processes import cpu_by_process, cpu_seconds, postgres_backends
from testing.served import ServedCompass, operator_headers

STATUS_RECORD_PREFIX = "compassconnection-"

REQUEST_RUNTIME_TOKEN = "mutation ($id: ID!) { result: requestOneTimeTokenForRuntime(id: $id) { token } }"
# The trivial change that bumps the tenant's revision: a label on the runtime (part of what it sees).
SET_RUNTIME_LABEL = """
mutation ($id: ID!, $value: Any!) {
  result: setRuntimeLabel(runtimeID: $id, key: "bench_revision", value: $value) { key }
}
"""

# Kinds of poll, in the order they are measured and printed.
POLL_304 = "304"
POLL_KEPT = "kept"
POLL_EXECUTED = "executed"
POLL_TITLES = {
    POLL_304: "agent, If-None-Match → 304",
    POLL_KEPT: "no If-None-Match, kept answer (full body)",
    POLL_EXECUTED: "after a change: executed, full body",
}

MAX_RESYNCS = 3
# The directory sink reads again, once, a file indexed less than 1 s after its last change (a change within the
# same timestamp tick would keep its identity): the agent's period (15 s) always leaves that long between two
# syncs, so the bench waits as long before each sync after the first. The re-reads show on the sync after
# the one that wrote the files (the re-fetch, or a 304 sync of its own row), as they do in the agent.
SETTLE_SECONDS = 1.1
# Issue 15: an unchanged sync costs at most this share of the first; the first at most this many times the
# plain fetch of its pages.
UNCHANGED_GOAL, FIRST_GOAL = 0.05, 3.0


# --- the server --------------------------------------------------------------------------------------------


@dataclass
class Target:
    """The server under measurement as the bench sees it: its settings (data directory for the operator's
    JWT, URLs) and where its CPU is read (``database_cpu``: the database's own processes, if readable)."""

    settings: Settings
    cpu: Callable[[], float]
    database_cpu: Callable[[], float] | None = None

    @property
    def director_url(self) -> str:
        return f"{self.settings.effective_public_url}{DIRECTOR_PATH}"


def compass_serve(workdir: Path, database_url: str) -> ServedCompass:
    """``compass serve`` with the bench's limits raised, its log in ``workdir/compass.log``."""
    env = {"COMPASS_REDEMPTIONS_PER_SECOND": "10000", "COMPASS_MAX_CERTIFICATES_PER_CLIENT": "1000"}
    return ServedCompass(workdir, database_url, env=env, log=workdir / "compass.log")


# --- the operator -------------------------------------------------------------------------------------------


class Operator:
    """The tenant's operator over plain HTTP, with a JWT signed by the server's key (every scope)."""

    def __init__(self, settings: Settings, tenant_id: str, director_url: str) -> None:
        self.url = director_url
        self.headers = operator_headers(settings, tenant_id)

    async def query(self, document: str, variables: dict[str, Any]) -> dict[str, Any]:
        async with httpx.AsyncClient(timeout=60, trust_env=False) as client:
            return await graphql_result(client, self.url, document, self.headers, variables)

    async def runtime_token(self, runtime_id: str) -> str:
        return str((await self.query(REQUEST_RUNTIME_TOKEN, {"id": runtime_id}))["token"])

    async def change(self, runtime_id: str) -> None:
        await self.query(SET_RUNTIME_LABEL, {"id": runtime_id, "value": uuid.uuid4().hex})


# --- the agent, instrumented --------------------------------------------------------------------------------


class CountingSink(DirectorySink):
    """The directory sink, counting the files it writes or deletes (an unchanged file is not written) and
    timing ``list_owned`` (listing the directory; reading and parsing only the manifests its index does not
    hold unchanged: ``files_read``); ``directory_syncs``: the fsyncs of the directory (one per batch of a sync,
    one per single write such as the status record's)."""

    def __init__(self, directory: Path) -> None:
        super().__init__(directory)
        self.resource_writes = 0
        self.record_writes = 0
        self.read_seconds = 0.0

    def reset(self) -> None:
        self.resource_writes = self.record_writes = self.files_read = self.directory_syncs = 0
        self.read_seconds = 0.0

    async def list_owned(self, kind: str) -> dict[str, Manifest]:
        started = time.perf_counter()
        try:
            return await super().list_owned(kind)
        finally:
            self.read_seconds += time.perf_counter() - started

    def _count(self, name: str) -> None:
        if name.startswith(STATUS_RECORD_PREFIX):
            self.record_writes += 1
        else:
            self.resource_writes += 1

    def _write(self, path: Path, text: bytes, *, secret: bool, sync_directory: bool) -> os.stat_result | None:
        self._count(path.name)
        return super()._write(path, text, secret=secret, sync_directory=sync_directory)

    def _delete(self, kind: str, name: str, *, sync_directory: bool = True) -> bool:
        self._count(f"{kind.lower()}-")
        return super()._delete(kind, name, sync_directory=sync_directory)

    def stats(self) -> dict[str, tuple[int, int]]:
        """File name → (inode, mtime ns) of each resource manifest (the status record left out)."""
        return {
            path.name: (path.stat().st_ino, path.stat().st_mtime_ns)
            for path in sorted(self.directory.glob("*.yaml"))
            if not path.name.startswith(STATUS_RECORD_PREFIX)
        }


class TimedDirector(DirectorClient):
    """The agent's Director client, timing each ``fetch_applications`` (the HTTP part of a sync)."""

    def __init__(self, director_url: str, **kwargs: Any) -> None:
        super().__init__(director_url, **kwargs)
        self.seconds = 0.0
        self.not_modified = 0

    async def fetch_applications(self, runtime_id: str) -> FetchResult | None:
        started = time.perf_counter()
        try:
            result = await super().fetch_applications(runtime_id)
        finally:
            self.seconds += time.perf_counter() - started
        if result is None:
            self.not_modified += 1
        return result


@dataclass
class SyncFigures:
    seconds: float
    fetch_seconds: float  # of which fetching all pages
    read_seconds: float  # of which reading the sink's resources (list_owned)
    files_read: int  # manifest files list_owned read and parsed (not unchanged since it last did)
    agent_cpu: float  # this process's CPU: the agent (JSON, YAML, files) and its HTTP client
    server_cpu: float
    resource_writes: int
    record_writes: int
    directory_syncs: int
    not_modified: bool
    compared: bool  # rendered the answer and compared it with the sink (not skipped by LastCompare)
    outcome: Outcome


@dataclass
class PollFigures:
    kind: str
    polls: int
    requests_per_poll: int
    server_cpu: float
    database_cpu: float | None
    wall: float
    bytes_per_poll: int
    statuses: set[int]

    def per_poll(self, seconds: float | None) -> float | None:
        return None if seconds is None else seconds / self.polls


@dataclass
class SizeReport:
    size: int
    connect_seconds: float
    first: SyncFigures
    unchanged: SyncFigures
    files_untouched: bool  # no resource manifest's inode or mtime changed during the unchanged sync
    applications: int  # Application manifests after the first sync
    bare_fetch_seconds: float  # every page fetched by a bare client just before the first sync (bare_fetch)
    resyncs: list[SyncFigures] = field(default_factory=list)  # syncs between the first and the 304 one
    # 304 syncs before the unchanged one that read again the files written just before they were indexed, or
    # compared what they read
    rereads: list[SyncFigures] = field(default_factory=list)
    polls: list[PollFigures] = field(default_factory=list)
    idle_server_cpu_per_second: float = 0.0
    load: tuple[float, float, float] = (0.0, 0.0, 0.0)


async def timed_sync(
    agent: Agent, sink: CountingSink, directors: list[TimedDirector], target: Target
) -> SyncFigures:
    sink.reset()
    fetch_before = sum(item.seconds for item in directors)
    not_modified_before = sum(item.not_modified for item in directors)
    cpu, server = time.process_time(), target.cpu()
    started = time.perf_counter()
    outcome = await agent.run_once()
    seconds = time.perf_counter() - started
    server_cpu, agent_cpu = target.cpu() - server, time.process_time() - cpu
    if outcome.state is not ConnectionState.SYNCHRONIZED or outcome.result is None:
        raise RuntimeError(f"the agent's sync failed: {outcome.state} {outcome.error}")
    return SyncFigures(
        seconds=seconds,
        fetch_seconds=sum(item.seconds for item in directors) - fetch_before,
        read_seconds=sink.read_seconds,
        files_read=sink.files_read,
        agent_cpu=agent_cpu,
        server_cpu=server_cpu,
        resource_writes=sink.resource_writes,
        record_writes=sink.record_writes,
        directory_syncs=sink.directory_syncs,
        not_modified=sum(item.not_modified for item in directors) > not_modified_before,
        compared=outcome.result.compared,
        outcome=outcome,
    )


def agent_settings(target: Target, seeded: Seeded, token: str, state_dir: Path) -> AgentSettings:
    """What matters is given here: init arguments win over the environment (TOKEN, AGENT_*) of the bench."""
    return AgentSettings.load(
        None,
        connector_url=target.settings.connector_url,
        runtime_id=seeded.runtime_id,
        tenant=seeded.tenant_id,
        token=token,
        state_dir=state_dir,
        key_type="ec-p256",
        http_timeout=300.0,
    )


# --- polls --------------------------------------------------------------------------------------------------


async def plain_poll(http: httpx.AsyncClient, url: str, runtime_id: str) -> tuple[int, int, set[int]]:
    """Every page of the agent's document without If-None-Match; returns (pages, bytes, statuses)."""
    after: str | None = None
    pages = size = 0
    statuses: set[int] = set()
    while True:
        variables = {"runtimeID": runtime_id, "first": PAGE_SIZE, "after": after}
        body = json.dumps({"query": APPLICATIONS_FOR_RUNTIME, "variables": variables}).encode("utf-8")
        response = await http.post(url, content=body, headers=JSON_CONTENT)
        pages, size = pages + 1, size + len(response.content)
        statuses.add(response.status_code)
        answer = response.json()
        if response.status_code != 200 or answer.get("errors"):
            raise RuntimeError(f"the Director answered {response.status_code}: {answer.get('errors')}")
        page_info = answer["data"]["result"]["pageInfo"]
        if not page_info["hasNextPage"]:
            return pages, size, statuses
        after = page_info["endCursor"]


@dataclass
class Meter:
    """Server CPU, database CPU and wall time over the spans between ``start`` and ``stop``."""

    target: Target
    server: float = 0.0
    database: float = 0.0
    wall: float = 0.0
    _marks: tuple[float, float, float] = (0.0, 0.0, 0.0)

    def _read(self) -> tuple[float, float, float]:
        database = self.target.database_cpu() if self.target.database_cpu else 0.0
        return self.target.cpu(), database, time.perf_counter()

    def start(self) -> None:
        self._marks = self._read()

    def stop(self) -> None:
        now = self._read()
        self.server += now[0] - self._marks[0]
        self.database += now[1] - self._marks[1]
        self.wall += now[2] - self._marks[2]


async def measure(
    target: Target,
    kind: str,
    polls: int,
    poll: Callable[[], Awaitable[tuple[int, int, set[int]]]],
    before_each: Callable[[], Awaitable[None]] | None = None,
) -> PollFigures:
    """Server CPU over ``polls`` polls, read once around all of them (/proc counts in clock ticks of 10 ms);
    with ``before_each``, around each poll so that what it does stays out."""
    meter = Meter(target)
    requests = size = 0
    statuses: set[int] = set()
    if before_each is None:
        meter.start()
    for _ in range(polls):
        if before_each is not None:
            await before_each()
            meter.start()
        pages, answer_bytes, answered = await poll()
        if before_each is not None:
            meter.stop()
        requests, size = requests + pages, size + answer_bytes
        statuses |= answered
    if before_each is None:
        meter.stop()
    database = meter.database if target.database_cpu else None
    per_poll = (requests // polls, size // polls)
    return PollFigures(kind, polls, per_poll[0], meter.server, database, meter.wall, per_poll[1], statuses)


def bare_client(connection: Connection) -> DirectorClient:
    """A Director client with the agent's certificate, whose own httpx client serves as the bare one."""
    store = connection.store
    return DirectorClient(
        connection.director_url,
        timeout=300.0,
        cert_file=store.chain_file,
        key_file=store.key_file,
        ca_file=store.ca_file,
    )


async def bare_fetch(operator: Operator, seeded: Seeded, connection: Connection) -> float:
    """Seconds for a bare httpx client to fetch every page of the agent's document, executed by the server
    as for the agent's first sync (a new revision) and as warm (the same pages were executed once before);
    a new revision after it, so that the agent's first sync is executed too."""
    client = bare_client(connection)
    try:
        await plain_poll(client._http, connection.director_url, seeded.runtime_id)
        await operator.change(seeded.runtime_id)
        started = time.perf_counter()
        await plain_poll(client._http, connection.director_url, seeded.runtime_id)
        seconds = time.perf_counter() - started
        await operator.change(seeded.runtime_id)
        return seconds
    finally:
        await client.aclose()


async def measure_polls(
    target: Target, operator: Operator, seeded: Seeded, connection: Connection, options: argparse.Namespace
) -> list[PollFigures]:
    client = bare_client(connection)
    runtime_id = seeded.runtime_id
    try:
        if await client.fetch_applications(runtime_id) is None:  # the first poll of a client is never a 304
            raise RuntimeError("a fresh Director client got 304")

        async def conditional() -> tuple[int, int, set[int]]:
            result = await client.fetch_applications(runtime_id)
            return (1, 0, {304}) if result is None else (0, 0, {200})

        async def unconditional() -> tuple[int, int, set[int]]:
            # The agent client's own httpx client: the same TLS connection, no If-None-Match.
            return await plain_poll(client._http, connection.director_url, runtime_id)

        async def change() -> None:
            await operator.change(runtime_id)

        figures = [await measure(target, POLL_304, options.polls, conditional)]
        await unconditional()  # the first answer to this body at this revision is executed: keep it out
        figures.append(await measure(target, POLL_KEPT, options.full_polls, unconditional))
        figures.append(await measure(target, POLL_EXECUTED, options.uncached_polls, unconditional, change))
        return figures
    finally:
        await client.aclose()


# --- one N --------------------------------------------------------------------------------------------------


async def measure_size(
    target: Target, seeded: Seeded, size: int, workdir: Path, options: argparse.Namespace
) -> SizeReport:
    """A fresh agent for the runtime (which sees ``size`` applications): connect, first sync, unchanged sync,
    then the polls."""
    operator = Operator(target.settings, seeded.tenant_id, target.director_url)
    token = await operator.runtime_token(seeded.runtime_id)
    settings = agent_settings(target, seeded, token, workdir / f"agent-{size}")
    assert settings.manifest_dir is not None
    sink = CountingSink(settings.manifest_dir)
    directors: list[TimedDirector] = []

    def director_factory(connection: Connection, current: AgentSettings) -> DirectorClient:
        store = connection.store
        director = TimedDirector(
            connection.director_url,
            cert_file=store.chain_file,
            key_file=store.key_file,
            ca_file=store.ca_file,
            timeout=current.http_timeout,
        )
        directors.append(director)
        return director

    agent = Agent(settings, sink=sink, rng=random.Random(7), director_factory=director_factory)
    async with agent:
        started = time.perf_counter()
        maintenance = await agent.renew()  # no certificate yet: connects with the token
        connect_seconds = time.perf_counter() - started
        if maintenance.connection is None:
            raise RuntimeError(f"the agent could not connect: {maintenance.record.connection_status.error}")
        bare = await bare_fetch(operator, seeded, maintenance.connection)
        first = await timed_sync(agent, sink, directors, target)
        applications = len(list(sink.directory.glob("application-*.yaml")))
        # After its first sync a fresh agent marks its runtime CONNECTED (updateRuntime), which bumps the
        # tenant's revision: the next sync fetches again. Sync until the Director answers 304, the sink reads
        # no file (the sync after the last writes reads again what they wrote: SETTLE_SECONDS) and nothing is
        # compared (a sync found the sink as desired since the last change it saw).
        resyncs: list[SyncFigures] = []
        rereads: list[SyncFigures] = []
        while True:
            await asyncio.sleep(SETTLE_SECONDS)
            before = sink.stats()
            sync = await timed_sync(agent, sink, directors, target)
            if sync.not_modified and not sync.files_read and not sync.compared:
                break
            (rereads if sync.not_modified else resyncs).append(sync)
            if len(resyncs) + len(rereads) == MAX_RESYNCS:
                raise RuntimeError(
                    f"{MAX_RESYNCS} syncs after the first one and none got 304 reading and comparing nothing"
                )
        untouched = sink.stats() == before
    report = SizeReport(size, connect_seconds, first, sync, untouched, applications, bare, resyncs, rereads)
    report.polls = await measure_polls(target, operator, seeded, maintenance.connection, options)
    report.idle_server_cpu_per_second = await idle_cpu(target, options.idle_seconds)
    report.load = os.getloadavg()
    return report


async def idle_cpu(target: Target, seconds: float) -> float:
    """The server's CPU per second with no request (its background work: the last-seen flush, timers)."""
    if seconds <= 0:
        return 0.0
    cpu = target.cpu()
    await asyncio.sleep(seconds)
    return (target.cpu() - cpu) / seconds


# --- one backend --------------------------------------------------------------------------------------------


async def run_backend(backend: str, options: argparse.Namespace) -> list[SizeReport]:
    reports: list[SizeReport] = []
    log(f"{backend}: a migrated database")
    async with temporary_workspace(backend, "compass-agent-bench") as (workdir, url):
        database = Database(url)
        try:
            seeded = await seed_runtime(database)
            with compass_serve(workdir, url) as server:
                pid = server.pid
                database_cpu = None
                if backend == "postgresql":
                    from sqlalchemy.engine import make_url

                    name = str(make_url(url).database)
                    database_cpu = lambda: sum(cpu_by_process(postgres_backends(name)).values())  # noqa: E731
                target = Target(server.settings, lambda: cpu_seconds(pid), database_cpu)
                seeded_count = 0
                for size in options.sizes:
                    log(f"{backend}: seeding up to N = {size}")
                    started = time.perf_counter()
                    await add_applications(database, seeded, seeded_count, size - seeded_count)
                    seconds = time.perf_counter() - started
                    log(f"{backend}: seeded in {seconds:.1f} s; measuring N = {size}")
                    seeded_count = size
                    report = await measure_size(target, seeded, size, workdir, options)
                    check(report)
                    reports.append(report)
                    print(f"\n{format_report(report)}", flush=True)
        finally:
            await database.dispose()
    return reports


def check(report: SizeReport) -> None:
    """What the figures stand for; a bench that measured something else must not print them as these."""
    problems = []
    if report.applications != report.size:
        problems.append(f"{report.applications} Application manifests for {report.size} applications")
    result = report.unchanged.outcome.result
    if not report.unchanged.not_modified or result is None or not result.unchanged:
        problems.append("the unchanged sync did not get 304")
    if report.unchanged.resource_writes or not report.files_untouched:
        problems.append(f"the unchanged sync wrote {report.unchanged.resource_writes} resource files")
    if report.unchanged.files_read:
        problems.append(f"the unchanged sync read {report.unchanged.files_read} manifest files again")
    if report.unchanged.compared:
        problems.append("the unchanged sync rendered and compared the answer")
    expected = {POLL_304: {304}, POLL_KEPT: {200}, POLL_EXECUTED: {200}}
    problems.extend(
        f"{POLL_TITLES[poll.kind]} answered {sorted(poll.statuses)}"
        for poll in report.polls
        if poll.statuses != expected[poll.kind]
    )
    if problems:
        raise RuntimeError("; ".join(problems))


# --- printing -----------------------------------------------------------------------------------------------


def _ms(seconds: float | None, width: int = 8) -> str:
    return f"{'—':>{width}}" if seconds is None else f"{seconds * 1000:{width}.2f}"


def format_report(report: SizeReport) -> str:
    first, unchanged = report.first, report.unchanged
    one, five, fifteen = report.load
    lines = [
        (
            f"N = {report.size} applications ({report.size * 3} bundles, {report.size * 6} APIs, "
            f"{report.size * 3} events)"
        ),
        f"  connect (token → certificate, EC P-256)       {report.connect_seconds:8.3f} s",
        (
            "  sync                         seconds   fetch s  sink read s  files read  agent CPU s  server CPU s"
            "  resource writes  status writes  dir fsyncs"
        ),
    ]
    rows = [("first sync", first)]
    rows += [("re-fetch (revision bumped)", sync) for sync in report.resyncs]
    rows += [("304, re-reads or compares", sync) for sync in report.rereads]
    rows.append(("unchanged sync (304)", unchanged))
    for title, sync in rows:
        lines.append(
            f"  {title:<26} {sync.seconds:9.3f} {sync.fetch_seconds:9.3f} {sync.read_seconds:12.3f}"
            f" {sync.files_read:11d} {sync.agent_cpu:12.3f}"
            f" {sync.server_cpu:13.3f} {sync.resource_writes:16d} {sync.record_writes:14d}"
            f" {sync.directory_syncs:11d}"
        )
    lines.append(
        f"  unchanged sync: 304 = {unchanged.not_modified}, resource files untouched (inode, mtime) = "
        f"{report.files_untouched}, rendered and compared = {unchanged.compared}"
    )
    lines.append(
        "  poll                                            polls  req/poll  server CPU ms/poll"
        "  db CPU ms/poll  wall ms/poll  KiB/poll"
    )
    lines.extend(
        f"  {POLL_TITLES[poll.kind]:<47} {poll.polls:5d} {poll.requests_per_poll:9d}"
        f" {_ms(poll.per_poll(poll.server_cpu), 19)} {_ms(poll.per_poll(poll.database_cpu), 15)}"
        f" {_ms(poll.per_poll(poll.wall), 13)} {poll.bytes_per_poll / 1024:9.1f}"
        for poll in report.polls
    )
    lines.extend(goal_lines(report))
    lines.append(
        f"  server idle: {report.idle_server_cpu_per_second * 1000:.1f} ms CPU/s; "
        f"load average {one:.2f} {five:.2f} {fifteen:.2f} on {os.cpu_count()} CPUs"
    )
    return "\n".join(lines)


def goal_lines(report: SizeReport) -> list[str]:
    """Issue 15's goals for the agent, as ratios of figures of this run (meant for N = 1,000)."""
    unchanged = report.unchanged.seconds / report.first.seconds
    executed = next(poll for poll in report.polls if poll.kind == POLL_EXECUTED)
    first = report.first.seconds / report.bare_fetch_seconds
    return [
        (
            f"  unchanged sync ÷ first sync: {unchanged * 100:.2f} % (goal ≤ {UNCHANGED_GOAL * 100:.0f} %: "
            f"{_met(unchanged <= UNCHANGED_GOAL)})"
        ),
        (
            f"  first sync ÷ its {executed.requests_per_poll} pages fetched by a bare httpx client just before "
            f"(executed, {report.bare_fetch_seconds:.3f} s): {first:.2f} × (goal ≤ {FIRST_GOAL:.0f} ×: "
            f"{_met(first <= FIRST_GOAL)})"
        ),
    ]


def _met(met: bool) -> str:
    return "met" if met else "NOT met"


# --- main ---------------------------------------------------------------------------------------------------


def parse_arguments(argv: list[str] | None = None) -> argparse.Namespace:
    parser = common.parser(__doc__, sizes="100,1000")
    parser.add_argument("--polls", type=int, default=500, help="polls answered 304 per N (default 500)")
    parser.add_argument("--full-polls", type=int, default=50, help="polls without If-None-Match (default 50)")
    parser.add_argument("--uncached-polls", type=int, default=3, help="polls after a change (default 3)")
    parser.add_argument("--idle-seconds", type=float, default=1.0, help="idle CPU window (default 1 s)")
    options = common.parse(parser, argv)
    if min(options.polls, options.full_polls, options.uncached_polls) < 1:
        parser.error("every kind of poll needs at least one poll")
    return options


async def main(argv: list[str] | None = None) -> int:
    from dataplane.logging import configure_logging

    options = parse_arguments(argv)
    configure_logging(level="warning", json=False)  # the agent's progress logs would break the table
    print(
        f"Runtime Agent benchmark: sizes {options.sizes}; load average {os.getloadavg()[0]:.2f} on "
        f"{os.cpu_count()} CPUs; server CPU = utime+stime of `compass serve` (/proc); db CPU = the "
        "PostgreSQL backends of the bench's database",
        flush=True,
    )
    for backend in options.backends:
        if backend == "postgresql" and not os.environ.get("COMPASS_TEST_POSTGRES_URL"):
            print("\n## postgresql: skipped (no COMPASS_TEST_POSTGRES_URL; see scripts/with-postgres.sh)")
            continue
        print(f"\n## {backend}", flush=True)
        await run_backend(backend, options)
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
