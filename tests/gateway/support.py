"""What several gateway test modules publish: an OAuth-protected API on the upstream stand-in with a client of its
own. The served gateway lives for the whole session and keeps its tokens, so a client of its own means that no
token another test left in the gateway's cache is ever offered."""

from __future__ import annotations

from dataplane.names import DEFAULT_SECRET_NAMESPACE
from testing.applications import one_api, secret
from testing.gateway import ServedGateway
from testing.upstream import UpstreamStandIn


def publish_oauth(
    gateway: ServedGateway,
    stand_in: UpstreamStandIn,
    name: str,
    target: str = "/bearer/shop",
    *,
    certificate: tuple[bytes, bytes] | None = None,
    **keys: str,
) -> str:
    """Application ``name`` with an OAuth API on ``target`` (a path on the stand-in's HTTP listener) and client
    ``name``; the URL of the token endpoint it uses. The client authenticates with its secret at the stand-in's
    HTTP token endpoint, or, given a ``certificate`` (crt, key), as OAuthWithCert with that certificate at its
    mTLS one. ``keys``: more of the Secret's data."""
    stand_in.clients[name] = f"{name}-secret"
    if certificate is None:
        kind, token_url = "OAuth", f"{stand_in.http_url}/oauth/token"
        client: dict[str, str | bytes] = {"clientSecret": f"{name}-secret"}
    else:
        kind, token_url = "OAuthWithCert", f"{stand_in.mtls_url}/oauth/token"
        client = dict(zip(("crt", "key"), certificate, strict=True))
    credentials = {"type": kind, "secretName": name, "authenticationUrl": token_url}
    gateway.manifests.put(
        one_api(name, stand_in.http_url + target, credentials),
        secret(name, DEFAULT_SECRET_NAMESPACE, clientId=name, **client, **keys),
    )
    return token_url
