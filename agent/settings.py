"""The one typed settings class of the Runtime Agent.

Names are Kyma's: ``CONNECTOR_URL``, ``RUNTIME_ID``, ``TENANT`` and ``TOKEN`` (the keys of the Secret
``compass-agent-configuration``), and ``AGENT_*`` for pycompass's own. Each may come from the environment or
from a mounted Secret-like directory with one file per value, named as the variable (``AGENT_CONFIG_DIR`` or
``compass-agent --config-dir``). **The environment wins** over the directory, as it wins over any file in
pydantic-settings: a variable set on the Deployment is the more deliberate choice. The directory is read again
each time the agent connects with a token, so a new ``TOKEN`` in a mounted Secret is used without a restart.

Only this module reads ``os.environ``.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, Literal, Self

from pydantic import AliasChoices, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from agent.resources import DEFAULT_CA_SECRET, DEFAULT_GATEWAY_URL
from dataplane.names import is_resource_name

CONFIG_DIR_VARIABLE = "AGENT_CONFIG_DIR"

KeyType = Literal["rsa4096", "ec-p256"]
_DNS_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?")
SinkKind = Literal["directory", "kubernetes"]


def _setting(default: Any, name: str, description: str, **constraints: Any) -> Any:
    return Field(default, validation_alias=AliasChoices(name), description=description, **constraints)


class ConfigurationError(Exception):
    """The agent cannot start with these settings; the message says what to change."""


class AgentSettings(BaseSettings):
    model_config = SettingsConfigDict(
        case_sensitive=False, extra="ignore", validate_by_name=True, validate_by_alias=True
    )

    connector_url: str | None = _setting(None, "CONNECTOR_URL", "Token-secured Connector URL.")
    runtime_id: str | None = _setting(None, "RUNTIME_ID", "This runtime's id.")
    tenant: str | None = _setting(None, "TENANT", "Tenant of the runtime.")
    token: SecretStr | None = _setting(None, "TOKEN", "One-time token of the runtime.")

    sync_period: float = _setting(15.0, "AGENT_SYNC_PERIOD", "Seconds between syncs (±20 %).", gt=0)
    push: bool = _setting(
        True,
        "AGENT_PUSH",
        "Keep the Director's change stream open and sync as soon as it tells of a change (the period stays as "
        "the periodic resync).",
    )
    renewal_threshold: float = _setting(
        0.3, "AGENT_RENEWAL_THRESHOLD", "Renew when less than this share of the validity is left.", gt=0, lt=1
    )
    event_gateway_url: str | None = _setting(
        None, "AGENT_EVENT_GATEWAY_URL", "Label runtime_eventServiceUrl (not the centralGatewayUrl)."
    )
    gateway_url: str = _setting(
        DEFAULT_GATEWAY_URL,
        "AGENT_GATEWAY_URL",
        "Base URL of the Application Gateway's Compass listener, written into each API entry's centralGatewayUrl.",
    )
    console_url: str | None = _setting(None, "AGENT_CONSOLE_URL", "Label runtime_consoleUrl.")
    state_dir: Path = _setting(
        Path(".compass-agent"), "AGENT_STATE_DIR", "Key and certificates (files 0600, directory 0700)."
    )
    sink: SinkKind = _setting("directory", "AGENT_SINK", "Where resources go: directory or kubernetes.")
    # None is resolved to <state_dir>/manifests by _default_directories: never None after validation.
    manifest_dir: Path | None = _setting(None, "AGENT_MANIFEST_DIR", "Directory sink: one file per resource.")
    http_timeout: float = _setting(30.0, "AGENT_HTTP_TIMEOUT", "Seconds per HTTP request.", gt=0)
    key_type: KeyType = _setting(
        "rsa4096", "AGENT_KEY_TYPE", "Key of each certificate: rsa4096 (Compass's) or ec-p256 (fast)."
    )
    kubeconfig: Path | None = _setting(None, "AGENT_KUBECONFIG", "Kubernetes sink: default in-cluster.")
    kube_context: str | None = _setting(None, "AGENT_KUBE_CONTEXT", "Kubernetes sink: kubeconfig context.")
    kube_watch_timeout: int = _setting(
        300,
        "AGENT_KUBE_WATCH_TIMEOUT",
        "Kubernetes sink: seconds after which the API server ends each watch (timeoutSeconds); a kind not heard "
        "from for twice as long is listed again.",
        gt=0,
    )
    secret_namespace: str = _setting(
        "kyma-system", "AGENT_SECRET_NAMESPACE", "Namespace of the Applications' credential Secrets."
    )
    ca_secret: str = _setting(
        DEFAULT_CA_SECRET,
        "AGENT_CA_SECRET",
        "namespace/name of the Secret the Connector's CA is written to (key cacert), where an ingress that "
        "verifies the applications' client certificates reads it; empty: none.",
    )
    watchers: bool = _setting(
        True,
        "AGENT_WATCHERS",
        "Keep the Runtime Watcher's ValidatingWebhookConfiguration for the Director's watchers (false: the agent "
        "neither reads nor writes that kind).",
    )
    # None is resolved to <state_dir>/watcher-tls by _default_directories: never None after validation.
    watcher_tls_dir: Path | None = _setting(
        None,
        "AGENT_WATCHER_TLS_DIR",
        "The watcher's TLS directory; its ca.crt becomes the webhooks' caBundle (no file: no configuration).",
    )
    watcher_service_name: str = _setting(
        "compass-watcher", "AGENT_WATCHER_SERVICE_NAME", "The watcher's Service, which the webhooks call."
    )
    watcher_service_namespace: str = _setting(
        "kyma-system", "AGENT_WATCHER_SERVICE_NAMESPACE", "The namespace of the watcher's Service."
    )
    token_requests: bool = _setting(
        True,
        "AGENT_TOKEN_REQUESTS",
        "Fill the status of TokenRequests (files tokenrequest-*.yaml in the manifest directory, or the resources in "
        "Kubernetes) with one-time tokens of the runtime's applications (false: never read them).",
    )
    log_level: str = _setting("info", "AGENT_LOG_LEVEL", "debug, info, warning or error.")
    log_json: bool = _setting(True, "AGENT_LOG_JSON", "JSON lines (false: console format).")

    @model_validator(mode="after")
    def _default_directories(self) -> Self:
        if self.manifest_dir is None:
            self.manifest_dir = self.state_dir / "manifests"
        if self.watcher_tls_dir is None:
            self.watcher_tls_dir = self.state_dir / "watcher-tls"
        return self

    @field_validator("watcher_service_name", "watcher_service_namespace")
    @classmethod
    def _dns_label(cls, value: str) -> str:
        # A Service's name and namespace are DNS labels: the webhook's host is <name>.<namespace>.svc.
        if _DNS_LABEL.fullmatch(value.strip()) is None:
            raise ValueError("must be a DNS label: lower-case letters, digits and '-', at most 63")
        return value.strip()

    @field_validator("ca_secret")
    @classmethod
    def _namespace_and_name(cls, value: str) -> str:
        value = value.strip()
        namespace, separator, name = value.partition("/")
        if value and not (separator and is_resource_name(namespace) and is_resource_name(name)):
            raise ValueError("must be <namespace>/<name> (Kubernetes names), or empty for no CA Secret")
        return value

    @property
    def ca_secret_ref(self) -> tuple[str, str] | None:
        """(namespace, name) of the CA Secret, or None when none is written."""
        namespace, _, name = self.ca_secret.partition("/")
        return (namespace, name) if name else None

    @classmethod
    def load(cls, config_dir: Path | None = None, **overrides: Any) -> AgentSettings:
        """From the environment and the directory ``config_dir`` (default: ``AGENT_CONFIG_DIR``, if set)."""
        directory = config_dir or _config_dir_from_environment()
        if directory is not None and not directory.is_dir():
            raise ConfigurationError(f"the configuration directory {directory} does not exist (or is a file)")
        return cls(_secrets_dir=directory, **overrides)

    def token_value(self) -> str | None:
        if self.token is None:
            return None
        return self.token.get_secret_value().strip() or None

    def require_connection_settings(self) -> None:
        """CONNECTOR_URL and RUNTIME_ID are needed before anything can be done."""
        required = (("CONNECTOR_URL", self.connector_url), ("RUNTIME_ID", self.runtime_id))
        missing = [name for name, value in required if not value]
        if missing:
            raise ConfigurationError(f"set {' and '.join(missing)} (environment or configuration directory)")


def _config_dir_from_environment() -> Path | None:
    value = os.environ.get(CONFIG_DIR_VARIABLE, "").strip()
    return Path(value) if value else None
