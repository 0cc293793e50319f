"""Gateway benchmark: calls through the Application Gateway against the same calls made directly to the same
target, in the same run.

One ``compass-gateway serve`` process (testing/gateway.py) reads a manifest directory holding one Application
with two services on one target: ``basic`` (Basic credentials) and ``oauth`` (OAuth client credentials; the
gateway keeps the token, ``expires_in`` 3600). The target (bench/gateway_target.py) is a raw ASGI app on uvicorn
in a process of its own, so its cost is tiny and the same for both kinds of call; a direct call carries the
``Authorization`` the gateway would add. The load runs in a third process (bench/load_client.py: aiohttp on
uvloop). Per case (credentials × answer size) it prints:

- closed loop: req/s, p50 and p99 directly and through the gateway, their ratio, and the CPU per request of the
  target (direct calls) and of the gateway process;
- open loop at ``--fixed-load`` × the case's through-gateway req/s: p50 and p99 directly and through the gateway
  at that same offered rate, and the p50 the gateway adds;
- the gateway's memory (VmRSS, and its peak VmHWM) around a ``--stream-mb`` download and upload through it;
- with ``--profile``, the top of a pyinstrument profile of a gateway run in this process under the same load.

bench/README.md says what each figure means and the goals they are read against. Nothing asserts on time;
tests/test_bench_gateway_smoke.py keeps this code working.

    python bench/gateway.py [--duration 3] [--cases basic-1k,oauth-1k,basic-1m,oauth-1m] [--no-profile]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    # `python bench/gateway.py`: make `bench` importable from the repository root.
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import aiohttp

from bench.common import (
    OPEN_LOOP_CONNECTIONS,
    bench_main,
    closed_loop,
    log,
    ms,
    open_loop,
    ratio,
    run_load_client,
    shares,
    verdict,
)
from bench.gateway_target import CLIENT_ID, CLIENT_SECRET, PASSWORD, TOKEN_EXPIRES_IN, USER, basic
from testing.applications import Manifest, ManifestDirectory, api_entry, application, secret, service
from testing.gateway import ServedGateway, start_gateway
from testing.ports import free_port
from testing.processes import cpu_seconds
from testing.served import ServedProcess

APPLICATION = "bench"
AUTHS = ("basic", "oauth")
SIZES = {"1k": 1024, "1m": 1024 * 1024}
CASES = "basic-1k,oauth-1k,basic-1m,oauth-1m"
MIB = 1024 * 1024
STREAM_CHUNK = 64 * 1024
PROFILE_TOP = 15
# The frame that runs the loop: its own time is uvloop's C code (socket reads and writes) and the idle wait.
_LOOP_FRAME = "run  asyncio/runners.py:"
EVENT_LOOP = "the event loop: uvloop's C code (socket I/O) and waiting for sockets"
# The goals of issue 11 the figures are read against.
THROUGHPUT_GOAL = 0.5  # through-gateway req/s ÷ direct req/s, 1 KiB answers
ADDED_P50_GOAL = 0.001  # seconds the gateway may add to p50 at half its saturating rate
FLAT_SHARE = 0.1  # "flat": the peak grows by less than this share of what was streamed

Call = tuple[str, dict[str, str]]  # a URL and the headers to send with it


@dataclass(frozen=True)
class Case:
    auth: str  # a service of the bench's Application: basic or oauth
    size_name: str  # a key of SIZES

    @classmethod
    def parse(cls, text: str) -> Case:
        auth, _, size_name = text.strip().partition("-")
        if auth not in AUTHS or size_name not in SIZES:
            raise ValueError(text)
        return cls(auth, size_name)

    @property
    def name(self) -> str:
        return f"{self.auth}-{self.size_name}"

    @property
    def size(self) -> int:
        return SIZES[self.size_name]

    @property
    def path(self) -> str:
        return f"/bytes/{self.size}"


# The load client process (bench/load_client.py): configuration in as JSON, results out ----------------------


def _session(connections: int) -> aiohttp.ClientSession:
    connector = aiohttp.TCPConnector(limit=connections)
    return aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=300))


async def fetch(session: aiohttp.ClientSession, url: str, headers: dict[str, str], size: int) -> None:
    """One GET, its body read chunk by chunk and dropped; anything but 200 with ``size`` bytes raises."""
    received = 0
    async with session.get(url, headers=headers) as response:
        if response.status != 200:
            raise RuntimeError(f"{url} answered {response.status}: {(await response.read())[:300]!r}")
        async for chunk in response.content.iter_any():
            received += len(chunk)
    if received != size:
        raise RuntimeError(f"{url} answered {received} bytes instead of {size}")


async def load_process(config: dict[str, Any]) -> dict[str, Any]:
    """The load client process's work: at a fixed ``rate``, or closed loop with ``concurrency`` connections."""
    url, headers, size, rate = config["url"], config["headers"], config["size"], config.get("rate")
    concurrency, warmup, duration = config["concurrency"], config["warmup"], config["duration"]
    async with _session(OPEN_LOOP_CONNECTIONS if rate else concurrency) as session:

        async def call() -> int:
            await fetch(session, url, headers, size)
            return 1

        if rate:
            return await open_loop(call, rate=rate, warmup=warmup, duration=duration)
        return await closed_loop(
            call, concurrency=concurrency, min_count=concurrency, warmup=warmup, duration=duration
        )


