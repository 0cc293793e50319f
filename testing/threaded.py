"""An ASGI app served by uvicorn in a thread of this process, for stand-in servers (a fake Kubernetes API, a
recording TLS endpoint): on a loopback socket bound here (no race for a free port), started before ``start()``
returns, stopped by ``stop()`` or at the end of its ``with`` block."""

from __future__ import annotations

import threading
from types import TracebackType
from typing import Any, Self

import uvicorn

from testing.ports import loopback_socket
from testing.waiting import wait_until_blocking

START_SECONDS = 10.0


class ThreadedServer:
    def __init__(self, app: Any, *, port: int = 0, **config: Any) -> None:
        """``port``: 0 for one the kernel picks, or a given one (a server started again where it was);
        ``config``: uvicorn.Config's options beyond the defaults here (no lifespan, no logging setup)."""
        options = {"log_config": None, "lifespan": "off", "access_log": False, **config}
        self.server = uvicorn.Server(uvicorn.Config(app, **options))
        self.socket = loopback_socket(port)
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.socket]}, daemon=True)

    @property
    def port(self) -> int:
        return int(self.socket.getsockname()[1])

    def start(self) -> Self:
        self.thread.start()

        def started() -> bool:
            assert self.thread.is_alive(), "uvicorn exited during start-up"
            return self.server.started

        wait_until_blocking(started, seconds=START_SECONDS, what="uvicorn starting", every=0.01)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        if self.thread.is_alive():
            self.thread.join(timeout=START_SECONDS)
        self.socket.close()
        assert not self.thread.is_alive(), "uvicorn did not shut down"

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.stop()
