"""The one typed settings class of the Runtime Watcher: ``WATCHER_*`` from the environment (or a directory with one
file per value, ``WATCHER_CONFIG_DIR``), read as the other runtime commands' settings are (``dataplane.settings``).

``AGENT_STATE_DIR`` is read under the agent's own name and default, so an agent and a watcher configured alike
find the same credentials, and the spool and the webhook's TLS material live beside them unless placed elsewhere.
"""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path
from typing import Any

from pydantic import ValidationInfo, field_validator

from dataplane.settings import DataplaneSettings, agent_state_dir_setting, beside, setting

# A Service's name and namespace are DNS labels (RFC 1123): they become parts of the serving certificate's names.
_DNS_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?")
_SECONDS_PER_DAY = 86_400


def _beside_agent_state(name: str, variable: str, description: str) -> Any:
    """A directory setting whose default is ``<AGENT_STATE_DIR>/<name>`` (``state_dir`` is declared before it)."""
    return beside("state_dir", name, variable, description)


class WatcherSettings(DataplaneSettings):
    config_dir_variable = "WATCHER_CONFIG_DIR"

    host: str = setting("127.0.0.1", "WATCHER_HOST", "Address of both listeners.")
    port: int = setting(9443, "WATCHER_PORT", "HTTPS webhook: the API server calls it.", ge=0, le=65535)
    api_port: int = setting(8085, "WATCHER_API_PORT", "/healthz, /readyz and /metrics.", ge=0, le=65535)
    state_dir: Path = agent_state_dir_setting(
        "The agent's state directory: its client certificate and the control plane's URLs."
    )
    spool_dir: Path = _beside_agent_state(
        "watcher-spool",
        "WATCHER_SPOOL_DIR",
        "Events not yet delivered (default <AGENT_STATE_DIR>/watcher-spool).",
    )
    spool_max_events: int = setting(
        10_000, "WATCHER_SPOOL_MAX_EVENTS", "Past this many undelivered events the oldest is dropped.", gt=0
    )
    tls_dir: Path = _beside_agent_state(
        "watcher-tls",
        "WATCHER_TLS_DIR",
        "The webhook's CA bundle (ca.crt), serving certificate and key (default <AGENT_STATE_DIR>/watcher-tls).",
    )
    service_name: str = setting(
        "compass-watcher", "WATCHER_SERVICE_NAME", "The Service the API server calls the webhook through."
    )
    service_namespace: str = setting("kyma-system", "WATCHER_SERVICE_NAMESPACE", "That Service's namespace.")
    control_plane_url: str | None = setting(
        None,
        "WATCHER_CONTROL_PLANE_URL",
        "Base URL events are posted to (default: scheme://host:port of the agent's Director URL).",
    )
    retry_seconds: float = setting(
        1.0, "WATCHER_RETRY_SECONDS", "First delay before a failed delivery is retried.", gt=0
    )
    retry_cap_seconds: float = setting(
        60.0, "WATCHER_RETRY_CAP_SECONDS", "Longest delay between delivery attempts.", gt=0
    )
    ca_days: float = setting(
        365.0, "WATCHER_CA_DAYS", "Lifetime of the webhook's CA (fractions allowed).", gt=0
    )
    cert_days: float = setting(
        30.0, "WATCHER_CERT_DAYS", "Lifetime of the serving certificate (fractions allowed).", gt=0
    )
    ca_overlap_seconds: float = setting(
        3600.0,
        "WATCHER_CA_OVERLAP_SECONDS",
        "How long a new CA is published beside the old one before it signs the serving certificate: longer than "
        "the agent takes to render the new caBundle.",
        ge=0,
    )
    log_level: str = setting("info", "WATCHER_LOG_LEVEL", "debug, info, warning or error.")
    log_json: bool = setting(True, "WATCHER_LOG_JSON", "JSON lines (false: console format).")

    @field_validator("service_name", "service_namespace")
    @classmethod
    def _dns_label(cls, value: str) -> str:
        if _DNS_LABEL.fullmatch(value) is None:
            raise ValueError("must be a DNS label: lower-case letters, digits and '-', at most 63")
        return value

    @field_validator("ca_overlap_seconds")
    @classmethod
    def _overlap_within_the_rotation(cls, value: float, info: ValidationInfo) -> float:
        # A CA is replaced when a third of its life is left; the old one must still be valid when the serving
        # certificate moves to the new one, or handshakes fail in between.
        ca_days = info.data.get("ca_days")
        if ca_days is not None and value >= ca_days * _SECONDS_PER_DAY / 3:
            raise ValueError("must be shorter than a third of WATCHER_CA_DAYS")
        return value

    @property
    def ca_lifetime(self) -> timedelta:
        return timedelta(seconds=self.ca_days * _SECONDS_PER_DAY)

    @property
    def cert_lifetime(self) -> timedelta:
        return timedelta(seconds=self.cert_days * _SECONDS_PER_DAY)
