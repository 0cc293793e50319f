"""Director benchmark: the Runtime Agent's sync document, pycompass against a hand-written baseline.

For each backend (SQLite, and PostgreSQL when COMPASS_TEST_POSTGRES_URL is set, as ``make bench`` does) and
each N, it seeds N applications (3 bundles of 2 APIs and 1 event each, basic credentials, one system auth) in
a formation with one runtime. It serves pycompass (``compass serve``) and the baseline (bench/baseline.py) in
two uvicorn processes and loads them from a third process with httpx. It prints requests/s, p50, p99, CPU and
SQL statements per request, the ratio pycompass/baseline, and a profile of the largest case. bench/README.md
says what each figure means. Nothing asserts on time; tests/test_bench_smoke.py keeps this code working.

Two kinds of caller: an operator (JWT), whose every request is executed, and the runtime's agent, which polls
with its client certificate (obtained through the Connector) over pycompass's HTTPS listener and is answered
from the answers kept per tenant revision (director/polling/).

    python bench/director.py [--sizes 10,100,1000] [--backends sqlite,postgresql] [--duration 3] [--no-agent]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import os
import ssl
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    # `python bench/director.py` (as `make bench` runs it): make `bench` importable from the repository root.
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx
from asgi_lifespan import LifespanManager

from bench import common, load_client
from bench.certificates import AgentCertificate, connect_runtime
from bench.common import DIRECTOR_PATH, JSON_CONTENT, ROOT, log
from kernel.db import Database
from testing import served
from testing.databases import temporary_workspace
from testing.ports import free_port
from testing.processes import cpu_seconds
from testing.served import ServedCompass, ServedProcess
from testing.statements import count_statements

PAGE_SIZE = 200
# How the agent polls: the same body every time without If-None-Match (a plain Compass agent); with the ETag
# of its last answer in If-None-Match; a body the kept answers have never seen every time (the worst case).
AGENT_MODES = ("repeat", "etag", "changed")
AGENT_TITLES = {
    "repeat": "agent (mTLS, repeated poll)",
    "etag": "agent with If-None-Match",
    "changed": "agent, view changed every request",
}
_PAGE = "pageInfo { startCursor endCursor hasNextPage } totalCount"


def sync_document(runtime_id: str, after: str | None = None, first: int | None = None) -> str:
    """The Compass Runtime Agent's document: values written inline, a ``result:`` alias, no ``first`` (the
    default page of 200); ``first`` lets a test page through a few applications instead of 201."""
    after_argument = f', after: "{after}"' if after else ""
    first_argument = f", first: {first}" if first is not None else ""
    return f"""query {{
  runtime: runtime(id: "{runtime_id}") {{ labels }}
  result: applicationsForRuntime(runtimeID: "{runtime_id}"{first_argument}{after_argument}) {{
    data {{
      id name providerName description labels
      auths {{ id }}
      bundles {{
        data {{
          id name description instanceAuthRequestInputSchema
          apiDefinitions {{ data {{ id name description targetURL spec {{ data type format }} }} {_PAGE} }}
          eventDefinitions {{ data {{ id name description spec {{ data type format }} }} {_PAGE} }}
          defaultInstanceAuth {{
            credential {{
              ... on BasicCredentialData {{ username password }}
              ... on OAuthCredentialData {{ clientId clientSecret url }}
            }}
            additionalHeaders additionalQueryParams
            requestAuth {{ csrf {{ tokenEndpointURL }} }}
          }}
        }}
        {_PAGE}
      }}
    }}
    {_PAGE}
  }}
}}"""


def request_body(runtime_id: str, after: str | None = None, first: int | None = None) -> bytes:
    return json.dumps({"query": sync_document(runtime_id, after, first), "variables": None}).encode()


#: The Director benchmark measures one runtime: a "changed" poll must cost what a changed view costs, so views
#: shared between runtimes of the same formations (which a real change invalidates) are off here; the fleet
#: benchmark measures them.
ONE_RUNTIME: dict[str, Any] = {"shared_view_entries": 0}


def changed_body(runtime_id: str, poll: str) -> bytes:
    """The sync document with a variable it does not declare (GraphQL ignores it) that differs per poll.

    The kept answers are keyed by the request body, so each poll misses them as a changed view would, while
    the document text, and so the parser and validation caches, stay the same: a new revision costs just that.
    """
    return json.dumps({"query": sync_document(runtime_id), "variables": {"poll": poll}}).encode()


def end_cursor(body: bytes) -> str:
    """The top-level endCursor: ``result`` is the last field and its pageInfo follows its data."""
    start = body.rindex(b'"endCursor":"') + len(b'"endCursor":"')
    return body[start : body.index(b'"', start)].decode()


def operator_headers(settings: Any, tenant_id: str) -> dict[str, str]:
    """What the load sends: the agent's document, authenticated with an operator JWT holding every scope."""
    return {**served.operator_headers(settings, tenant_id), **JSON_CONTENT}


# The agent's client certificate (bench/certificates.py) in a TLS client --------------------------------


def agent_ssl_context(ca_file: str, chain_file: str, key_file: str) -> ssl.SSLContext:
    """Verifies the server against our CA and presents the agent's certificate."""
    context = ssl.create_default_context(cafile=ca_file)
    context.load_cert_chain(chain_file, key_file)
    return context


