"""What the benches share: the server's paths, an operator's GraphQL over HTTP, the load clients' closed and open
loops, and their command lines.

Only the standard library at import time: the fleet's load clients import it and stay free of the server's
packages (and of httpx: the fleet's clients speak HTTP by hand).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from collections.abc import Awaitable, Callable, Coroutine
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    import httpx

ROOT = Path(__file__).resolve().parent.parent
DIRECTOR_PATH = "/director/graphql"
CONNECTOR_PATH = "/connector/graphql"
JSON_CONTENT = {"Content-Type": "application/json; charset=utf-8"}
OPEN_LOOP_CONNECTIONS = 64  # keep-alive connections an open-loop client may hold

# One call of a load client: it sends one or more requests (a full sync follows its pages), raises on a wrong
# answer and returns how many requests it sent.
LoadCall = Callable[[], Awaitable[int]]


def log(message: str) -> None:
    """Progress on stderr, so that stdout holds the figures alone."""
    print(f"[bench] {message}", file=sys.stderr, flush=True)


def bench_took(started: float) -> str:
    """The closing line of a bench's report, ``started`` a ``time.monotonic()``: how long it took and how busy
    the machine was (a load above the CPUs means other work competed for them)."""
    return (
        f"bench took {time.monotonic() - started:.0f} s on {os.cpu_count()} CPUs; "
        f"1-minute load average at the end {os.getloadavg()[0]:.1f}"
    )


async def run_load_client(entry: str, config: dict[str, Any]) -> dict[str, Any]:
    """Runs ``entry`` (``module:function``) in a load client process of its own (bench/load_client.py), so the
    load does not share the measuring process's event loop: ``config`` in as JSON, its figures out."""
    from bench import load_client

    process = await asyncio.create_subprocess_exec(
        *load_client.command(entry),
        cwd=ROOT,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    stdout, stderr = await process.communicate(json.dumps(config).encode() + b"\n")
    if process.returncode != 0:
        raise RuntimeError(f"load client failed:\n{stderr.decode()[-3000:]}")
    return dict(json.loads(stdout))


def ms(seconds: float, width: int = 7) -> str:
    """Seconds as milliseconds in a report's column."""
    return f"{seconds * 1000:{width}.2f}"


def ratio(numerator: float, denominator: float) -> float:
    """NaN rather than an error where the denominator measured nothing."""
    return numerator / denominator if denominator else float("nan")


def verdict(met: bool) -> str:
    return "met" if met else "NOT met"


Report = TypeVar("Report")


def bench_main(
    argv: list[str],
    parse_options: Callable[[list[str]], argparse.Namespace],
    run: Callable[[argparse.Namespace], Coroutine[Any, Any, Report]],
    print_report: Callable[[Report, argparse.Namespace], None],
) -> None:
    """A load bench's command: options, the run on uvloop, its report and the closing line."""
    import uvloop

    options = parse_options(argv)
    started = time.monotonic()
    report = uvloop.run(run(options))
    print_report(report, options)
    print(f"\n{bench_took(started)}")


def shares(values: dict[str, float], whole: float, limit: int) -> list[str]:
    """A profile table's lines: the ``limit`` largest ``values`` (seconds by name), as percentages of
    ``whole``."""
    ordered = sorted(values.items(), key=lambda item: -item[1])[:limit]
    return [f"  {seconds / whole * 100:5.1f} %  {name}" for name, seconds in ordered]


def percentile(values: list[float], fraction: float) -> float:
    """The value below which ``fraction`` of ``values`` lie (nearest rank); NaN for none."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


# The load clients' loops ----------------------------------------------------------------------------------


async def closed_loop(
    call: LoadCall, *, concurrency: int, min_count: int, warmup: float, duration: float
) -> dict[str, float]:
    """``concurrency`` workers make ``call`` back to back; the calls that complete within the window count.

    When the window closes, workers start nothing new and let what is in flight finish, uncounted, so the next
    case starts on an idle server. The window stretches until ``min_count`` calls have completed: a page of 200
    applications over 8 connections can take longer than the window to come back at all. Times come from
    ``time.perf_counter``, because uvloop's ``loop.time()`` has millisecond resolution. ``requests`` counts
    every request, warm-up included, as the servers' CPU does; ``requests_per_call`` is the mean of the counted
    calls.
    """
    latencies: list[float] = []
    requests = counted_requests = 0
    began = time.perf_counter()
    measure_from = began + warmup
    until = window_end = measure_from + duration
    hard_stop = measure_from + 60.0

    def measuring(now: float) -> bool:
        return now < until or (len(latencies) < min_count and now < hard_stop)

    async def worker() -> None:
        nonlocal requests, counted_requests, window_end
        while measuring(started := time.perf_counter()):
            made = await call()
            finished = time.perf_counter()
            requests += made
            if finished >= measure_from and measuring(finished):
                latencies.append(finished - started)
                counted_requests += made
                window_end = max(window_end, finished)

    cpu_from = time.process_time()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    cpu, wall = time.process_time() - cpu_from, time.perf_counter() - began
    return {
        **_latencies(latencies),
        "rate": len(latencies) / (window_end - measure_from),
        "requests": requests,
        "requests_per_call": counted_requests / len(latencies) if latencies else 0,
        "client_cpu": cpu / wall,
        "wall": wall,
    }


async def open_loop(call: LoadCall, *, rate: float, warmup: float, duration: float) -> dict[str, float]:
    """``call`` offered at ``rate`` whatever the answers do, for ``warmup`` + ``duration`` seconds after one
    unmeasured call; latency counts from each call's scheduled start, for the calls scheduled after the warm-up.
    """
    latencies: list[float] = []
    first = await call()
    start = time.perf_counter() + 0.05
    measure_from = start + warmup

    async def one(scheduled: float) -> int:
        made = await call()
        if scheduled >= measure_from:
            latencies.append(time.perf_counter() - scheduled)
        return made

    tasks = []
    cpu_from = time.process_time()
    for index in range(max(1, int(rate * (warmup + duration)))):
        scheduled = start + index / rate
        await asyncio.sleep(max(0.0, scheduled - time.perf_counter()))
        tasks.append(asyncio.create_task(one(scheduled)))
    requests = first + sum(await asyncio.gather(*tasks))
    cpu, wall = time.process_time() - cpu_from, time.perf_counter() - start
    return {
        **_latencies(latencies),
        "rate": rate,
        "requests": requests,
        "client_cpu": cpu / wall,
        "wall": wall,
    }


def _latencies(latencies: list[float]) -> dict[str, float]:
    return {"count": len(latencies), "p50": percentile(latencies, 0.50), "p99": percentile(latencies, 0.99)}


async def graphql(
    client: httpx.AsyncClient, url: str, document: str, headers: dict[str, str], variables: Any = None
) -> dict[str, Any]:
    """The ``data`` of the answer to ``document``; anything but a 200 without errors raises."""
    body = json.dumps({"query": document, "variables": variables}).encode()
    response = await client.post(url, content=body, headers={**JSON_CONTENT, **headers})
    answer = response.json()
    if response.status_code != 200 or answer.get("errors"):
        raise RuntimeError(f"{url} refused {document[:60]!r}: {response.status_code} {answer.get('errors')}")
    return dict(answer["data"])


async def graphql_result(
    client: httpx.AsyncClient, url: str, document: str, headers: dict[str, str], variables: Any = None
) -> dict[str, Any]:
    """The field a document names ``result:`` (as Compass's clients alias their one field)."""
    return dict((await graphql(client, url, document, headers, variables))["result"])


# Command lines ----------------------------------------------------------------------------------------------


def parser(description: str | None, *, sizes: str | None = None) -> argparse.ArgumentParser:
    """A bench's parser with ``--backends`` and, given its default, ``--sizes`` (cumulative numbers of
    applications); ``parse`` reads both into lists."""
    from testing.databases import BACKENDS, POSTGRES_URL_VARIABLE

    formatter = argparse.RawDescriptionHelpFormatter
    arguments = argparse.ArgumentParser(description=description, formatter_class=formatter)
    if sizes is not None:
        arguments.add_argument("--sizes", default=sizes, help=f"numbers of applications (default {sizes})")
    backends = f"sqlite and/or postgresql (needs {POSTGRES_URL_VARIABLE})"
    arguments.add_argument("--backends", default=",".join(BACKENDS), help=backends)
    return arguments


def _listed(text: str) -> list[str]:
    return [item.strip() for item in text.split(",") if item.strip()]


def parse(arguments: argparse.ArgumentParser, argv: list[str] | None) -> argparse.Namespace:
    """The options, ``backends`` and ``sizes`` (ascending: seeding is cumulative) as lists."""
    from testing.databases import BACKENDS

    options = arguments.parse_args(argv)
    options.backends = _listed(options.backends)
    if unknown := set(options.backends) - set(BACKENDS):
        arguments.error(f"unknown backends {sorted(unknown)}; use sqlite and/or postgresql")
    if "sizes" in options:
        try:
            options.sizes = sorted({int(size) for size in _listed(options.sizes)})
        except ValueError:
            arguments.error("--sizes takes whole numbers, comma separated")
        if not options.sizes or options.sizes[0] < 1:
            arguments.error("--sizes must be positive numbers")
    return options
