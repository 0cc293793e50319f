"""The one typed settings class of the Application Gateway: ``GATEWAY_*`` from the environment (or a directory
with one file per value, ``GATEWAY_CONFIG_DIR``), as the agent's settings are read (``dataplane.settings``)."""

from __future__ import annotations

from pathlib import Path

from dataplane.catalog.sources import CatalogSource
from dataplane.names import DEFAULT_MANIFEST_DIR, DEFAULT_SECRET_NAMESPACE
from dataplane.settings import DataplaneSettings, setting


class GatewaySettings(DataplaneSettings):
    config_dir_variable = "GATEWAY_CONFIG_DIR"

    host: str = setting("127.0.0.1", "GATEWAY_HOST", "Address of all three listeners.")
    port: int = setting(8080, "GATEWAY_PORT", "Standalone proxy: /<app>/<service>/<path>.", ge=0, le=65535)
    compass_port: int = setting(
        8082, "GATEWAY_COMPASS_PORT", "Compass proxy: /<app>/<bundle>/<api>/<path>.", ge=0, le=65535
    )
    api_port: int = setting(8081, "GATEWAY_API_PORT", "/healthz, /readyz and /metrics.", ge=0, le=65535)
    source: CatalogSource = setting(
        "directory", "GATEWAY_SOURCE", "Applications from: directory or kubernetes."
    )
    manifest_dir: Path = setting(
        DEFAULT_MANIFEST_DIR, "GATEWAY_MANIFEST_DIR", "Directory source: the agent's AGENT_MANIFEST_DIR."
    )
    secret_namespace: str = setting(
        DEFAULT_SECRET_NAMESPACE, "GATEWAY_SECRET_NAMESPACE", "Kubernetes source: namespace of the Secrets."
    )
    kubeconfig: Path | None = setting(None, "GATEWAY_KUBECONFIG", "Kubernetes source: default in-cluster.")
    kube_context: str | None = setting(None, "GATEWAY_KUBE_CONTEXT", "Kubernetes source: kubeconfig context.")
    proxy_timeout: float = setting(
        10.0, "GATEWAY_PROXY_TIMEOUT", "Seconds to wait for a target's answer (and token, CSRF calls).", gt=0
    )
    retry_body_limit: int = setting(
        1024 * 1024,
        "GATEWAY_RETRY_BODY_LIMIT",
        "Request bodies up to this many bytes are kept for a retry on 401/403; larger ones stream, unretried.",
        ge=0,
    )
    oauth_default_ttl: float = setting(
        60.0, "GATEWAY_OAUTH_DEFAULT_TTL", "Seconds an OAuth token without expires_in is cached.", ge=0
    )
    csrf_token_ttl: float = setting(300.0, "GATEWAY_CSRF_TOKEN_TTL", "Seconds a CSRF token is cached.", ge=0)
    token_cache_size: int = setting(
        10_000, "GATEWAY_TOKEN_CACHE_SIZE", "Most OAuth and CSRF tokens kept (each cache).", gt=0
    )
    max_connections: int = setting(
        100, "GATEWAY_MAX_CONNECTIONS", "Upstream connections open at once (all targets).", gt=0
    )
    trusted_ca_file: Path | None = setting(
        None, "GATEWAY_TRUSTED_CA_FILE", "PEM CAs trusted for targets besides the system's."
    )
    log_level: str = setting("info", "GATEWAY_LOG_LEVEL", "debug, info, warning or error.")
    log_json: bool = setting(True, "GATEWAY_LOG_JSON", "JSON lines (false: console format).")