async def run_client(config: dict[str, Any]) -> dict[str, Any]:
    return await run_load_client("bench.gateway:load_process", config)


# The target and the gateway ---------------------------------------------------------------------------------


def target_server(workdir: Path) -> ServedProcess:
    port = free_port()
    command = [sys.executable, "-m", "bench.gateway_target", str(port)]
    return ServedProcess("gateway bench target", command, log=workdir / "target.log", http_port=port)


def floor_server(workdir: Path, target_url: str) -> ServedProcess:
    """The bare forwarder (bench/gateway_floor.py); ready once it forwards the target's /healthz."""
    port = free_port()
    command = [sys.executable, "-m", "bench.gateway_floor", str(port), target_url]
    return ServedProcess("gateway bench floor", command, log=workdir / "floor.log", http_port=port)


def manifests(target_url: str) -> list[Manifest]:
    """The bench's Application: a service per kind of credentials, each with one API on the target's root."""
    credentials = {
        "basic": {"type": "Basic", "secretName": "bench-basic"},
        "oauth": {"type": "OAuth", "secretName": "bench-oauth", "authenticationUrl": f"{target_url}/token"},
    }
    services = [
        service(auth, api_entry(f"{auth} bytes", target_url, credentials=credentials[auth])) for auth in AUTHS
    ]
    return [
        application(APPLICATION, *services),
        secret("bench-basic", username=USER, password=PASSWORD),
        secret("bench-oauth", clientId=CLIENT_ID, clientSecret=CLIENT_SECRET),
    ]


async def oauth_token(target_url: str) -> str:
    """The target's token, fetched once as the gateway fetches it, for the direct OAuth calls."""
    async with (
        aiohttp.ClientSession() as session,
        session.post(
            f"{target_url}/token",
            data={"grant_type": "client_credentials"},
            headers={"Authorization": basic(CLIENT_ID, CLIENT_SECRET)},
        ) as response,
    ):
        response.raise_for_status()
        return str((await response.json())["access_token"])


async def tokens_issued(target_url: str) -> int:
    async with aiohttp.ClientSession() as session, session.get(f"{target_url}/stats") as response:
        return int((await response.json())["tokens"])


@dataclass(frozen=True)
class Load:
    rate: float
    p50: float
    p99: float
    count: int
    requests: int
    client_cpu: float  # share of one CPU
    wall: float  # seconds the client loaded the servers (its start-up left out)
    cpu: dict[str, float]  # CPU seconds of each server process over the client's whole run

    def per_request(self, server: str) -> float:
        return self.cpu[server] / self.requests if self.requests else float("nan")

    def busy(self, server: str) -> float:
        return self.cpu[server] / self.wall


