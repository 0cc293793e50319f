"""The Application Gateway as a user runs it: ``compass-gateway serve`` in a process of its own, reading a
manifest directory, for the tests and the gateway bench."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

from testing.applications import ManifestDirectory
from testing.ports import free_port
from testing.served import ServedProcess

GATEWAY = Path(sys.executable).with_name("compass-gateway")


@dataclass
class ServedGateway:
    process: ServedProcess
    manifests: ManifestDirectory
    standalone_port: int
    compass_port: int

    @property
    def standalone_url(self) -> str:
        return f"http://127.0.0.1:{self.standalone_port}"

    @property
    def compass_url(self) -> str:
        return f"http://127.0.0.1:{self.compass_port}"

    @property
    def api_url(self) -> str:
        return self.process.http_url


def start_gateway(manifest_dir: Path, log: Path, **settings: str) -> ServedGateway:
    """Started and ready; ``settings`` are GATEWAY_* beyond the defaults (``retry_body_limit="10"`` sets
    GATEWAY_RETRY_BODY_LIMIT). The caller stops ``process``."""
    env = {
        "GATEWAY_MANIFEST_DIR": str(manifest_dir),
        "GATEWAY_PORT": str(free_port()),
        "GATEWAY_COMPASS_PORT": str(free_port()),
        "GATEWAY_API_PORT": str(free_port()),
        "GATEWAY_LOG_LEVEL": "warning",
        **{f"GATEWAY_{name.upper()}": value for name, value in settings.items()},
    }
    process = ServedProcess(
        "compass-gateway", [str(GATEWAY), "serve"], log=log, env=env, http_port=int(env["GATEWAY_API_PORT"])
    )
    process.start()
    try:
        process.wait_ready()
    except BaseException:
        process.stop()
        raise
    return ServedGateway(
        process, ManifestDirectory(manifest_dir), int(env["GATEWAY_PORT"]), int(env["GATEWAY_COMPASS_PORT"])
    )
