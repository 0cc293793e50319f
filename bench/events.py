"""Events benchmark: legacy events sent by an application over mTLS keep-alive connections into one
``compass-events serve`` process, stored on its bus and delivered to a subscriber's sink, against a bare endpoint
that takes the same POSTs over the same TLS and does nothing, in the same run.

The application ``bench`` (its client id the CN of a certificate from a trustme CA, the CA the ingress trusts)
sends ``order.created`` v1; one Subscription takes them to a recording sink (testing/sinks.py) in this process.
Each event carries its send time in its data; the sink notes when it arrived. The load runs in a process of its
own (bench/load_client.py: aiohttp on uvloop). Per backend (embedded SQLite with durability on; NATS JetStream
when nats-server is installed) it prints:

- closed loop: events/s accepted, p50 and p99 of the acknowledgement, the ratio to the baseline's events/s,
  events/s delivered meanwhile, p50 and p99 from send to delivery, how long the sink took to receive the rest
  after the load stopped, and CPU per event of the events process (and of nats-server);
- open loop at ``--fixed-load`` × what the backend sustained: the same latencies below saturation;
- whether every accepted event was delivered, and the goal of issue 12 (accepted ≥ 0.3 × baseline, embedded).

bench/README.md says what each figure means. Nothing asserts on time; tests/test_bench_events_smoke.py keeps this
code working.

    python bench/events.py [--duration 3] [--backends embedded,nats] [--fixed-load 0.5]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import ssl
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    # `python bench/events.py`: make `bench` importable from the repository root.
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import aiohttp
import trustme

from bench import load_client
from bench.common import OPEN_LOOP_CONNECTIONS, ROOT, bench_took, closed_loop, log, open_loop, percentile
from dataplane.tls import LOOPBACK_NAMES, ServingCertificate, serving_certificate
from testing.applications import Manifest, ManifestDirectory, application, event_entry, service
from testing.events import ServedEvents, start_events
from testing.nats import NatsServer, nats_server_binary
from testing.ports import free_port
from testing.processes import cpu_seconds
from testing.served import ServedProcess
from testing.sinks import RecordingSink
from testing.waiting import wait_until

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
    ``measure_from`` is when its measured window opens, on the clock the events are stamped with."""
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
    return {**result, "measure_from": measure_from}


async def run_client(config: dict[str, Any]) -> dict[str, Any]:
    process = await asyncio.create_subprocess_exec(
        *load_client.command("bench.events:load_process"),
        cwd=ROOT,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    stdout, stderr = await process.communicate(json.dumps(config).encode() + b"\n")
    if process.returncode != 0:
        raise RuntimeError(f"load client failed:\n{stderr.decode()[-3000:]}")
    return dict(json.loads(stdout))


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


@contextlib.contextmanager
def events_server(workdir: Path, files: Certificates, backend: str) -> Iterator[tuple[ServedEvents, dict[str, int]]]:
    """``compass-events serve`` on ``backend`` (its nats-server started first), and the pids whose CPU counts."""
    with contextlib.ExitStack) if False else contextlib.ExitStack() as stack:
        settings = {"tls_cert_file": str(files.serving.certificate), "tls_key_file": str(files.serving.key)}
        pids: dict[str, int] = {}
        if backend == "nats":
            nats = stack.enter_context(NatsServer(workdir / f"{backend}-store", log=workdir / "nats.log"))
            settings |= {"bus": "nats", "nats_url": nats.url}
            pids["bus"] = nats.pid
        served = start_events(
            workdir / "manifests", workdir / f"{backend}-data", files.client_ca, workdir / f"{backend}.log", **settings
        )
        stack.callback(served.process.stop)
        pids["server"] = served.process.pid
        try:
            yield served, pids
        except BaseException:
            log(f"compass-events log:\n{served.process.log_tail()}")
            raise
