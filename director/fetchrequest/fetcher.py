"""Fetching a spec over HTTP, as Compass's fetch request service does (a GET that must answer 200), guarded: a
total time limit, a size limit, a bounded number of redirects, and no address that is not global (loopback,
private, link-local, unspecified, multicast, reserved) unless an operator allows its network.

Every host name is resolved here, every address it resolves to is checked, and the connection goes to the checked
address (the name kept in the Host header and as the TLS server name), so a name that resolves differently a
moment later (DNS rebinding) cannot lead the request elsewhere. Each redirect is checked anew, and credentials
are sent only to the origin they were given for.
"""

from __future__ import annotations

import asyncio
import base64
import ipaddress
import json
import socket
import ssl
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from functools import cache
from typing import Any

import httpx

from director.bundle.inputs import FetchedSpec, FetchRequestStatusCondition
from kernel.models import utcnow
from kernel.settings import Settings

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
REDIRECTS = frozenset({301, 302, 303, 307, 308})
DEFAULT_PORTS = {"http": 80, "https": 443}
# Compass's message prefix, kept so that tooling matching on it keeps working.
PREFIX = "While fetching Spec"


class FetchRefused(Exception):
    """Why a fetch failed, in words a user can act on."""


@dataclass(frozen=True)
class FetchPolicy:
    allowed_networks: tuple[IPNetwork, ...]
    timeout: float
    max_bytes: int
    max_redirects: int

    @classmethod
    def of(cls, settings: Settings) -> FetchPolicy:
        return cls(
            allowed_networks=tuple(
                ipaddress.ip_network(net, strict=False) for net in settings.spec_fetch_allowed_networks
            ),
            timeout=settings.spec_fetch_timeout_seconds,
            max_bytes=settings.spec_fetch_max_bytes,
            max_redirects=settings.spec_fetch_max_redirects,
        )


def _kind(address: IPAddress) -> str | None:
    """What makes ``address`` one not to fetch from, or None for a global one."""
    for kind in ("loopback", "link_local", "private", "unspecified", "multicast", "reserved"):
        if getattr(address, f"is_{kind}"):
            return kind.replace("_", "-")
    return None if address.is_global else "non-global"


def _check(policy: FetchPolicy, host: str, address: IPAddress) -> None:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if any(address in network for network in policy.allowed_networks):
        return
    if (kind := _kind(address)) is not None:
        raise FetchRefused(
            f"{host} is {address}, a {kind} address, which specs are not fetched from "
            "(an operator may allow its network with COMPASS_SPEC_FETCH_ALLOWED_NETWORKS)"
        )


async def _address(policy: FetchPolicy, host: str, port: int) -> str:
    """The one address of ``host`` to connect to, after every address it resolves to passed the check."""
    try:
        return str(_checked_literal(policy, host))
    except ValueError:
        pass
    try:
        found = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as error:
        raise FetchRefused(
            f"the host name {host} could not be resolved ({error.strerror or error})"
        ) from None
    addresses = [ipaddress.ip_address(str(entry[4][0]).split("%", 1)[0]) for entry in found]
    if not addresses:
        raise FetchRefused(f"the host name {host} resolves to no address")
    for address in addresses:
        _check(policy, host, address)
    return str(addresses[0])


def _checked_literal(policy: FetchPolicy, host: str) -> IPAddress:
    """``host`` as an IP address, checked; ValueError when it is a name."""
    address = ipaddress.ip_address(host)
    _check(policy, host, address)
    return address


def _origin(url: httpx.URL) -> tuple[str, str, int | None]:
    return url.scheme, url.host, url.port or DEFAULT_PORTS.get(url.scheme)


@cache
def _verifying() -> ssl.SSLContext:
    """The TLS context of every session, built once: httpx builds one per client otherwise, reading its bundle of
    trusted CAs again (~30 ms of CPU for each spec fetched and each webhook called)."""
    return httpx.create_ssl_context(trust_env=False)


@asynccontextmanager
async def guarded_session(policy: FetchPolicy) -> AsyncIterator[GuardedSession]:
    """A session with a client of its own, closed afterwards: each fetch connects to the address it checked."""
    client = httpx.AsyncClient(
        timeout=httpx.Timeout(policy.timeout), follow_redirects=False, trust_env=False, verify=_verifying()
    )
    async with client:
        yield GuardedSession(client, policy)