# In process: the same bytes, and SQL statements per request -------------------------------------------------


@dataclass(frozen=True)
class InProcessAnswer:
    body: bytes
    statements: int


async def answer_in_process(
    app: Any, database: Database, body: bytes, headers: dict[str, str]
) -> InProcessAnswer:
    """One request through httpx.ASGITransport, the second of two so that per-process caches are warm."""
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
        await client.post(DIRECTOR_PATH, content=body, headers=headers)
        with count_statements(database) as statements:
            response = await client.post(DIRECTOR_PATH, content=body, headers=headers)
    response.raise_for_status()
    return InProcessAnswer(response.content, len(statements))


@dataclass(frozen=True)
class AsgiAnswer:
    status: int
    headers: dict[str, str]
    body: bytes


def post_scope(
    body: bytes, headers: dict[str, str], path: str, certificate_pem: str | None
) -> dict[str, Any]:
    """The ASGI scope of a POST of ``body``; with ``certificate_pem`` as it arrives over the HTTPS listener, the
    client certificate in the ASGI TLS extension (tlsext/)."""
    scope: dict[str, Any] = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http" if certificate_pem is None else "https",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [(b"content-length", str(len(body)).encode())]
        + [(name.lower().encode(), value.encode()) for name, value in headers.items()],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 80),
        "state": {},
    }
    if certificate_pem is not None:
        from tlsext import TLS_EXTENSION

        tls = {"server_cert": None, "client_cert_chain": [certificate_pem], "client_cert_name": None}
        scope["extensions"] = {TLS_EXTENSION: {**tls, "client_cert_error": None, "tls_version": 0x0304}}
    return scope


async def asgi_request(app: Any, scope: dict[str, Any], body: bytes) -> AsgiAnswer:
    """``scope`` and ``body`` straight into the ASGI app: no HTTP client shows up in a profile."""
    chunks: list[bytes] = []
    start: dict[str, Any] = {}
    received = False

    async def receive() -> dict[str, Any]:
        nonlocal received
        if received:
            await asyncio.Event().wait()
        received = True
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            start.update(message)
        elif message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))

    await app(scope, receive, send)
    response_headers = {name.decode(): value.decode() for name, value in start.get("headers", [])}
    return AsgiAnswer(int(start.get("status", 0)), response_headers, b"".join(chunks))


@dataclass(frozen=True)
class AgentInProcess:
    """An agent's answer in process and the SQL statements of each kind of poll, after a first poll."""

    body: bytes
    kept: int  # the same body again: answered from the kept answers
    not_modified: int  # with If-None-Match: the kept answer's ETag, answered 304
    changed: int  # a body never seen at this revision: executed and kept


async def agent_in_process(
    app: Any,
    database: Database,
    runtime_id: str,
    headers: dict[str, str],
    *,
    path: str = DIRECTOR_PATH,
    certificate_pem: str | None = None,
) -> AgentInProcess:
    """The runtime's polls into pycompass (``certificate_pem``) or into the baseline's ``AGENT_PATH``."""
    body = request_body(runtime_id)

    async def poll(content: bytes, extra: dict[str, str] | None = None) -> tuple[AsgiAnswer, int]:
        scope = post_scope(content, {**headers, **(extra or {})}, path, certificate_pem)
        with count_statements(database) as statements:
            answer = await asgi_request(app, scope, content)
        if answer.status not in (200, 304) or b'"errors":' in answer.body:
            raise RuntimeError(f"{path} answered the agent {answer.status}: {answer.body[:300]!r}")
        return answer, len(statements)

    await poll(body)
    kept, kept_statements = await poll(body)
    not_modified, not_modified_statements = await poll(body, {"If-None-Match": kept.headers["etag"]})
    if not_modified.status != 304:
        raise RuntimeError(f"{path} answered {not_modified.status} to the ETag of an unchanged view")
    _, changed_statements = await poll(changed_body(runtime_id, uuid.uuid4().hex))
    return AgentInProcess(kept.body, kept_statements, not_modified_statements, changed_statements)


# The load client process (bench/load_client.py): its configuration in as JSON, its results out --------


class _Requests:
    """What one load process sends and accepts: an operator's pages, or (``agent``) a runtime's polls.

    ``etag``: every poll carries the ETag of the last 200 answer in If-None-Match, and 304 is a good answer.
    ``changed``: every poll's body is one the server has not answered before (``changed_body``).
    """

    def __init__(self, config: dict[str, Any]) -> None:
        self.url: str = config["url"]
        self.headers: dict[str, str] = config["headers"]
        self.runtime_id: str = config["runtime_id"]
        self.agent: str | None = config.get("agent")
        self.first_page = request_body(self.runtime_id)
        self.nonce = uuid.uuid4().hex
        self.polls = 0
        self.etag: str | None = None
        self.not_modified = 0

    def body(self, after: str | None) -> bytes:
        if self.agent == "changed":
            self.polls += 1
            return changed_body(self.runtime_id, f"{self.nonce}-{self.polls}")
        return request_body(self.runtime_id, after) if after else self.first_page

    async def sync(self, client: httpx.AsyncClient, *, full: bool) -> int:
        """One request, or (``full``) every page following endCursor; returns the pages. Errors raise."""
        after: str | None = None
        pages = 0
        while True:
            headers = self.headers
            if self.agent == "etag" and self.etag:
                headers = {**headers, "If-None-Match": self.etag}
            response = await client.post(self.url, content=self.body(after), headers=headers)
            pages += 1
            if response.status_code == 304 and self.agent == "etag":
                self.not_modified += 1
                return pages
            if response.status_code != 200 or b'"errors":' in response.content:
                raise RuntimeError(f"{self.url} answered {response.status_code}: {response.content[:300]!r}")
            if self.agent == "etag":
                self.etag = response.headers.get("etag")
            after = end_cursor(response.content) if full else ""
            if not after:
                return pages


