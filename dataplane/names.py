"""Names the agent writes and the gateway and event ingress read: where, in which namespace, under which resource
names, and the path segments of ``centralGatewayUrl`` (one function for the writer and the matcher, so that a URL
taken from an Application resource always finds its API)."""

from __future__ import annotations

import functools
import re
from pathlib import Path

# Where the agent's directory sink writes and the gateway and event ingress read: <AGENT_STATE_DIR>/manifests
# with the agent's default state directory.
DEFAULT_MANIFEST_DIR = Path(".compass-agent") / "manifests"
# The CA certificate the agent keeps beside its own credentials (agent/state.py): what the event ingress verifies
# application client certificates against.
DEFAULT_AGENT_CA_FILE = Path(".compass-agent") / "ca.crt"
DEFAULT_SECRET_NAMESPACE = "kyma-system"
# An Application annotation (the agent copies the Director application label of the same key) that overrides
# the gateway's GATEWAY_PROXY_TIMEOUT for that application's APIs: seconds, as a string (e.g. "60").
PROXY_TIMEOUT_ANNOTATION = "gateway.pycompass.io/proxy-timeout"

# A DNS-1123 subdomain, as Kubernetes wants metadata.name of Applications and Secrets; it also keeps the file names
# of the agent's directory sink safe.
_RESOURCE_NAME_MAX_LENGTH = 253
_RESOURCE_NAME = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
_NOT_ALPHANUMERIC = re.compile(r"[^A-Za-z0-9]+")
_MAX_LENGTH = 57


@functools.lru_cache(maxsize=4096)
def gateway_name(name: str) -> str:
    """Kyma's gateway ``NormalizeName``: runs of anything but ASCII letters and digits become one ``-``, lower
    case, one trailing ``-`` dropped, at most 57 characters, one leading ``-`` dropped."""
    normalized = _NOT_ALPHANUMERIC.sub("-", name).lower()
    normalized = normalized.removesuffix("-")[:_MAX_LENGTH]
    return normalized.removeprefix("-")


def is_resource_name(name: str) -> bool:
    """Could be an Application's or a Secret's name: anything else is absent without a look (and never becomes
    part of a file path)."""
    return len(name) <= _RESOURCE_NAME_MAX_LENGTH and _RESOURCE_NAME.fullmatch(name) is not None
