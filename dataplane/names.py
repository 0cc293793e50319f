"""Names shared by the agent (which writes them into ``centralGatewayUrl``) and the gateway (which matches
them), so that a URL taken from an Application resource always finds its API."""

from __future__ import annotations

import re
from pathlib import Path

# Where the agent's directory sink writes and the gateway and event ingress read: <AGENT_STATE_DIR>/manifests
# with the agent's default state directory.
DEFAULT_MANIFEST_DIR = Path(".compass-agent") / "manifests"
DEFAULT_SECRET_NAMESPACE = "kyma-system"
# An Application annotation (the agent copies the Director application label of the same key) that overrides
# the gateway's GATEWAY_PROXY_TIMEOUT for that application's APIs: seconds, as a string (e.g. "60").
PROXY_TIMEOUT_ANNOTATION = "gateway.pycompass.io/proxy-timeout"

_NOT_ALPHANUMERIC = re.compile(r"[^A-Za-z0-9]+")
_MAX_LENGTH = 57


def gateway_name(name: str) -> str:
    """Kyma's gateway ``NormalizeName``: runs of anything but ASCII letters and digits become one ``-``, lower
    case, one trailing ``-`` dropped, at most 57 characters, one leading ``-`` dropped."""
    normalized = _NOT_ALPHANUMERIC.sub("-", name).lower()
    normalized = normalized.removesuffix("-")[:_MAX_LENGTH]
    return normalized.removeprefix("-")