@dataclass(frozen=True)
class Setup:
    target: ServedProcess
    gateway: ServedGateway
    floor: ServedProcess  # the bare forwarder
    token: str  # the target's OAuth token, for direct calls
    options: argparse.Namespace

    def direct(self, auth: str, path: str) -> Call:
        """The URL and headers of a direct call: the ``Authorization`` the gateway would send."""
        authorization = basic(USER, PASSWORD) if auth == "basic" else f"Bearer {self.token}"
        return self.target.http_url + path, {"Authorization": authorization}

    def forwarded(self, auth: str, path: str) -> Call:
        """A direct call's URL and headers, through the bare forwarder."""
        url, headers = self.direct(auth, path)
        return self.floor.http_url + url.removeprefix(self.target.http_url), headers

    def through(self, auth: str, path: str) -> Call:
        """The URL and headers of a call through the gateway's standalone listener: no credentials."""
        return f"{self.gateway.standalone_url}/{APPLICATION}/{auth}{path}", {}

    async def measure(self, config: dict[str, Any]) -> Load:
        """The load client's run with the CPU seconds the target and the gateway spent meanwhile."""
        pids = {"target": self.target.pid, "gateway": self.gateway.process.pid, "floor": self.floor.pid}
        for served in (self.target, self.gateway.process, self.floor):
            served.check_alive()
        cpu_from = {name: cpu_seconds(pid) for name, pid in pids.items()}
        result = await run_client(config)
        cpu = {name: cpu_seconds(pid) - cpu_from[name] for name, pid in pids.items()}
        keys = ("rate", "p50", "p99", "count", "requests", "client_cpu", "wall")
        return Load(**{key: result[key] for key in keys}, cpu=cpu)

    def config(self, call: Call, size: int, **extra: Any) -> dict[str, Any]:
        url, headers = call
        options = self.options
        return {
            "url": url,
            "headers": headers,
            "size": size,
            "concurrency": options.concurrency,
            "warmup": options.warmup,
            "duration": options.duration,
            **extra,
        }


@dataclass(frozen=True)
class Row:
    case: Case
    direct: Load
    through: Load
    floor: Load  # through the bare forwarder
    load_average: float  # 1-minute load average after the closed-loop runs: above the CPUs, others competed
    fixed: tuple[Load, Load] | None  # open loop at the same offered rate: direct, through the gateway


async def measure_case(setup: Setup, case: Case) -> Row:
    direct_call, through_call = setup.direct(case.auth, case.path), setup.through(case.auth, case.path)
    log(f"{case.name}: closed loop, direct and through the gateway")
    direct = await setup.measure(setup.config(direct_call, case.size))
    through = await setup.measure(setup.config(through_call, case.size))
    floor = await setup.measure(setup.config(setup.forwarded(case.auth, case.path), case.size))
    load_average = os.getloadavg()[0]
    fixed = None
    if setup.options.fixed_load > 0:
        rate = max(1.0, through.rate * setup.options.fixed_load)
        log(f"{case.name}: open loop at {rate:.0f} req/s, direct and through the gateway")
        fixed = (
            await setup.measure(setup.config(direct_call, case.size, rate=rate)),
            await setup.measure(setup.config(through_call, case.size, rate=rate)),
        )
    return Row(case, direct, through, floor, load_average, fixed)


# Memory while streaming --------------------------------------------------------------------------------------