class GuardedSession:
    """One fetch (or one formation notification, director/formationassignment/notifier.py): its client and its
    policy."""

    def __init__(self, client: httpx.AsyncClient, policy: FetchPolicy) -> None:
        self.client = client
        self.policy = policy

    async def send(
        self,
        method: str,
        url: httpx.URL,
        headers: list[tuple[str, str]],
        data: dict[str, str] | None = None,
        content: bytes | None = None,
    ) -> httpx.Response:
        """``url`` requested at its checked address; the answer's body not read yet."""
        if url.scheme not in DEFAULT_PORTS or not url.host:
            raise FetchRefused(f"{url} is not an absolute http or https URL")
        port = url.port or DEFAULT_PORTS[url.scheme]
        address = await _address(self.policy, url.host, port)
        extensions: dict[str, Any] = {"sni_hostname": url.host} if url.scheme == "https" else {}
        request = self.client.build_request(
            method,
            url.copy_with(host=address),
            headers=[("Host", url.netloc.decode("ascii")), *headers],
            data=data,
            content=content,
            extensions=extensions,
        )
        return await self.client.send(request, stream=True)

    async def body(self, response: httpx.Response, what: str) -> bytes:
        limit = self.policy.max_bytes
        declared = response.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            raise FetchRefused(f"{what} is {declared} bytes, more than the {limit} allowed")
        chunks: list[bytes] = []
        size = 0
        async for chunk in response.aiter_bytes():
            size += len(chunk)
            if size > limit:
                raise FetchRefused(f"{what} is more than the {limit} bytes allowed")
            chunks.append(chunk)
        return b"".join(chunks)

    async def oauth_token(self, oauth: dict[str, str]) -> str:
        """The client credentials grant (RFC 6749 4.4), the client authenticated with HTTP Basic as Go's client
        does first."""
        pair = f"{oauth['clientId']}:{oauth['clientSecret']}".encode()
        headers = [
            ("Authorization", "Basic " + base64.b64encode(pair).decode("ascii")),
            ("Accept", "application/json"),
        ]
        url = httpx.URL(oauth["url"])
        response = await self.send("POST", url, headers, data={"grant_type": "client_credentials"})
        try:
            body = await self.body(response, "the OAuth token answer")
        finally:
            await response.aclose()
        if response.status_code != httpx.codes.OK:
            raise FetchRefused(f"the OAuth token endpoint {url} answered {response.status_code}")
        try:
            token = json.loads(body)["access_token"]
        except (ValueError, KeyError, TypeError):
            raise FetchRefused(f"the OAuth token endpoint {url} answered no access_token") from None
        return str(token)

    async def credentials(
        self, auth: dict[str, Any] | None
    ) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
        """The headers and query parameters ``auth`` adds to the first request."""
        if not auth:
            return [], []
        headers = [
            (name, value)
            for name, values in (auth.get("additionalHeaders") or {}).items()
            for value in values
        ]
        query = [
            (name, value)
            for name, values in (auth.get("additionalQueryParams") or {}).items()
            for value in values
        ]
        credential = auth.get("credential") or {}
        if (basic := credential.get("basic")) is not None:
            pair = f"{basic['username']}:{basic['password']}".encode()
            headers.append(("Authorization", "Basic " + base64.b64encode(pair).decode("ascii")))
        elif (oauth := credential.get("oauth")) is not None:
            headers.append(("Authorization", "Bearer " + await self.oauth_token(oauth)))
        elif credential:
            raise FetchRefused("only basic and oauth credentials can be used to fetch a spec")
        return headers, query

    async def get(self, url: str, auth: dict[str, Any] | None) -> bytes:
        headers, query = await self.credentials(auth)
        current = httpx.URL(url)
        if query:
            current = current.copy_merge_params(tuple(query))
        origin = _origin(current)
        for _hop in range(self.policy.max_redirects + 1):
            response = await self.send("GET", current, headers if _origin(current) == origin else [])
            try:
                location = response.headers.get("location")
                if response.status_code in REDIRECTS and location:
                    current = current.join(location)
                    continue
                if response.status_code != httpx.codes.OK:
                    raise FetchRefused(f"status code: {response.status_code}")
                data = await self.body(response, "the spec")
            finally:
                await response.aclose()
            return data
        raise FetchRefused(f"{url} redirected more than {self.policy.max_redirects} times")


def _failed(message: str) -> FetchedSpec:
    separator = " " if message.startswith("status code") else ": "
    return FetchedSpec(FetchRequestStatusCondition.FAILED, utcnow(), message=f"{PREFIX}{separator}{message}")


async def fetch_spec(policy: FetchPolicy, url: str, auth: dict[str, Any] | None) -> FetchedSpec:
    """The spec at ``url`` (SUCCEEDED, with its text), or why there is none (FAILED, with a message); never raises
    for what the remote end does."""
    try:
        async with asyncio.timeout(policy.timeout), guarded_session(policy) as session:
            body = await session.get(url, auth)
    except (TimeoutError, httpx.TimeoutException):
        return _failed(f"{url} did not answer within {policy.timeout:g} seconds")
    except FetchRefused as refused:
        return _failed(str(refused))
    except httpx.HTTPError as error:
        return _failed(f"{url}: {error or type(error).__name__}")
    return FetchedSpec(
        FetchRequestStatusCondition.SUCCEEDED, utcnow(), data=body.decode("utf-8", errors="replace")
    )
