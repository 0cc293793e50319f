"""The event ingress as a user runs it: ``compass-events serve`` in a process of its own, reading a manifest
directory (Applications and Subscriptions) and trusting a CA file, for the tests and the events bench."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

from testing.applications import ManifestDirectory
from testing.ports import free_port
from testing.served import ServedProcess

EVENTS = Path(sys.executable).with_name("compass-events")


@dataclass
class ServedEvents:
    process: ServedProcess
    manifests: ManifestDirectory
    port: int
    data_dir: Path

    @property
    def url(self) -> str:
        """The HTTPS ingress; its serving CA is ``serving_ca`` (generated on first start)."""
        return f"https://127.0.0.1:{self.port}"

    @property
    def serving_ca(self) -> Path:
        return self.data_dir / "tls" / "serving-ca.crt"

    @property
    def api_url(self) -> str:
        return self.process.http_url


def events_process(
    manifest_dir: Path, data_dir: Path, ca_file: Path, log: Path, **settings: str
) -> ServedEvents:
    """Not started: ``process.start()`` and ``process.wait_ready()`` (or ``start_events``). ``settings`` are
    EVENTS_* beyond these (``bus="nats"`` sets EVENTS_BUS); the same ports are kept across restarts."""
    env = {
        "EVENTS_MANIFEST_DIR": str(manifest_dir),
        "EVENTS_DATA_DIR": str(data_dir),
        "EVENTS_CA_FILE": str(ca_file),
        "EVENTS_PORT": str(free_port()),
        "EVENTS_API_PORT": str(free_port()),
        "EVENTS_LOG_LEVEL": "warning",
        **{f"EVENTS_{name.upper()}": value for name, value in settings.items()},
    }
    process = ServedProcess(
        "compass-events", [str(EVENTS), "serve"], log=log, env=env, http_port=int(env["EVENTS_API_PORT"])
    )
    return ServedEvents(process, ManifestDirectory(manifest_dir), int(env["EVENTS_PORT"]), data_dir)


def start_events(
    manifest_dir: Path, data_dir: Path, ca_file: Path, log: Path, **settings: str
) -> ServedEvents:
    """Started and ready; the caller stops ``process``."""
    served = events_process(manifest_dir, data_dir, ca_file, log, **settings)
    served.process.start()
    try:
        served.process.wait_ready()
    except BaseException:
        served.process.stop()
        raise
    return served