def _http_client(config: dict[str, Any], connections: int) -> httpx.AsyncClient:
    """Keep-alive connections; with ``tls``, HTTPS verified against our CA, with the agent's certificate."""
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    tls = config.get("tls")
    verify: ssl.SSLContext | bool = agent_ssl_context(tls["ca"], tls["cert"], tls["key"]) if tls else True
    return httpx.AsyncClient(limits=limits, timeout=300.0, verify=verify)


async def load_process(config: dict[str, Any]) -> dict[str, Any]:
    """The load client process's work: at a fixed ``rate`` (one page a call), or closed loop, where a call is
    one page or (``full_sync``) every page; ``pages`` is the mean of the counted calls."""
    sender, rate = _Requests(config), config.get("rate")
    connections = common.OPEN_LOOP_CONNECTIONS if rate else config["concurrency"]
    async with _http_client(config, connections) as client:
        if rate:
            call = partial(sender.sync, client, full=False)
            return await common.open_loop(call, rate=rate, warmup=0.0, duration=config["duration"])
        figures = await common.closed_loop(
            partial(sender.sync, client, full=config["full_sync"]),
            concurrency=config["concurrency"],
            min_count=config["min_count"],
            warmup=config["warmup"],
            duration=config["duration"],
        )
    return {**figures, "pages": figures["requests_per_call"], "not_modified": sender.not_modified}


def run_client(config: dict[str, Any]) -> dict[str, Any]:
    completed = subprocess.run(
        load_client.command("bench.director:load_process"),
        cwd=ROOT,
        input=json.dumps(config).encode(),
        capture_output=True,
        check=False,
    )
    if completed.returncode != 0:
        raise RuntimeError(f"load client failed:\n{completed.stderr.decode()[-3000:]}")
    return dict(json.loads(completed.stdout))


# Servers ------------------------------------------------------------------------------------------


def stopped_by_others(server: ServedProcess) -> bool:
    """True once the process has exited, or (when it no longer answers) after it does."""
    if server.running and server.ready():
        return False
    server.stop(seconds=20)
    return True


def director_url(server: ServedProcess) -> str:
    return server.http_url + DIRECTOR_PATH


def pycompass_server(data_dir: Path, database_url: str, log: Path | None = None, **env: str) -> ServedCompass:
    """`compass serve` as an operator runs it (uvloop, httptools, one process), with the COMPASS_* ``env``; its
    log in ``data_dir`` unless told."""
    one_runtime = {f"COMPASS_{name.upper()}": str(value) for name, value in ONE_RUNTIME.items()}
    log = log or data_dir / "pycompass.log"
    return ServedCompass(data_dir, database_url, env={**one_runtime, **env}, log=log)


def baseline_server(workdir: Path, database_url: str) -> ServedProcess:
    """bench/baseline.py under the same uvicorn settings as `compass serve`, without an access log."""
    from bench.baseline import DATABASE_URL_VARIABLE

    port = free_port()
    uvicorn = [sys.executable, "-m", "uvicorn", "--factory", "bench.baseline:app_from_environment"]
    settings = ["--host", "127.0.0.1", "--port", str(port), "--loop", "uvloop", "--http", "httptools"]
    quiet = ["--no-access-log", "--log-level", "warning"]
    return ServedProcess(
        "baseline",
        [*uvicorn, *settings, *quiet],
        log=workdir / "baseline.log",
        env={DATABASE_URL_VARIABLE: database_url},
        http_port=port,
    )


# Measuring one case -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Load:
    rate: float
    p50: float
    p99: float
    count: int
    server_cpu: float = float("nan")
    client_cpu: float = float("nan")
    cpu_per_request: float = float("nan")
    pages: float = 1.0
    not_modified: float = 0.0  # share of the requests answered 304


def _client_run(server: ServedProcess, config: dict[str, Any]) -> tuple[dict[str, Any], float, float]:
    """The client's result, the server's CPU seconds meanwhile and the wall seconds it took.

    A server that something outside the bench stopped mid-case (it has happened: a stray SIGINT, on a machine
    other sessions share) is started again and the case run once more, with a note on stderr. The client may
    fail while the server is still shutting down: a server that no longer answers /healthz counts as stopping.
    """
    for attempt in (1, 2):
        server.check_alive()
        cpu_from, wall_from = cpu_seconds(server.pid), time.monotonic()
        try:
            result = run_client(config)
        except RuntimeError as error:
            assert server.process is not None
            if attempt == 2 or not stopped_by_others(server):
                raise RuntimeError(f"{error}\n{server.name} log:\n{server.log_tail()}") from None
            log(f"{server.name} exited with {server.process.returncode} during the case: restarting it")
            server.start()
            server.wait_ready()
            continue
        return result, cpu_seconds(server.pid) - cpu_from, time.monotonic() - wall_from
    raise AssertionError("unreachable")


