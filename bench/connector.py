"""Connector benchmark: client certificates signed per second end to end over HTTP, and the share of signing.

For each backend (SQLite, and PostgreSQL when COMPASS_TEST_POSTGRES_URL is set, as ``make bench`` does) it
runs ``compass serve`` as a subprocess, registers N runtimes and pre-issues one runtime token each through the
Director (``requestOneTimeTokenForRuntime``, 25 per document), and reads each runtime's client id. Every
client's key (EC P-256) and CSR for its announced subject are made before the clock starts: client-side key
generation is excluded. Then ``--concurrency`` keep-alive connections each take the next token and do what a
client does for its first certificate: ``configuration`` with the ``Connector-Token`` (redeems it, returns the
signing token) and ``signCertificateSigningRequest`` with the signing token, over plain HTTP (Compass's
token-secured URL). The per-address rate limit is lifted for the run.

The share of signing: ``CertificateAuthority.sign`` run alone, in this process, on the same CSRs with the
server's CA, compared with the server's CPU per certificate and with the wall time per certificate. The CSR
checks (``parse_and_validate_csr``: parse, key policy, signature, subject) are shown beside it. Nothing asserts
on time.

    python bench/connector.py [--count 500] [--concurrency 8] [--backends sqlite,postgresql]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import os
import statistics
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

if __package__ in (None, ""):
    # `python bench/connector.py`: make `bench` importable from the repository root.
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec

from bench import common
from bench.certificates import CONFIGURATION, certificate_request, sign_document
from bench.common import CONNECTOR_PATH, DIRECTOR_PATH, graphql, graphql_result, log, percentile
from bench.director import operator_headers, pycompass_server
from testing.databases import temporary_workspace
from testing.processes import cpu_seconds

BATCH = 25  # aliases per Director document (the server allows 30)
WARMUP = 20
SUBJECT = "O=Org,OU=OrgUnit,L=Locality,ST=State,C=PL,CN={}"


@dataclass(frozen=True)
class Client:
    """A runtime ready to connect: its one-time token and the CSR for its subject."""

    token: str
    subject: str
    csr: bytes

    @property
    def csr_b64(self) -> str:
        return base64.b64encode(self.csr).decode()


async def prepare_clients(base_url: str, headers: dict[str, str], count: int, prefix: str) -> list[Client]:
    """N runtimes, a token each, their client ids, and a CSR each; all before the clock starts."""
    url = base_url + DIRECTOR_PATH
    clients: list[Client] = []
    async with httpx.AsyncClient(timeout=60) as http:
        for start in range(0, count, BATCH):
            indexes = range(start, min(count, start + BATCH))
            register = (f'r{i}: registerRuntime(in: {{name: "{prefix}-{i}"}}) {{ id }}' for i in indexes)
            registered = await graphql(http, url, "mutation { " + " ".join(register) + " }", headers)
            ids = [registered[f"r{i}"]["id"] for i in indexes]
            request = (f'{n}: requestOneTimeTokenForRuntime(id: "{i}") {{ token }}' for n, i in _aliased(ids))
            tokens = await graphql(http, url, "mutation { " + " ".join(request) + " }", headers)
            read = (f'{n}: runtime(id: "{i}") {{ auths {{ id }} }}' for n, i in _aliased(ids))
            auths = await graphql(http, url, "query { " + " ".join(read) + " }", headers)
            for name, _ in _aliased(ids):
                subject = SUBJECT.format(auths[name]["auths"][0]["id"])
                key = ec.generate_private_key(ec.SECP256R1())
                clients.append(Client(tokens[name]["token"], subject, certificate_request(subject, key)))
    return clients


def _aliased(ids: list[str]) -> list[tuple[str, str]]:
    return [(f"a{n}", object_id) for n, object_id in enumerate(ids)]


async def connect(http: httpx.AsyncClient, url: str, client: Client) -> str:
    """configuration, then signCertificateSigningRequest: what a client does for its first certificate."""
    configuration = await graphql_result(http, url, CONFIGURATION, {"Connector-Token": client.token})
    if configuration["certificateSigningRequestInfo"]["subject"] != client.subject:
        raise RuntimeError("the Connector announced another subject than the runtime's client id")
    signing_token = {"Connector-Token": configuration["token"]["token"]}
    signed = await graphql_result(http, url, sign_document(client.csr_b64), signing_token)
    return str(signed["clientCertificate"])


@dataclass(frozen=True)
class Load:
    wall: float
    latencies: list[float]
    certificates: list[str]


async def run_load(base_url: str, clients: list[Client], concurrency: int) -> Load:
    url = base_url + CONNECTOR_PATH
    queue = list(reversed(clients))
    latencies: list[float] = []
    certificates: list[str] = []
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(limits=limits, timeout=120) as http:

        async def worker() -> None:
            while queue:
                client = queue.pop()
                started = time.perf_counter()
                certificates.append(await connect(http, url, client))
                latencies.append(time.perf_counter() - started)

        began = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        wall = time.perf_counter() - began
    return Load(wall, latencies, certificates)


@dataclass(frozen=True)
class InProcess:
    sign_seconds: float  # median CertificateAuthority.sign per certificate
    checks_seconds: float  # median parse_and_validate_csr per CSR


def measure_in_process(data_dir: Path, clients: list[Client]) -> InProcess:
    """The server's CA signing the same CSRs, alone, one after another on this thread."""
    from compass.app import load_certificate_authority
    from connector.ca import CertificateSubject, parse_and_validate_csr
    from kernel.settings import Settings

    ca = load_certificate_authority(Settings(data_dir=data_dir))
    signing, checks = [], []
    now = datetime.now(UTC)
    for client in clients:
        subject = CertificateSubject.from_compass_string(client.subject)
        encoded = client.csr_b64
        started = time.perf_counter()
        csr = parse_and_validate_csr(encoded, subject)
        checked = time.perf_counter()
        ca.sign(csr, subject, validity=timedelta(days=90), now=now)
        signed = time.perf_counter()
        checks.append(checked - started)
        signing.append(signed - checked)
    return InProcess(statistics.median(signing), statistics.median(checks))


