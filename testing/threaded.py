"""An ASGI app served by uvicorn in a thread of this process, for stand-in servers (a fake Kubernetes API, a
recording TLS endpoint): on a loopback socket bound here (no race for a free port), started before ``start()``
returns, stopped by ``stop()`` or at the end of its ``with`` block."""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, MutableMapping
from types import TracebackType
from typing import Any, Self

import uvicorn

from testing.ports import loopback_socket
from testing.waiting import wait_until_blocking

START_SECONDS = 10.0


class StartStop(ABC):
    """A stand-in used as a ``with`` block: ``start()`` before it, ``stop()`` after it however it ends."""

    @abstractmethod
    def start(self) -> Self: ...

    @abstractmethod
    def stop(self) -> None: ...

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.stop()


class ThreadedServer(StartStop):
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


Message = MutableMapping[str, Any]


async def request_body(receive: Callable[[], Awaitable[Message]]) -> bytes:
    """The whole body of an ASGI request."""
    chunks = []
    while True:
        message = await receive()
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)


async def answer_empty(send: Callable[[Message], Awaitable[None]], status: int) -> None:
    await send({"type": "http.response.start", "status": status, "headers": [(b"content-length", b"0")]})
    await send({"type": "http.response.body", "body": b""})


class RestartableServer(StartStop):
    """A stand-in that ``stop()`` and ``start()`` again serve on the SAME port, so the URL a component under test
    holds stays right while it is down. Subclasses give the ASGI app and uvicorn options (``_options``)."""

    def __init__(self) -> None:
        self._server: ThreadedServer | None = None
        self._port = 0

    @property
    def port(self) -> int:
        return self._port

    @property
    def running(self) -> bool:
        return self._server is not None

    def _options(self) -> dict[str, Any]:
        return {}

    @abstractmethod
    async def _app(self, scope: MutableMapping[str, Any], receive: Any, send: Any) -> None: ...

    def start(self) -> Self:
        """Serves on the port it had before, if it ran already."""
        self._server = ThreadedServer(self._app, port=self._port, interface="asgi3", **self._options()).start()
        self._port = self._server.port
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None