def closed_loop(
    server: ServedProcess,
    headers: dict[str, str],
    runtime_id: str,
    *,
    full_sync: bool,
    options: argparse.Namespace,
    url: str | None = None,
    agent: str | None = None,
    tls: dict[str, str] | None = None,
) -> Load:
    """Page requests over ``--concurrency`` connections; full syncs one at a time, as an agent runs them.

    ``agent`` (an ``AGENT_MODES`` entry) and ``tls`` (ca, cert, key files) make them a runtime's polls.
    """
    config = {
        "url": url or director_url(server),
        "headers": headers,
        "runtime_id": runtime_id,
        "full_sync": full_sync,
        "concurrency": 1 if full_sync else options.concurrency,
        "warmup": 0.0 if full_sync else options.warmup,
        "duration": options.duration,
        "min_count": 3 if full_sync else options.concurrency,
        "agent": agent,
        "tls": tls,
    }
    result, cpu, wall = _client_run(server, config)
    return Load(
        rate=result["rate"],
        p50=result["p50"],
        p99=result["p99"],
        count=result["count"],
        server_cpu=cpu / wall,
        client_cpu=result["client_cpu"],
        cpu_per_request=cpu / result["requests"] if result["requests"] else float("nan"),
        pages=result["pages"],
        not_modified=result["not_modified"] / result["requests"] if result["requests"] else 0.0,
    )


def open_loop(
    server: ServedProcess, headers: dict[str, str], runtime_id: str, rate: float, duration: float
) -> Load:
    config = {"url": director_url(server), "headers": headers, "runtime_id": runtime_id, "rate": rate}
    config["duration"] = duration
    result, _, _ = _client_run(server, config)
    return Load(rate=rate, p50=result["p50"], p99=result["p99"], count=result["count"])


# The profile ------------------------------------------------------------------------------------------


def log_like_the_server() -> None:
    """The server's logging set-up (a JSON line per request) for in-process apps, written to /dev/null."""
    from kernel.observability.logging import configure_logging

    sink = open(os.devnull, "w")  # noqa: SIM115 - the log handler writes to it until the process ends
    with contextlib.redirect_stdout(sink):
        configure_logging(level="info", json=True)


# Whose time a sample is, by the file of its innermost Python frame; the first match wins.
_OWNERS = (
    ("pycompass (compass/, director/)", (f"{ROOT}/compass/", f"{ROOT}/director/")),
    ("strawberry", ("/strawberry/",)),
    ("graphql-core", ("/graphql/",)),
    ("sqlalchemy", ("/sqlalchemy/",)),
    ("database driver (aiosqlite, sqlite3, asyncpg)", ("/aiosqlite/", "/sqlite3/", "/asyncpg/")),
    ("idle in the event loop (waiting for the database)", ("/selectors.py",)),
    ("asyncio (tasks, futures, callbacks)", ("/asyncio/",)),
    ("starlette", ("/starlette/",)),
    ("json", ("/json/",)),
    ("logging (structlog, logging)", ("/structlog/", "/logging/")),
    ("pyjwt, cryptography", ("/jwt/", "/cryptography/")),
    ("prometheus-client", ("/prometheus_client/",)),
)
PROFILE_TOP = 25
AGENT_PROFILE_TOP = 12


def _owner(path: str | None) -> str:
    for owner, markers in _OWNERS:
        if path and any(marker in path for marker in markers):
            return owner
    return "other"


def _python_frame(frame: Any) -> Any:
    """The frame, or for pyinstrument's [self] frames and C built-ins the Python frame that called them."""

    def is_python(candidate: Any) -> bool:
        path = candidate.file_path
        return not candidate.is_synthetic and bool(path) and not path.startswith("<")

    while frame.parent is not None and not is_python(frame):
        frame = frame.parent
    return frame


@dataclass
class ProfileTables:
    """Seconds of self time per owner and per function, and of inclusive time per pycompass function."""

    total: float
    by_owner: dict[str, float]
    by_function: dict[str, float]
    ours_inclusive: dict[str, float]


def profile_tables(root: Any) -> ProfileTables:
    tables = ProfileTables(root.time, {}, {}, {})
    stack: list[tuple[Any, frozenset[str]]] = [(root, frozenset())]
    while stack:
        frame, ancestors = stack.pop()
        python = _python_frame(frame)
        name = f"{python.function}  {python.file_path_short}:{python.line_no}"
        own = frame.time - sum(child.time for child in frame.children)
        if own > 0:
            owner = _owner(python.file_path)
            tables.by_owner[owner] = tables.by_owner.get(owner, 0.0) + own
            tables.by_function[name] = tables.by_function.get(name, 0.0) + own
        # ASGI middlewares (`__call__`) are left out: with graphql-core's tasks, their share means little.
        # A function counts once per call chain, so that recursion does not count twice.
        ours = python is frame and _owner(frame.file_path).startswith("pycompass")
        if ours and frame.function != "__call__" and name not in ancestors:
            tables.ours_inclusive[name] = tables.ours_inclusive.get(name, 0.0) + frame.time
            ancestors = ancestors | {name}
        stack.extend((child, ancestors) for child in frame.children)
    return tables


