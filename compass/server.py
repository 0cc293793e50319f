"""Runs the one ASGI app on two listeners: plain HTTP, and HTTPS that asks for (not requires) a client certificate."""

from __future__ import annotations

import asyncio
import gc
import logging
import re
import ssl
from dataclasses import dataclass
from pathlib import Path

import uvicorn
import uvloop
from starlette.applications import Starlette

from compass.app import create_app, load_certificate_authority
from compass.settings import Settings
from compass.tls import TLSHttpToolsProtocol
from connector.ca.authority import CertificateAuthority
from connector.ca.files import write_private_file, write_public_file

_QUERY_TOKEN = re.compile(r"([?&]token=)[^&\s]*")


@dataclass(frozen=True)
class TLSFiles:
    certificate: Path
    key: Path
    client_ca: Path


def prepare_tls(settings: Settings, ca: CertificateAuthority) -> TLSFiles:
    """The operator's server certificate, or a fresh one from our CA for the configured host names."""
    directory = settings.data_dir / "tls"
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    client_ca = directory / "client-ca.pem"
    # The whole chain up to the root: OpenSSL will not verify clients against an intermediate alone.
    write_public_file(client_ca, ca.ca_chain_pem.encode())
    if settings.tls_cert_file and settings.tls_key_file:
        return TLSFiles(settings.tls_cert_file, settings.tls_key_file, client_ca)
    credentials = ca.issue_server_certificate(settings.tls_hostnames)
    certificate, key = directory / "server.pem", directory / "server-key.pem"
    write_public_file(certificate, credentials.certificate_pem.encode())
    write_private_file(key, credentials.key_pem.encode())
    return TLSFiles(certificate, key, client_ca)


class RedactQueryTokens(logging.Filter):
    """uvicorn's access line carries the query string, and with it a one-time token sent as ``?token=``."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(
                _QUERY_TOKEN.sub(r"\1[redacted]", arg) if isinstance(arg, str) else arg for arg in record.args
            )
        return True


def server_configs(settings: Settings, app: Starlette, tls: TLSFiles) -> list[uvicorn.Config]:
    common = {"host": settings.host, "log_config": None, "loop": "uvloop", "proxy_headers": False}
    access_log = logging.getLogger("uvicorn.access")
    if not any(isinstance(item, RedactQueryTokens) for item in access_log.filters):
        access_log.addFilter(RedactQueryTokens())
    return [
        uvicorn.Config(app, port=settings.http_port, http="httptools", lifespan="on", **common),
        uvicorn.Config(
            app,
            port=settings.https_port,
            http=TLSHttpToolsProtocol,
            lifespan="off",
            ssl_certfile=str(tls.certificate),
            ssl_keyfile=str(tls.key),
            ssl_ca_certs=str(tls.client_ca),
            ssl_cert_reqs=ssl.CERT_OPTIONAL,
            **common,
        ),
    ]


async def serve_all(configs: list[uvicorn.Config]) -> None:
    servers = [uvicorn.Server(config) for config in configs]
    tasks = [asyncio.create_task(server.serve()) for server in servers]
    # Each server installs the signal handlers in turn, so Ctrl-C reaches one of them: it stops the others.
    done, pending = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    for server in servers:
        server.should_exit = True
    await asyncio.gather(*pending, return_exceptions=True)
    for task in done:
        task.result()  # a listener that could not start (port taken) ends the process with its exit code


def run(settings: Settings) -> None:
    ca = load_certificate_authority(settings)
    tls = prepare_tls(settings, ca)
    app = create_app(settings, ca=ca)
    configs = server_configs(settings, app, tls)
    # Start-up garbage (strawberry, SQLAlchemy) is frozen so that gen-2 collections stay short under load.
    gc.collect()
    gc.freeze()
    # A sync answer allocates tens of thousands of short-lived objects; with the default first threshold (700)
    # collections took ~20% of CPU on a 200-application page, with 50,000 ~5% (bench/director.py).
    gc.set_threshold(50_000, 50, 100)
    uvloop.run(serve_all(configs))