def status_kib(pid: int, field: str) -> int:
    """A ``kB`` field of /proc/PID/status: VmRSS (resident now) or VmHWM (its peak)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    raise RuntimeError(f"/proc/{pid}/status has no {field}")


def reset_peak(pid: int) -> None:
    """VmHWM starts again from the current VmRSS (Linux: "5" into clear_refs, allowed for our own processes)."""
    Path(f"/proc/{pid}/clear_refs").write_text("5")


@dataclass(frozen=True)
class Transfer:
    kind: str  # download or upload
    size: int
    seconds: tuple[float, float]  # direct, through the gateway
    rss_before: int  # KiB of the gateway process, before the transfer through it
    peak: int  # its VmHWM during it
    rss_after: int

    @property
    def growth(self) -> int:
        return self.peak - self.rss_before


async def _download(session: aiohttp.ClientSession, call: Call, size: int) -> None:
    await fetch(session, *call, size)


async def _upload(session: aiohttp.ClientSession, call: Call, size: int) -> None:
    """A streamed body of ``size`` bytes with its Content-Length (so the gateway streams it, unchunked)."""
    url, headers = call

    async def body() -> AsyncIterator[bytes]:
        chunk = bytes(STREAM_CHUNK)
        for start in range(0, size, STREAM_CHUNK):
            yield chunk[: size - start]

    headers = {**headers, "Content-Length": str(size)}
    async with session.post(url, data=body(), headers=headers) as response:
        answer = await response.read()
    if response.status != 200 or answer != str(size).encode():
        raise RuntimeError(f"{url} answered {response.status}: {answer[:300]!r}")


Move = Callable[[aiohttp.ClientSession, Call, int], Awaitable[None]]


async def measure_memory(setup: Setup, size: int) -> list[Transfer]:
    """Each transfer once directly (for its speed), then through the gateway between two looks at its memory."""
    pid = setup.gateway.process.pid
    transfers = []
    moves: tuple[tuple[str, str, Move], ...] = (
        ("download", f"/bytes/{size}", _download),
        ("upload", "/sink", _upload),
    )
    async with _session(1) as session:
        for kind, path, move in moves:
            log(f"{kind} of {size / MIB:g} MiB, direct and through the gateway")
            started = time.perf_counter()
            await move(session, setup.direct("basic", path), size)
            direct = time.perf_counter() - started
            rss_before = status_kib(pid, "VmRSS")
            reset_peak(pid)
            started = time.perf_counter()
            await move(session, setup.through("basic", path), size)
            through = time.perf_counter() - started
            peak, rss_after = status_kib(pid, "VmHWM"), status_kib(pid, "VmRSS")
            transfers.append(Transfer(kind, size, (direct, through), rss_before, peak, rss_after))
    return transfers


# The profile ---------------------------------------------------------------------------------------------


async def profile_gateway(manifest_dir: Path, setup: Setup) -> str:
    """pyinstrument on this process while it serves the gateway's standalone proxy as ``compass-gateway serve``
    does (uvicorn, httptools, on this uvloop) to a load client process running the first case, closed loop.

    Its samples are the main thread's (``async_mode="disabled"``): a frame's own time is its own work, and time
    the loop spends waiting for sockets is the own time of the frame that runs the loop.
    """
    import uvicorn
    from pyinstrument import Profiler

    from bench.director import profile_tables
    from dataplane.serving import Listener, bind, uvicorn_config
    from gateway.app import Gateway
    from gateway.settings import GatewaySettings

    case = setup.options.cases[0]
    gateway = Gateway(GatewaySettings(manifest_dir=manifest_dir))
    proxy = gateway.proxy(compass=False)
    listener = Listener("standalone proxy", proxy, "127.0.0.1", 0, proxy=True)
    [sock] = bind([listener])
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn_config(listener))
    await gateway.start()
    serving = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        while not server.started:
            if serving.done():
                serving.result()
            await asyncio.sleep(0.01)
        call: Call = (
            f"http://127.0.0.1:{port}/{APPLICATION}/{case.auth}{case.path}",
            {},
        )
        await run_client(setup.config(call, case.size, warmup=0.0, duration=min(0.5, setup.options.duration)))
        profiler = Profiler(interval=0.001, async_mode="disabled")
        cpu_from, wall_from = time.process_time(), time.perf_counter()
        profiler.start()
        result = await run_client(setup.config(call, case.size, warmup=0.0))
        profiler.stop()
        cpu, wall = time.process_time() - cpu_from, time.perf_counter() - wall_from
    finally:
        server.should_exit = True
        await serving
        await gateway.stop()
    served = (
        f"{case.name}, {setup.options.concurrency} connections, {setup.options.duration:g} s: "
        f"{result['rate']:.0f} req/s, {cpu / result['requests'] * 1e6:.0f} µs CPU per request; this process"
        f" was busy {cpu / wall:.0%} of the time (the profiler's cost included)"
    )
    lines = [served]
    session = profiler.last_session
    if session is not None and (root := session.root_frame()) is not None:
        tables = profile_tables(root)
        lines.extend(render_profile(tables.by_function, tables.total))
    return "\n".join(lines)


def _label(function: str) -> str:
    return EVENT_LOOP if function.startswith(_LOOP_FRAME) else function


def _package(function: str) -> str:
    """``"relay  gateway/proxy.py:300"`` → ``gateway``; a standard-library module by its name (``selectors``)."""
    if function == EVENT_LOOP:
        return function
    location = function.rsplit("  ", 1)[-1].rsplit(":", 1)[0]
    return location.split("/", 1)[0].removesuffix(".py") or "?"


def render_profile(by_function: dict[str, float], total: float) -> list[str]:
    whole = total or 1.0
    labelled: dict[str, float] = {}
    by_package: dict[str, float] = {}
    for function, seconds in by_function.items():
        label = _label(function)
        labelled[label] = labelled.get(label, 0.0) + seconds
        by_package[_package(label)] = by_package.get(_package(label), 0.0) + seconds
    return [
        "self time by package (of the innermost Python frame):",
        *shares(by_package, whole, PROFILE_TOP),
        f"top {PROFILE_TOP} functions by self time:",
        *shares(labelled, whole, PROFILE_TOP),
    ]


# The run -------------------------------------------------------------------------------------------------


@dataclass
class Report:
    rows: list[Row]
    transfers: list[Transfer]
    tokens: int  # OAuth tokens the target issued in the whole run
    profile: str | None


async def run(options: argparse.Namespace) -> Report:
    with tempfile.TemporaryDirectory(prefix="gateway-bench-") as directory:
        workdir = Path(directory)
        manifest_dir = workdir / "manifests"
        with target_server(workdir) as target:
            ManifestDirectory(manifest_dir).put(*manifests(target.http_url))
            log("starting compass-gateway serve")
            gateway = start_gateway(manifest_dir, workdir / "gateway.log")
            floor = floor_server(workdir, target.http_url)
            try:
                floor.start()
                floor.wait_ready()
                setup = Setup(target, gateway, floor, await oauth_token(target.http_url), options)
                rows = [await measure_case(setup, case) for case in options.cases]
                transfers = await measure_memory(setup, options.stream_mb * MIB)
            except BaseException:
                log(f"gateway log:\n{gateway.process.log_tail()}")
                raise
            finally:
                gateway.process.stop()
                floor.stop()
            profile = None
            if options.profile:
                log(f"profiling a gateway in this process on {options.cases[0].name}")
                profile = await profile_gateway(manifest_dir, setup)
            tokens = await tokens_issued(target.http_url)
    return Report(rows, transfers, tokens, profile)


# Printing ------------------------------------------------------------------------------------------------


CLOSED_HEADER = (
    "case     | direct req/s  p50 ms  p99 ms | gateway req/s  p50 ms  p99 ms | ratio | floor req/s ratio g÷f"
    " | CPU µs/req target gateway floor | CPU % tgt  gw cli | load"
)


def format_row(row: Row) -> str:
    direct, through = row.direct, row.through
    target_cpu, gateway_cpu = direct.per_request("target"), through.per_request("gateway")
    return (
        f"{row.case.name:<8} | {direct.rate:12.0f} {ms(direct.p50)} {ms(direct.p99)} |"
        f" {through.rate:13.0f} {ms(through.p50)} {ms(through.p99)} | {ratio(through.rate, direct.rate):5.2f}"
        f" | {row.floor.rate:11.0f} {ratio(row.floor.rate, direct.rate):5.2f} {ratio(through.rate, row.floor.rate):3.2f}"
        f" | {target_cpu * 1e6:17.0f} {gateway_cpu * 1e6:7.0f} {row.floor.per_request('floor') * 1e6:5.0f}"
        f" | {through.busy('target') * 100:9.0f} {through.busy('gateway') * 100:3.0f}"
        f" {through.client_cpu * 100:3.0f} | {row.load_average:4.1f}"
    )


FIXED_HEADER = "case     | offered req/s | direct p50 ms  p99 ms | gateway p50 ms  p99 ms | added p50 ms"


def format_fixed(row: Row) -> str:
    assert row.fixed is not None
    direct, through = row.fixed
    return (
        f"{row.case.name:<8} | {direct.rate:13.0f} | {ms(direct.p50, 13)} {ms(direct.p99)} |"
        f" {ms(through.p50, 14)} {ms(through.p99)} | {ms(through.p50 - direct.p50, 12)}"
    )


MEMORY_HEADER = "transfer         | direct MiB/s gateway MiB/s | gateway RSS before MiB  peak MiB  RSS after MiB | peak - before"


def format_transfer(transfer: Transfer) -> str:
    mib = transfer.size / MIB
    direct, through = transfer.seconds
    return (
        f"{transfer.kind + f' {mib:g} MiB':<16} | {mib / direct:12.0f} {mib / through:13.0f} |"
        f" {transfer.rss_before / 1024:21.1f} {transfer.peak / 1024:9.1f} {transfer.rss_after / 1024:14.1f} |"
        f" {transfer.growth / 1024:+9.1f} MiB"
    )


def _goal_lines(report: Report, options: argparse.Namespace) -> list[str]:
    small = [row for row in report.rows if row.case.size_name == "1k"]
    lines = []
    if small:
        parts = [
            f"{row.case.name} {(measured := ratio(row.through.rate, row.direct.rate)):.2f} "
            f"({verdict(measured >= THROUGHPUT_GOAL)})"
            for row in small
        ]
        lines.append(f"gateway req/s ≥ {THROUGHPUT_GOAL:g} × direct for 1 KiB answers: {', '.join(parts)}")
        floors = [f"{row.case.name} {ratio(row.floor.rate, row.direct.rate):.2f}" for row in small]
        lines.append(f"  (the bare forwarder on the same stack reaches: {', '.join(floors)} × direct)")
    fixed = [(row.case, row.fixed) for row in report.rows if row.fixed is not None]
    if fixed:
        parts = [
            f"{case.name} {(added := through.p50 - direct.p50) * 1000:+.2f} ms ({verdict(added <= ADDED_P50_GOAL)})"
            for case, (direct, through) in fixed
        ]
        lines.append(
            f"added p50 ≤ {ADDED_P50_GOAL * 1000:g} ms at {options.fixed_load:g} × the gateway's saturating rate: "
            + ", ".join(parts)
        )
    parts = [
        f"{transfer.kind} {transfer.growth / 1024:+.1f} MiB ({verdict(transfer.growth < FLAT_SHARE * transfer.size / 1024)})"
        for transfer in report.transfers
    ]
    lines.append(
        f"memory flat while streaming (peak - before < {FLAT_SHARE:.0%} of the {options.stream_mb} MiB): "
        + ", ".join(parts)
    )
    return [f"  {line}" for line in lines]


def print_report(report: Report, options: argparse.Namespace) -> None:
    print(
        "\n=== Application Gateway: calls through one compass-gateway process against direct calls to the same"
        " target ===\n"
        "target: raw ASGI on uvicorn (uvloop, httptools), its own process; load: aiohttp on uvloop in a third"
        f" process;\n{options.concurrency} keep-alive connections, {options.warmup:g} s warm-up +"
        f" {options.duration:g} s per run; {os.cpu_count()} CPUs shared by all three processes"
    )
    print(
        "\nclosed loop (1k = 1 KiB answers, 1m = 1 MiB); floor: the same calls through a bare forwarder on the"
        " gateway's stack\n(bench/gateway_floor.py: no lookup, credentials or metrics), g÷f = gateway req/s ÷"
        " floor req/s;\nCPU µs/req: the target's per direct call, the gateway's and the floor's per call through"
        " it;\nCPU %: each process during the run through the gateway;"
    )
    print(
        f"load: 1-minute load average after the case (above {os.cpu_count()}, other work competed for the CPUs)"
    )
    print(CLOSED_HEADER)
    for row in report.rows:
        print(format_row(row))
    if any(row.fixed is not None for row in report.rows):
        print(
            f"\nopen loop at {options.fixed_load:g} × each case's gateway req/s above, the same offered rate"
            " directly and through the gateway\n(latency from each call's scheduled start; added p50 ="
            " gateway p50 - direct p50)"
        )
        print(FIXED_HEADER)
        for row in report.rows:
            if row.fixed is not None:
                print(format_fixed(row))
    print(
        "\nmemory of the gateway process while streaming through it (Basic credentials, one call at a time);"
        "\npeak = VmHWM, reset to the current VmRSS just before the transfer through the gateway"
    )
    print(MEMORY_HEADER)
    for transfer in report.transfers:
        print(format_transfer(transfer))
    print(
        f"\nOAuth: the target issued {report.tokens} tokens in the whole run: 1 to the bench for its direct calls,"
        f" the rest to the gateway (expires_in {TOKEN_EXPIRES_IN} s)"
    )
    print("\ngoals (issue 11):")
    print("\n".join(_goal_lines(report, options)))
    if report.profile is not None:
        print(f"\n--- profile: a gateway in the bench's process, {PROFILE_TOP} top frames by own time ---")
        print(report.profile)


def parse_options(argv: list[str]) -> argparse.Namespace:
    formatter = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=formatter)
    parser.add_argument("--duration", type=float, default=3.0, help="measured seconds per run (at most 10)")
    parser.add_argument("--warmup", type=float, default=1.0, help="unmeasured seconds before each run")
    parser.add_argument("--concurrency", type=int, default=16, help="keep-alive connections of the load")
    parser.add_argument("--cases", default=CASES, help=f"credentials-size, comma separated (default {CASES})")
    parser.add_argument(
        "--fixed-load",
        type=float,
        default=0.5,
        help="open-loop rate, a fraction of the gateway's req/s; 0 skips",
    )
    parser.add_argument("--stream-mb", type=int, default=100, help="MiB downloaded and uploaded through it")
    parser.add_argument(
        "--profile",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="pyinstrument on the first case",
    )
    options = parser.parse_args(argv)
    try:
        options.cases = [Case.parse(text) for text in options.cases.split(",") if text.strip()]
    except ValueError as exc:
        parser.error(f"unknown case {exc}: use {'|'.join(AUTHS)}-{'|'.join(SIZES)}, e.g. {CASES}")
    if not options.cases:
        parser.error("--cases names no case")
    if not 0 < options.duration <= 10:
        parser.error("--duration must be more than 0 and at most 10 seconds")
    if options.warmup < 0 or options.concurrency < 1 or options.stream_mb < 1 or options.fixed_load < 0:
        parser.error("--warmup and --fixed-load must not be negative, --concurrency and --stream-mb positive")
    return options


def main(argv: list[str]) -> None:
    bench_main(argv, parse_options, run, print_report)


if __name__ == "__main__":
    main(sys.argv[1:])
