"""The events bench's baseline: a bare Starlette endpoint that takes the same legacy POSTs over the same TLS and
does nothing with them: no validator, no parsing, no store, no metrics. It is served as ``compass-events serve``
serves its ingress (dataplane.serving: uvicorn on uvloop with the same options, the same serving certificate,
client certificates requested and verified against the same CA during the handshake), beside the same health
listener, so what the ingress reaches is read against what this stack reaches with nothing to do.

``python -m bench.events_baseline PORT API_PORT CERT KEY CLIENT_CA``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import uvloop
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from dataplane.health import HealthApp
from dataplane.serving import Listener, bind, serve
from dataplane.tls import requesting_client_certificates

HOST = "127.0.0.1"
# The shape of the ingress's legacy answer, one constant for every event.
ACCEPTED = b'{"event-id":"","status":"","reason":""}'


async def accept(request: Request) -> Response:
    await request.body()
    return Response(ACCEPTED, media_type="application/json")


app = Starlette(routes=[Route("/{application}/v1/events", accept, methods=["POST"])])


def main(port: int, api_port: int, certificate: Path, key: Path, client_ca: Path) -> None:
    listeners = [
        Listener(
            "baseline", app, HOST, port, tls=requesting_client_certificates(certificate, key, client_ca)
        ),
        Listener("health", HealthApp(lambda: True), HOST, api_port),
    ]
    sys.exit(uvloop.run(serve(listeners, bind(listeners))))


if __name__ == "__main__":
    main(int(sys.argv[1]), int(sys.argv[2]), *(Path(argument) for argument in sys.argv[3:6]))
