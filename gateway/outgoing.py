"""The upstream request while it is being built: the proxy sets the target, parameters and headers, the
authorization adds credentials, then the proxy sends it (twice, on a 401/403 retry)."""

from __future__ import annotations

from dataclasses import dataclass

from multidict import CIMultiDict
from yarl import URL


@dataclass(frozen=True)
class ClientCertificate:
    """PEM certificate (chain) and key from a Secret's ``crt`` and ``key``."""

    crt: bytes
    key: bytes


@dataclass
class Outgoing:
    method: str
    url: URL  # the target URL with the query, already encoded
    headers: CIMultiDict[str]
    certificate: ClientCertificate | None = None
