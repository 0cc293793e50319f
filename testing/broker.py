"""The Application Broker as a user runs it: ``compass-broker serve`` in a process of its own, with the Basic
credentials a platform would be given, for the broker's tests."""

from __future__ import annotations

import hashlib
import hmac
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from testing.ports import free_port
from testing.served import ServedProcess

BROKER = Path(sys.executable).with_name("compass-broker")
USERNAME, PASSWORD = "service-catalog", "broker-password-for-the-run"


def namespace_password(namespace: str) -> str:
    """A namespace's Basic password as the README documents it (HMAC-SHA256 keyed with BROKER_PASSWORD, hex),
    computed here so the tests pin the documented derivation, not merely the broker's own."""
    return hmac.new(PASSWORD.encode(), namespace.encode(), hashlib.sha256).hexdigest()


API_VERSION = "2.16"


@dataclass
class ServedBroker:
    process: ServedProcess
    port: int

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def catalog(self, namespace: str, **headers: str) -> httpx.Response:
        """``GET /<namespace>/v2/catalog`` as a platform calls it; ``headers`` are sent instead of the usual."""
        return httpx.get(f"{self.url}/{namespace}/v2/catalog", **self.request_options(namespace, **headers))

    def provision(
        self, namespace: str, instance_id: str, body: dict[str, Any], *, accepts_incomplete: bool = True
    ) -> httpx.Response:
        params = {"accepts_incomplete": "true"} if accepts_incomplete else {}
        return httpx.put(
            f"{self.url}/{namespace}/v2/service_instances/{instance_id}",
            json=body,
            params=params,
            **self.request_options(namespace),
        )

    def deprovision(self, namespace: str, instance_id: str, **params: str) -> httpx.Response:
        return httpx.delete(
            f"{self.url}/{namespace}/v2/service_instances/{instance_id}",
            params=params,
            **self.request_options(namespace),
        )

    def last_operation(self, namespace: str, instance_id: str, **params: str) -> httpx.Response:
        return httpx.get(
            f"{self.url}/{namespace}/v2/service_instances/{instance_id}/last_operation",
            params=params,
            **self.request_options(namespace),
        )

    def bind(self, namespace: str, instance_id: str, binding_id: str, body: dict[str, Any]) -> httpx.Response:
        return httpx.put(
            self._binding(namespace, instance_id, binding_id), json=body, **self.request_options(namespace)
        )

    def fetch_binding(
        self, namespace: str, instance_id: str, binding_id: str, **params: str
    ) -> httpx.Response:
        return httpx.get(
            self._binding(namespace, instance_id, binding_id),
            params=params,
            **self.request_options(namespace),
        )

    def unbind(self, namespace: str, instance_id: str, binding_id: str, **params: str) -> httpx.Response:
        return httpx.delete(
            self._binding(namespace, instance_id, binding_id),
            params=params,
            **self.request_options(namespace),
        )

    def _binding(self, namespace: str, instance_id: str, binding_id: str) -> str:
        return f"{self.url}/{namespace}/v2/service_instances/{instance_id}/service_bindings/{binding_id}"

    def request_options(self, namespace: str, **headers: str) -> dict[str, Any]:
        """As a platform registered in ``namespace`` calls (its first path segment)."""
        sent = headers or {"X-Broker-API-Version": API_VERSION}
        return {"headers": sent, "auth": (USERNAME, namespace_password(namespace)), "timeout": 10}


def start_broker(log: Path, *, agent_state_dir: str, **settings: str) -> ServedBroker:
    """Started and ready, with ``agent_state_dir`` as AGENT_STATE_DIR (the default, relative to the working
    directory, would be the repository's); ``settings`` are BROKER_* beyond the defaults (``manifest_dir=...``
    sets BROKER_MANIFEST_DIR). The caller stops ``process``."""
    env = {
        "AGENT_STATE_DIR": agent_state_dir,
        "BROKER_PORT": str(free_port()),
        "BROKER_API_PORT": str(free_port()),
        "BROKER_USERNAME": USERNAME,
        "BROKER_PASSWORD": PASSWORD,
        "BROKER_LOG_LEVEL": "warning",
        **{f"BROKER_{name.upper()}": value for name, value in settings.items()},
    }
    process = ServedProcess(
        "compass-broker", [str(BROKER), "serve"], log=log, env=env, http_port=int(env["BROKER_API_PORT"])
    )
    process.start()
    try:
        process.wait_ready()
    except BaseException:
        process.stop()
        raise
    return ServedBroker(process, int(env["BROKER_PORT"]))