def render_profile_tables(tables: ProfileTables, top: int = PROFILE_TOP) -> list[str]:
    whole = tables.total or 1.0
    return [
        "self time by owner (samples of the main thread; a GC pause counts where it strikes):",
        *common.shares(tables.by_owner, whole, len(tables.by_owner)),
        f"top {top} functions by self time:",
        *common.shares(tables.by_function, whole, top),
        f"top {top} pycompass functions by inclusive time (without the graphql-core tasks they await):",
        *common.shares(tables.ours_inclusive, whole, top),
    ]


async def profile(
    app: Any,
    body: bytes,
    headers: dict[str, str],
    requests: int,
    *,
    certificate_pem: str | None = None,
    top: int = PROFILE_TOP,
) -> str:
    """pyinstrument around ``requests`` sequential requests into ``app`` (pycompass as the bench runs it in
    process, with its lifespan: its change listener lets it keep identities and revisions, as when served);
    returns the text to print.

    With ``certificate_pem`` the requests are the runtime's polls, as they arrive over the HTTPS listener.
    """
    from pyinstrument import Profiler

    async def call() -> None:
        answer = await asgi_request(app, post_scope(body, headers, DIRECTOR_PATH, certificate_pem), body)
        if answer.status != 200:
            raise RuntimeError(f"the profiled request answered {answer.status}: {answer.body[:300]!r}")

    for _ in range(3):
        await call()
    # As `compass serve` does before it serves (compass/server.py): start-up objects leave the collector's
    # view, and the first generation is collected every 50,000 allocations instead of every 700.
    gc.collect()
    gc.freeze()
    thresholds = gc.get_threshold()
    gc.set_threshold(50_000, 50, 100)
    # async_mode "disabled": plain samples of the main thread, so that time idle in the event loop (waiting
    # for the database) shows as such instead of being folded into the frames that await.
    profiler = Profiler(interval=0.001, async_mode="disabled")
    started, cpu_started = time.perf_counter(), time.process_time()
    profiler.start()
    for _ in range(requests):
        await call()
    profiler.stop()
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    gc.set_threshold(*thresholds)
    gc.unfreeze()
    lines = [
        (
            f"{requests} sequential requests in process: {elapsed / requests * 1000:.1f} ms wall and "
            f"{cpu / requests * 1000:.1f} ms CPU each (all threads, and the profiler's own cost)"
        )
    ]
    session = profiler.last_session
    if session is not None and (root := session.root_frame()) is not None:
        lines.extend(render_profile_tables(profile_tables(root), top))
    return "\n".join(lines)


# The run ------------------------------------------------------------------------------------------


@dataclass
class Row:
    size: int
    bytes_ok: bool
    body_bytes: int
    statements: tuple[int, int]
    page: tuple[Load, Load]
    load_average: float
    fixed: tuple[Load, Load] | None = None
    full: tuple[Load, Load] | None = None
    agent: list[AgentRow] = field(default_factory=list)


@dataclass(frozen=True)
class AgentRow:
    """One way of polling: pycompass over mTLS, and the baseline's kept answers over plain HTTP (or, for
    ``changed``, the uncached baseline of the operator table: a body never seen is a full build there too)."""

    mode: str
    loads: tuple[Load, Load]
    statements: tuple[int, int]
    bytes_ok: bool
    load_average: float


@dataclass
class BackendReport:
    title: str
    rows: list[Row] = field(default_factory=list)
    profile: str | None = None
    agent_profile: str | None = None


def _load_average() -> float:
    return os.getloadavg()[0]


@dataclass(frozen=True)
class Setup:
    """What every case of one backend runs against: pycompass and the baseline, served and in process, on one
    seeded database; the runtime whose document is measured and the operator that loads it."""

    servers: tuple[ServedCompass, ServedProcess]
    apps: tuple[Any, Any]
    database: Database
    runtime_id: str
    headers: dict[str, str]
    options: argparse.Namespace


async def measure_size(size: int, setup: Setup, agent: AgentCertificate | None = None) -> Row:
    servers, runtime_id, headers, options = setup.servers, setup.runtime_id, setup.headers, setup.options
    body = request_body(runtime_id)
    ours, theirs = [await answer_in_process(app, setup.database, body, headers) for app in setup.apps]
    total = json.loads(ours.body)["data"]["result"]["totalCount"]
    if total != size:
        raise RuntimeError(f"seeded {size} applications but the runtime sees {total}")
    over_http = [
        httpx.post(director_url(server), content=body, headers=headers, timeout=300).content
        for server in servers
    ]
    bytes_ok = ours.body == theirs.body == over_http[0] == over_http[1]
    log(f"N = {size}: first page, closed loop")
    page = (
        closed_loop(servers[0], headers, runtime_id, full_sync=False, options=options),
        closed_loop(servers[1], headers, runtime_id, full_sync=False, options=options),
    )
    row = Row(size, bytes_ok, len(ours.body), (ours.statements, theirs.statements), page, _load_average())
    if options.fixed_load > 0:
        rate = max(0.5, page[0].rate * options.fixed_load)
        log(f"N = {size}: fixed offered load of {rate:.1f} req/s")
        row.fixed = (
            open_loop(servers[0], headers, runtime_id, rate, options.fixed_duration),
            open_loop(servers[1], headers, runtime_id, rate, options.fixed_duration),
        )
    if size > PAGE_SIZE:
        log(f"N = {size}: full sync of {-(-size // PAGE_SIZE)} pages, one after the other")
        row.full = (
            closed_loop(servers[0], headers, runtime_id, full_sync=True, options=options),
            closed_loop(servers[1], headers, runtime_id, full_sync=True, options=options),
        )
    if agent is not None:
        row.agent = await measure_agent(row, ours.body, setup, agent)
    return row


