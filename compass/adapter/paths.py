"""Which requests belong to the REST API of the tutorials, and what credential each takes.

The authentication middleware runs before routing, so it recognises these paths from the path alone: the
connector endpoints and the Application Registry take a client certificate or a one-time token (each endpoint
then accepts only the one it is for), the Remote Environment token endpoint takes an operator's JWT.
"""

from __future__ import annotations

import re
from enum import Enum

from compass.adapter.connector import PATHS as CONNECTOR_PATHS
from compass.adapter.formation_mapping import PATHS as FORMATION_MAPPING_PATHS

# ``/<app>/v1/metadata/services[/<id>]``: the application's name is the first segment (DATAPLANE.md D.3.3).
METADATA_SERVICES = re.compile(r"/[^/]+/v1/metadata/services(?:/[^/]+)?")
REMOTE_ENVIRONMENT_PREFIX = "/v1/remoteenvironments"
REMOTE_ENVIRONMENT_TOKENS = re.compile(rf"{REMOTE_ENVIRONMENT_PREFIX}/[^/]+/tokens")
REMOTE_ENVIRONMENT_CONNECTOR = re.compile(rf"{REMOTE_ENVIRONMENT_PREFIX}/[^/]+/(?:info|client-certs)")


class Credential(Enum):
    CONNECTOR = "connector"  # a client certificate or a one-time token
    OPERATOR = "operator"  # an operator's JWT
    DIRECTOR = "director"  # whatever the Director takes: a JWT (operator's or client's) or a client certificate
    # A client certificate of this CA only (the Runtime Watcher's listener): the endpoint answers a missing or
    # refused one itself, after the checks that come first on its path.
    CERTIFICATE = "certificate"


def credential_for(path: str) -> Credential | None:
    """``None`` for every path outside the REST API (``path`` without its trailing slash)."""
    if path in CONNECTOR_PATHS or METADATA_SERVICES.fullmatch(path) or REMOTE_ENVIRONMENT_CONNECTOR.fullmatch(path):
        return Credential.CONNECTOR
    if REMOTE_ENVIRONMENT_TOKENS.fullmatch(path):
        return Credential.OPERATOR
    if FORMATION_MAPPING_PATHS.fullmatch(path):
        return Credential.DIRECTOR
    return None
