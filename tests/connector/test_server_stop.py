"""A stopping server does not wait on TLS peers that never answer its close."""

from __future__ import annotations

from pathlib import Path

import httpx

from connector.ca import CertificateAuthority
from kernel.settings import Settings
from tests.connector.support import TEST_SERVER_SETTINGS, RunningServer, client_ssl_context


async def test_a_server_stops_though_an_idle_keep_alive_tls_client_never_reads(
    settings: Settings, compass_ca: CertificateAuthority, tmp_path: Path
) -> None:
    # httpx keeps the connection in its pool and reads nothing until its next request, so the server's
    # close_notify goes unanswered; without cutting the close, stop() waits out the 30 s TLS shutdown timeout.
    server = RunningServer.start(settings, tmp_path, compass_ca, **TEST_SERVER_SETTINGS)
    try:
        async with httpx.AsyncClient(verify=client_ssl_context(compass_ca.ca_pem, None)) as client:
            assert (await client.get(f"{server.https_url}/healthz")).status_code == 200
            server.stop()
            assert server.thread is not None and not server.thread.is_alive()
    finally:
        server.stop()