async def measure_agent(
    row: Row, operator_body: bytes, setup: Setup, agent: AgentCertificate
) -> list[AgentRow]:
    """The runtime's own polls: pycompass on its HTTPS listener with the agent's certificate, the baseline's
    ``AGENT_PATH`` on plain HTTP with the ``Tenant`` header (it has neither TLS nor authentication)."""
    from bench.baseline import AGENT_PATH

    servers, apps, database, runtime_id = setup.servers, setup.apps, setup.database, setup.runtime_id
    options = setup.options
    tenant_headers = {**JSON_CONTENT, "Tenant": setup.headers["Tenant"]}
    ours = await agent_in_process(
        apps[0], database, runtime_id, JSON_CONTENT, certificate_pem=agent.certificate_pem
    )
    theirs = await agent_in_process(apps[1], database, runtime_id, tenant_headers, path=AGENT_PATH)
    tls = {"ca": str(servers[0].ca_file), "cert": str(agent.chain_file), "key": str(agent.key_file)}
    body = request_body(runtime_id)
    context = agent_ssl_context(tls["ca"], tls["cert"], tls["key"])
    async with httpx.AsyncClient(verify=context, timeout=300) as https:
        director = servers[0].https_url + DIRECTOR_PATH
        over_https = (await https.post(director, content=body, headers=JSON_CONTENT)).content
    baseline_url = servers[1].http_url + AGENT_PATH
    over_http = httpx.post(baseline_url, content=body, headers=tenant_headers, timeout=300).content
    bytes_ok = operator_body == ours.body == theirs.body == over_https == over_http
    statements = {
        "repeat": (ours.kept, theirs.kept),
        "etag": (ours.not_modified, theirs.not_modified),
        "changed": (ours.changed, row.statements[1]),
    }
    rows: list[AgentRow] = []
    for mode in options.agent_modes:
        log(f"N = {row.size}: {AGENT_TITLES[mode]}, closed loop")
        mine = closed_loop(
            servers[0],
            JSON_CONTENT,
            runtime_id,
            full_sync=False,
            options=options,
            url=servers[0].https_url + DIRECTOR_PATH,
            agent=mode,
            tls=tls,
        )
        if mode == "changed":
            floor = row.page[1]
        else:
            floor = closed_loop(
                servers[1],
                tenant_headers,
                runtime_id,
                full_sync=False,
                options=options,
                url=baseline_url,
                agent=mode,
            )
        rows.append(AgentRow(mode, (mine, floor), statements[mode], bytes_ok, _load_average()))
    return rows


async def run_backend(backend: str, title: str, options: argparse.Namespace) -> BackendReport:
    from bench import baseline
    from bench.seed import add_applications, seed_runtime
    from compass.app import create_app
    from kernel.settings import Settings

    log_like_the_server()
    report = BackendReport(title)
    async with temporary_workspace(backend, "compass-bench") as (workdir, url):
        database = Database(url)
        settings = Settings(data_dir=workdir, database_url=url)
        seeded = await seed_runtime(database)
        headers = operator_headers(settings, seeded.tenant_id)
        servers = (pycompass_server(workdir, url), baseline_server(workdir, url))
        # In process as served: with its lifespan (the change listener), so that identities and revisions are kept.
        lifespans = contextlib.AsyncExitStack()
        ours = await lifespans.enter_async_context(LifespanManager(create_app(settings.model_copy(update=ONE_RUNTIME), database)))
        apps = (ours.app, baseline.create_app(database))
        setup = Setup(servers, apps, database, seeded.runtime_id, headers, options)
        seeded_count = 0
        agent: AgentCertificate | None = None
        try:
            for size in options.sizes:
                log(f"{backend}: seeding up to N = {size}")
                await add_applications(database, seeded, seeded_count, size - seeded_count)
                seeded_count = size
                for server in servers:
                    if server.process is None:
                        server.start()
                        server.wait_ready()
                if options.agent and agent is None:
                    log(f"{backend}: the runtime's client certificate through the Connector")
                    async with httpx.AsyncClient(base_url=servers[0].http_url, timeout=60) as plain:
                        agent = await connect_runtime(plain, headers, seeded.runtime_id, workdir)
                row = await measure_size(size, setup, agent)
                report.rows.append(row)
                print(format_row(row), flush=True)
                for agent_row in row.agent:
                    print(format_agent_row(row, agent_row), flush=True)
            if options.profile:
                log(f"{backend}: profiling N = {seeded_count} in process")
                body = request_body(seeded.runtime_id)
                requests = options.profile_requests
                report.profile = await profile(ours.app, body, headers, requests)
                if agent is not None:
                    log(f"{backend}: profiling the agent's repeated poll of N = {seeded_count}")
                    report.agent_profile = await profile(
                        ours.app,
                        body,
                        JSON_CONTENT,
                        requests * 10,
                        certificate_pem=agent.certificate_pem,
                        top=AGENT_PROFILE_TOP,
                    )
        finally:
            for server in servers:
                server.stop()
            await lifespans.aclose()
            await database.dispose()
    return report


