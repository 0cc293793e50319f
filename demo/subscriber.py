"""The subscriber: a small HTTP server in the runtime that takes the CloudEvents the event ingress delivers (binary
mode: ``ce-*`` headers, the data as the body) and keeps what it received; and its Subscription, in Kyma's
shape, written beside the agent's manifests as the README's "Sending events from an application" does."""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import yaml

from demo.processes import LOOPBACK

PATH = "/orders"


@dataclass(frozen=True)
class Received:
    """One delivery: its ``ce-*`` attributes (without the prefix) and its body."""

    attributes: dict[str, str]
    body: bytes


class Subscriber:
    """Serves on a free loopback port in a thread of the demo, from ``start()`` until ``close()``."""

    def __init__(self) -> None:
        self.received: list[Received] = []
        self._arrived = threading.Condition()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> str:
        """Its URL, once it serves."""
        subscriber = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                subscriber.take(Received(_attributes(self.headers.items()), body))
                self.send_response(204)
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
                pass

        self._server = ThreadingHTTPServer((LOOPBACK, 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, name="subscriber", daemon=True)
        self._thread.start()
        return f"http://{LOOPBACK}:{self._server.server_address[1]}{PATH}"

    def take(self, received: Received) -> None:
        with self._arrived:
            self.received.append(received)
            self._arrived.notify_all()

    def event(self, event_id: str) -> Received | None:
        """The delivery of the event ``event_id``, once it arrived (after a short wait for it)."""
        with self._arrived:
            self._arrived.wait_for(lambda: self._find(event_id) is not None, timeout=0.2)
            return self._find(event_id)

    def _find(self, event_id: str) -> Received | None:
        return next((item for item in self.received if item.attributes.get("id") == event_id), None)

    def close(self) -> None:
        if self._server is None or self._thread is None:
            return
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()


def _attributes(headers: Iterable[tuple[str, str]]) -> dict[str, str]:
    """A binary-mode CloudEvent's ``ce-*`` headers, by attribute name."""
    return {name.lower().removeprefix("ce-"): value for name, value in headers if name.lower().startswith("ce-")}


def write_subscription(manifest_dir: Path, *, name: str, sink: str, source: str, types: list[str]) -> Path:
    """A Subscription (standard type matching) for the runtime's event ingress to read."""
    manifest = {
        "apiVersion": "eventing.kyma-project.io/v1alpha2",
        "kind": "Subscription",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {"sink": sink, "source": source, "types": types, "typeMatching": "standard"},
    }
    path = manifest_dir / f"subscription-{name}.yaml"
    path.write_text(yaml.safe_dump(manifest, sort_keys=False), encoding="utf-8")
    return path
