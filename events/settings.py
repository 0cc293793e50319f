"""The one typed settings class of the event ingress: ``EVENTS_*`` from the environment (or a directory with one
file per value, ``EVENTS_CONFIG_DIR``), as the gateway's settings are read. Only this module reads
``os.environ``."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AliasChoices, Field, IPvAnyNetwork, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from dataplane.catalog.sources import CatalogSource
from dataplane.names import DEFAULT_AGENT_CA_FILE, DEFAULT_MANIFEST_DIR, DEFAULT_SECRET_NAMESPACE

CONFIG_DIR_VARIABLE = "EVENTS_CONFIG_DIR"

EventBus = Literal["embedded", "nats"]


def _setting(default: Any, name: str, description: str, **constraints: Any) -> Any:
    return Field(default, validation_alias=AliasChoices(name), description=description, **constraints)


class EventsSettings(BaseSettings):
    model_config = SettingsConfigDict(
        case_sensitive=False, extra="ignore", validate_by_name=True, validate_by_alias=True
    )

    host: str = _setting("127.0.0.1", "EVENTS_HOST", "Address of both listeners.")
    port: int = _setting(8443, "EVENTS_PORT", "HTTPS ingress: applications send events here.", ge=0, le=65535)
    api_port: int = _setting(8084, "EVENTS_API_PORT", "/healthz, /readyz and /metrics.", ge=0, le=65535)
    source: CatalogSource = _setting(
        "directory", "EVENTS_SOURCE", "Applications from: directory or kubernetes."
    )
    manifest_dir: Path = _setting(
        DEFAULT_MANIFEST_DIR,
        "EVENTS_MANIFEST_DIR",
        "Directory source: the agent's AGENT_MANIFEST_DIR (Applications and Subscriptions).",
    )
    secret_namespace: str = _setting(
        DEFAULT_SECRET_NAMESPACE, "EVENTS_SECRET_NAMESPACE", "Kubernetes source: namespace of the Secrets."
    )
    kubeconfig: Path | None = _setting(None, "EVENTS_KUBECONFIG", "Kubernetes source: default in-cluster.")
    kube_context: str | None = _setting(None, "EVENTS_KUBE_CONTEXT", "Kubernetes source: kubeconfig context.")
    ca_file: Path = _setting(
        DEFAULT_AGENT_CA_FILE,
        "EVENTS_CA_FILE",
        "PEM CA that application client certificates must chain to: the one the agent stored.",
    )
    tls_cert_file: Path | None = _setting(
        None,
        "EVENTS_TLS_CERT_FILE",
        "Serving certificate (PEM); none: generated on first start in the data dir.",
    )
    tls_key_file: Path | None = _setting(None, "EVENTS_TLS_KEY_FILE", "Its private key (PEM).")
    tls_hostnames: list[str] = _setting(
        [],
        "EVENTS_TLS_HOSTNAMES",
        "Names a generated serving certificate carries besides localhost and EVENTS_HOST (e.g. the Service's).",
    )
    data_dir: Path = _setting(
        Path(".compass-events"), "EVENTS_DATA_DIR", "The embedded log, the generated serving certificate."
    )
    bus: EventBus = _setting("embedded", "EVENTS_BUS", "Where events are kept: embedded (SQLite) or nats.")
    nats_url: str = _setting("nats://127.0.0.1:4222", "EVENTS_NATS_URL", "NATS with JetStream, for bus=nats.")
    # NoDecode: a comma-separated list reads as plainly in an env var as JSON does; both are accepted.
    trusted_proxies: Annotated[list[IPvAnyNetwork], NoDecode] = _setting(
        [],
        "EVENTS_TRUSTED_PROXIES",
        "Addresses or networks (CIDR) whose X-Forwarded-Client-Cert is believed; none by default.",
    )
    type_prefix: str = _setting(
        "sap.kyma.custom", "EVENTS_TYPE_PREFIX", "First segments of every event type.", min_length=1
    )
    max_body: int = _setting(65536, "EVENTS_MAX_BODY", "Larger request bodies are refused with 413.", gt=0)
    delivery_attempts: int = _setting(
        10,
        "EVENTS_DELIVERY_ATTEMPTS",
        "Attempts per event and subscription before it is dead-lettered.",
        gt=0,
    )
    delivery_timeout: float = _setting(
        10.0, "EVENTS_DELIVERY_TIMEOUT", "Seconds a sink has to answer one delivery.", gt=0
    )
    retry_initial: float = _setting(
        0.5, "EVENTS_RETRY_INITIAL", "Seconds before the first retry; doubled per attempt.", gt=0
    )
    retry_max: float = _setting(30.0, "EVENTS_RETRY_MAX", "The longest wait between two attempts.", gt=0)
    log_level: str = _setting("info", "EVENTS_LOG_LEVEL", "debug, info, warning or error.")
    log_json: bool = _setting(True, "EVENTS_LOG_JSON", "JSON lines (false: console format).")

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _split_proxies(cls, value: object) -> object:
        if not isinstance(value, str):
            return value
        text = value.strip()
        if text.startswith("["):
            return json.loads(text)
        return [item.strip() for item in text.split(",") if item.strip()]

    @classmethod
    def load(cls, config_dir: Path | None = None, **overrides: Any) -> EventsSettings:
        directory = config_dir or _config_dir_from_environment()
        return cls(_secrets_dir=directory, **overrides)


def _config_dir_from_environment() -> Path | None:
    value = os.environ.get(CONFIG_DIR_VARIABLE, "").strip()
    return Path(value) if value else None