@dataclass(frozen=True)
class Report:
    backend: str
    count: int
    load: Load
    server_cpu: float
    in_process: InProcess
    load_average: float


def _check_certificates(load: Load, clients: list[Client]) -> None:
    expected = {client.subject.rsplit("CN=", 1)[1] for client in clients}
    seen = set()
    for encoded in load.certificates:
        certificate = x509.load_pem_x509_certificate(base64.b64decode(encoded))
        seen.add(str(certificate.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)[0].value))
    if seen != expected:
        raise RuntimeError("the certificates do not carry exactly the runtimes' client ids")


async def run_backend(backend: str, options: argparse.Namespace) -> Report:
    from compass.auth.jwt import load_or_create_signing_key
    from director.tenant.service import tenant as tenant_service
    from kernel.db import Database
    from kernel.settings import Settings

    async with temporary_workspace(backend, "compass-connector-bench") as (workdir, url):
        settings = Settings(data_dir=workdir, database_url=url)
        load_or_create_signing_key(settings.jwt_key_file)  # before the server starts, so both use one key
        database = Database(url)
        async with database.transaction() as session:
            tenant_id = (await tenant_service.create(session, "bench")).id
        await database.dispose()
        headers = operator_headers(settings, tenant_id)
        # The per-address limit (5 token calls/s by default) would measure itself, not the Connector.
        with pycompass_server(workdir, url, COMPASS_REDEMPTIONS_PER_SECOND="1000000") as server:
            log(f"{backend}: preparing {WARMUP} + {options.count} runtimes, tokens and CSRs")
            warmup = await prepare_clients(server.http_url, headers, WARMUP, "warmup")
            clients = await prepare_clients(server.http_url, headers, options.count, "bench")
            await run_load(server.http_url, warmup, options.concurrency)
            log(f"{backend}: {options.count} certificates over {options.concurrency} connections")
            cpu_before = cpu_seconds(server.pid)
            load = await run_load(server.http_url, clients, options.concurrency)
            server_cpu = cpu_seconds(server.pid) - cpu_before
            load_average = os.getloadavg()[0]
            _check_certificates(load, clients)
        log(f"{backend}: CertificateAuthority.sign alone on the same {len(clients)} CSRs")
        in_process = measure_in_process(workdir, clients)
    return Report(backend, options.count, load, server_cpu, in_process, load_average)


def print_reports(reports: list[Report], options: argparse.Namespace) -> None:
    print()
    print(
        "Connector: first certificates end to end over HTTP (configuration + signCertificateSigningRequest), "
        f"{options.count} runtimes, {options.concurrency} keep-alive connections.\nClient keys (EC P-256) and "
        "CSRs were made before timing: client key generation is excluded. CA key: generated EC P-256."
    )
    print()
    header = (
        f"{'backend':<11} {'certs/s':>8} {'p50 ms':>7} {'p99 ms':>7} {'srv CPU ms':>10} {'sign ms':>8} "
        f"{'checks ms':>9} {'sign/CPU':>8} {'sign/wall':>9} {'load':>5}"
    )
    print(header)
    print("-" * len(header))
    for report in reports:
        per_certificate_wall = report.load.wall / report.count
        cpu_per_certificate = report.server_cpu / report.count
        sign = report.in_process.sign_seconds
        p50, p99 = (percentile(report.load.latencies, fraction) * 1000 for fraction in (0.5, 0.99))
        checks = report.in_process.checks_seconds
        print(
            f"{report.backend:<11} {report.count / report.load.wall:>8.1f} {p50:>7.1f} {p99:>7.1f} "
            f"{cpu_per_certificate * 1000:>10.2f} {sign * 1000:>8.3f} {checks * 1000:>9.3f} "
            f"{sign / cpu_per_certificate:>8.1%} {sign / per_certificate_wall:>9.1%} {report.load_average:>5.2f}"
        )
    print()
    print(
        "certs/s: certificates completed per second (each is 2 HTTP requests: configuration, which redeems the\n"
        "  token, then signCertificateSigningRequest). p50/p99: per certificate, both requests.\n"
        "srv CPU ms: compass serve's CPU (user + system, all threads) per certificate.\n"
        "sign ms: median CertificateAuthority.sign alone, in process, on the same CSRs. checks ms: median\n"
        "  parse_and_validate_csr (parse, key policy, CSR signature, subject), which the server runs before it.\n"
        "sign/CPU: sign ms / srv CPU ms. sign/wall: sign ms / (wall time / certificates). load: 1-min load average."
    )


def parse_options(argv: list[str]) -> argparse.Namespace:
    parser = common.parser(__doc__)
    parser.add_argument("--count", type=int, default=500, help="certificates measured per backend")
    parser.add_argument("--concurrency", type=int, default=8, help="keep-alive connections of the load")
    options = common.parse(parser, argv)
    if "postgresql" in options.backends and not os.environ.get("COMPASS_TEST_POSTGRES_URL"):
        log("COMPASS_TEST_POSTGRES_URL is not set: PostgreSQL skipped (scripts/with-postgres.sh sets it)")
        options.backends.remove("postgresql")
    return options


def main(argv: list[str]) -> None:
    options = parse_options(argv)
    reports = [asyncio.run(run_backend(backend, options)) for backend in options.backends]
    print_reports(reports, options)


if __name__ == "__main__":
    main(sys.argv[1:])
