"""The one typed settings class of the event ingress: ``EVENTS_*`` from the environment (or a directory with one
file per value, ``EVENTS_CONFIG_DIR``), read as the gateway's settings are (``dataplane.settings``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Literal

from pydantic import IPvAnyNetwork, field_validator
from pydantic_settings import NoDecode

from dataplane.catalog.sources import CatalogSource
from dataplane.names import DEFAULT_AGENT_CA_FILE, DEFAULT_MANIFEST_DIR, DEFAULT_SECRET_NAMESPACE
from dataplane.settings import DataplaneSettings, setting

EventBus = Literal["embedded", "nats"]


class EventsSettings(DataplaneSettings):
    config_dir_variable = "EVENTS_CONFIG_DIR"

    host: str = setting("127.0.0.1", "EVENTS_HOST", "Address of both listeners.")
    port: int = setting(8443, "EVENTS_PORT", "HTTPS ingress: applications send events here.", ge=0, le=65535)
    api_port: int = setting(8084, "EVENTS_API_PORT", "/healthz, /readyz and /metrics.", ge=0, le=65535)
    source: CatalogSource = setting(
        "directory", "EVENTS_SOURCE", "Applications from: directory or kubernetes."
    )
    manifest_dir: Path = setting(
        DEFAULT_MANIFEST_DIR,
        "EVENTS_MANIFEST_DIR",
        "Directory source: the agent's AGENT_MANIFEST_DIR (Applications and Subscriptions).",
    )
    secret_namespace: str = setting(
        DEFAULT_SECRET_NAMESPACE, "EVENTS_SECRET_NAMESPACE", "Kubernetes source: namespace of the Secrets."
    )
    kubeconfig: Path | None = setting(None, "EVENTS_KUBECONFIG", "Kubernetes source: default in-cluster.")
    kube_context: str | None = setting(None, "EVENTS_KUBE_CONTEXT", "Kubernetes source: kubeconfig context.")
    ca_file: Path = setting(
        DEFAULT_AGENT_CA_FILE,
        "EVENTS_CA_FILE",
        "PEM CA that application client certificates must chain to: the one the agent stored.",
    )
    tls_cert_file: Path | None = setting(
        None,
        "EVENTS_TLS_CERT_FILE",
        "Serving certificate (PEM); none: generated on first start in the data dir.",
    )
    tls_key_file: Path | None = setting(None, "EVENTS_TLS_KEY_FILE", "Its private key (PEM).")
    tls_hostnames: list[str] = setting(
        [],
        "EVENTS_TLS_HOSTNAMES",
        "Names a generated serving certificate carries besides localhost and EVENTS_HOST (e.g. the Service's).",
    )
    data_dir: Path = setting(
        Path(".compass-events"), "EVENTS_DATA_DIR", "The embedded log, the generated serving certificate."
    )
    bus: EventBus = setting("embedded", "EVENTS_BUS", "Where events are kept: embedded (SQLite) or nats.")
    nats_url: str = setting("nats://127.0.0.1:4222", "EVENTS_NATS_URL", "NATS with JetStream, for bus=nats.")
    # NoDecode: a comma-separated list reads as plainly in an env var as JSON does; both are accepted.
    trusted_proxies: Annotated[list[IPvAnyNetwork], NoDecode] = setting(
        [],
        "EVENTS_TRUSTED_PROXIES",
        "Addresses or networks (CIDR) whose X-Forwarded-Client-Cert is believed; none by default.",
    )
    type_prefix: str = setting(
        "sap.kyma.custom", "EVENTS_TYPE_PREFIX", "First segments of every event type.", min_length=1
    )
    max_body: int = setting(65536, "EVENTS_MAX_BODY", "Larger request bodies are refused with 413.", gt=0)
    delivery_attempts: int = setting(
        10,
        "EVENTS_DELIVERY_ATTEMPTS",
        "Attempts per event and subscription before it is dead-lettered.",
        gt=0,
    )
    delivery_timeout: float = setting(
        10.0, "EVENTS_DELIVERY_TIMEOUT", "Seconds a sink has to answer one delivery.", gt=0
    )
    retry_initial: float = setting(
        0.5, "EVENTS_RETRY_INITIAL", "Seconds before the first retry; doubled per attempt.", gt=0
    )
    retry_max: float = setting(30.0, "EVENTS_RETRY_MAX", "The longest wait between two attempts.", gt=0)
    log_level: str = setting("info", "EVENTS_LOG_LEVEL", "debug, info, warning or error.")
    log_json: bool = setting(True, "EVENTS_LOG_JSON", "JSON lines (false: console format).")

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _split_proxies(cls, value: object) -> object:
        if not isinstance(value, str):
            return value
        text = value.strip()
        if text.startswith("["):
            return json.loads(text)
        return [item.strip() for item in text.split(",") if item.strip()]