# Printing ------------------------------------------------------------------------------------------


def _ms(seconds: float, width: int = 7) -> str:
    return f"{seconds * 1000:{width}.1f}"


def _ratio(numerator: float, denominator: float) -> float:
    return numerator / denominator if denominator else float("nan")


PAGE_HEADER = (
    "     N | pycompass req/s  p50 ms  p99 ms  CPU ms stmts | baseline req/s  p50 ms  p99 ms  CPU ms stmts"
    " | ratio req/s  CPU |  KiB bytes | CPU % pyc base cli | load"
)


def format_row(row: Row) -> str:
    ours, theirs = row.page
    client_cpu = max(ours.client_cpu, theirs.client_cpu)
    return (
        f"{row.size:>6} | {ours.rate:15.1f} {_ms(ours.p50)} {_ms(ours.p99)} {_ms(ours.cpu_per_request)} "
        f"{row.statements[0]:>5} | {theirs.rate:14.1f} {_ms(theirs.p50)} {_ms(theirs.p99)} "
        f"{_ms(theirs.cpu_per_request)} {row.statements[1]:>5} |"
        f" {_ratio(ours.rate, theirs.rate):11.3f}"
        f" {_ratio(ours.cpu_per_request, theirs.cpu_per_request):4.1f} |"
        f" {row.body_bytes / 1024:4.0f} {'OK' if row.bytes_ok else 'MISMATCH':>5} |"
        f" {ours.server_cpu * 100:9.0f} {theirs.server_cpu * 100:4.0f} {client_cpu * 100:3.0f} |"
        f" {row.load_average:4.1f}"
    )


AGENT_HEADER = (
    "mode         N | pycompass req/s  p50 ms  p99 ms  CPU ms stmts"
    " | baseline req/s  p50 ms  p99 ms  CPU ms stmts"
    " | ratio req/s  CPU | CPU ÷ base uncached ÷ pyc operator | 304 % bytes | CPU % pyc base cli | load"
)


def format_agent_row(row: Row, agent: AgentRow) -> str:
    ours, theirs = agent.loads
    client_cpu = max(ours.client_cpu, theirs.client_cpu)
    floor = "" if agent.mode != "changed" else "*"
    return (
        f"{agent.mode:<7} {row.size:>6} | {ours.rate:15.1f} {_ms(ours.p50)} {_ms(ours.p99)} "
        f"{_ms(ours.cpu_per_request)} {agent.statements[0]:>5} | {theirs.rate:13.1f}{floor:1} "
        f"{_ms(theirs.p50)} {_ms(theirs.p99)} {_ms(theirs.cpu_per_request)} {agent.statements[1]:>5} |"
        f" {_ratio(ours.rate, theirs.rate):11.3f}"
        f" {_ratio(ours.cpu_per_request, theirs.cpu_per_request):4.2f} |"
        f" {_ratio(ours.cpu_per_request, row.page[1].cpu_per_request):19.2f}"
        f" {_ratio(ours.cpu_per_request, row.page[0].cpu_per_request):14.3f} |"
        f" {ours.not_modified * 100:5.0f} {'OK' if agent.bytes_ok else 'MISMATCH':>5} |"
        f" {ours.server_cpu * 100:9.0f} {theirs.server_cpu * 100:4.0f} {client_cpu * 100:3.0f} |"
        f" {agent.load_average:4.1f}"
    )


_AGENT_LEGEND = (
    "  repeat  = the same body every time, no If-None-Match (a plain Compass agent): answered from memory",
    "  etag    = If-None-Match with the last answer's ETag: 304 Not Modified",
    "  changed = a body never seen at this revision every time (an undeclared variable): executed and kept;",
    "            * its baseline is the uncached one above (a new body is a full build there too)",
    "  baseline (repeat, etag) = the same per-revision answers: one revision lookup, then the kept bytes",
    "            or 304; no identity lookup",
    "  CPU ÷ base uncached = pycompass CPU ms ÷ the uncached baseline's above; ÷ pyc operator = ÷ the",
    "            executed pycompass request above; stmts in process, with the app's lifespan as served",
    "            (pycompass keeps identities and revisions: a kept answer or a 304 runs none)",
)


def _print_agent(rows: list[Row], options: argparse.Namespace) -> None:
    print(
        "\nthe runtime's agent: its client certificate (EC P-256: token, configuration, CSR, sign,"
        " through the Connector)\nand the same document; pycompass on its HTTPS listener (mTLS), the baseline"
        " on plain HTTP (it has no TLS),\nso only pycompass's figures include the encryption of every answer"
        f" ({options.concurrency} keep-alive connections: handshakes once per case)"
    )
    print("\n".join(_AGENT_LEGEND))
    print(AGENT_HEADER)
    for row in rows:
        for agent in row.agent:
            print(format_agent_row(row, agent))


