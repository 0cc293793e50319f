"""The gateway's own calls (token and CSRF endpoints), through the one upstream session."""

from __future__ import annotations

from dataclasses import dataclass

import aiohttp
from multidict import CIMultiDictProxy

from gateway.errors import GatewayError
from gateway.lookup import ResolvedApi
from gateway.outgoing import Outgoing
from gateway.upstream import Upstream


@dataclass(frozen=True)
class Answer:
    status: int
    headers: CIMultiDictProxy[str]
    body: bytes


async def call(
    upstream: Upstream, request: Outgoing, *, body: bytes | None, api: ResolvedApi, url: str
) -> Answer:
    """Sends ``request`` with the API's TLS choice and timeout and reads the whole answer; ``url`` is the
    endpoint as configured, for messages.

    Redirects are not followed: credentials go only where the Application sends them.
    """
    try:
        async with upstream.session.request(
            request.method,
            request.url,
            headers=request.headers,
            data=body,
            ssl=upstream.ssl(skip_verify=api.skip_verify, certificate=request.certificate),
            timeout=aiohttp.ClientTimeout(total=api.timeout),
            allow_redirects=False,
        ) as response:
            return Answer(response.status, response.headers, await response.read())
    except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
        raise GatewayError(
            502, f"failed to make a request to '{url}': {str(exc) or type(exc).__name__}"
        ) from exc


def unexpected_status(status: int, url: str) -> GatewayError:
    return GatewayError(502, f"incorrect response code '{status}' while getting token from {url}")
