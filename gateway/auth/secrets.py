"""Reading the keys of a credentials Secret."""

from __future__ import annotations

import hashlib

from gateway.errors import GatewayError
from gateway.lookup import ResolvedApi


def text(api: ResolvedApi, key: str) -> str:
    """The key's value as text; a missing key reads as empty, as in Kyma (the call then fails upstream)."""
    try:
        return api.secret.get(key, b"").decode("utf-8")
    except UnicodeDecodeError as exc:
        name = api.credentials.secret_name if api.credentials is not None else ""
        raise GatewayError(500, f"secret '{name}': the value of '{key}' is not UTF-8 text") from exc


def digest(*parts: bytes) -> bytes:
    """What cache keys hold instead of secrets and key material (length-prefixed, so parts cannot shift)."""
    hashed = hashlib.sha256()
    for part in parts:
        hashed.update(len(part).to_bytes(8, "big"))
        hashed.update(part)
    return hashed.digest()