def _print_fixed(rows: list[tuple[Row, tuple[Load, Load]]], options: argparse.Namespace) -> None:
    print(
        f"\nthe same request at a fixed offered load, {options.fixed_load:.0%} of pycompass's req/s above "
        f"(open loop, {options.fixed_duration:g} s, latency from the scheduled start)"
    )
    print("     N | offered req/s | pycompass p50 ms  p99 ms     n | baseline p50 ms  p99 ms     n")
    for row, (ours, theirs) in rows:
        print(
            f"{row.size:>6} | {ours.rate:13.1f} | {_ms(ours.p50, 16)} {_ms(ours.p99)} {ours.count:>5} |"
            f" {_ms(theirs.p50, 15)} {_ms(theirs.p99)} {theirs.count:>5}"
        )


def _print_full(rows: list[tuple[Row, tuple[Load, Load]]]) -> None:
    print("\nfull sync: every page in turn following endCursor, as one agent does; figures per whole sync")
    print(
        "     N pages | pycompass syncs/s  p50 ms  p99 ms  CPU ms stmts | baseline syncs/s  p50 ms  p99 ms"
        "  CPU ms stmts | ratio syncs/s |     n"
    )
    for row, (ours, theirs) in rows:
        print(
            f"{row.size:>6} {ours.pages:5.0f} | {ours.rate:17.2f} {_ms(ours.p50)} {_ms(ours.p99)} "
            f"{_ms(ours.cpu_per_request * ours.pages)} {row.statements[0] * round(ours.pages):>5} |"
            f" {theirs.rate:16.2f} {_ms(theirs.p50)} {_ms(theirs.p99)} "
            f"{_ms(theirs.cpu_per_request * theirs.pages)} {row.statements[1] * round(theirs.pages):>5} |"
            f" {_ratio(ours.rate, theirs.rate):13.3f} | {ours.count:>2} {theirs.count:>2}"
        )


def print_report(report: BackendReport, options: argparse.Namespace) -> None:
    print(f"\n=== {report.title} ===")
    print(
        f"one uvicorn worker each (uvloop, httptools); load from a separate httpx process over "
        f"{options.concurrency} keep-alive connections, {options.warmup:g} s warm-up + {options.duration:g} s"
    )
    print("\nper request: runtime { labels } + the first page of applicationsForRuntime (<= 200 apps)")
    print(PAGE_HEADER)
    for row in report.rows:
        print(format_row(row))
    if fixed := [(row, row.fixed) for row in report.rows if row.fixed is not None]:
        _print_fixed(fixed, options)
    if full := [(row, row.full) for row in report.rows if row.full is not None]:
        _print_full(full)
    if any(row.agent for row in report.rows):
        _print_agent(report.rows, options)
    if report.profile:
        print(f"\n--- profile: pycompass, N = {options.sizes[-1]}, first page, {report.title} ---")
        print(report.profile)
    if report.agent_profile:
        print(
            f"\n--- profile: pycompass, the agent's repeated poll (kept answer), N = {options.sizes[-1]}, "
            f"{report.title}; in process, so without TLS ---"
        )
        print(report.agent_profile)


def parse_options(argv: list[str]) -> argparse.Namespace:
    parser = common.parser(__doc__, sizes="10,100,1000")
    parser.add_argument("--duration", type=float, default=3.0, help="measured seconds per case (at most 10)")
    parser.add_argument("--warmup", type=float, default=1.0, help="unmeasured seconds before each case")
    parser.add_argument("--concurrency", type=int, default=8, help="keep-alive connections of the load")
    parser.add_argument(
        "--fixed-load", type=float, default=0.5, help="offered load, a fraction of pycompass's req/s; 0 skips"
    )
    parser.add_argument("--fixed-duration", type=float, default=2.0, help="seconds of each fixed-load run")
    parser.add_argument(
        "--profile", action=argparse.BooleanOptionalAction, default=True, help="pyinstrument on the largest N"
    )
    parser.add_argument("--profile-requests", type=int, default=50, help="requests inside the profile")
    parser.add_argument(
        "--agent", action=argparse.BooleanOptionalAction, default=True, help="the runtime's polls over mTLS"
    )
    parser.add_argument(
        "--agent-modes", default=",".join(AGENT_MODES), help="repeat, etag and/or changed (comma separated)"
    )
    options = common.parse(parser, argv)
    options.agent_modes = [mode.strip() for mode in options.agent_modes.split(",") if mode.strip()]
    if unknown := set(options.agent_modes) - set(AGENT_MODES):
        parser.error(f"unknown agent modes {sorted(unknown)}; use {', '.join(AGENT_MODES)}")
    if not 0 < options.duration <= 10:
        parser.error("--duration must be more than 0 and at most 10 seconds")
    return options


def main(argv: list[str]) -> None:
    options = parse_options(argv)
    started = time.monotonic()
    reports: list[BackendReport] = []
    for backend in options.backends:
        if backend == "postgresql" and not os.environ.get("COMPASS_TEST_POSTGRES_URL"):
            print("\nPostgreSQL: not measured, COMPASS_TEST_POSTGRES_URL is not set (`make bench` sets it)")
            continue
        title = "SQLite (aiosqlite)" if backend == "sqlite" else "PostgreSQL (asyncpg)"
        print(f"\n{title}: rows print as they finish, the full report follows", flush=True)
        print(PAGE_HEADER, flush=True)
        reports.append(asyncio.run(run_backend(backend, title, options)))
    for report in reports:
        print_report(report, options)
    print(f"\n{common.bench_took(started)}")


if __name__ == "__main__":
    main(sys.argv[1:])
