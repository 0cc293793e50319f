"""The one typed settings class of the Application Broker: ``BROKER_*`` from the environment (or a directory with
one file per value, ``BROKER_CONFIG_DIR``), read as the other runtime commands' settings are
(``dataplane.settings``).

``AGENT_STATE_DIR`` is read under the agent's own name and default, so a broker configured like the agent calls the
Director with the runtime's certificate and reads the agent's manifest directory (``<AGENT_STATE_DIR>/manifests``,
the agent's default) unless told otherwise; its service instances and bindings live beside them (``<AGENT_STATE_DIR>/broker``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import SecretStr

from dataplane.catalog.sources import CatalogSource
from dataplane.settings import DataplaneSettings, agent_state_dir_setting, beside, setting

# Kyma's in-cluster address of the applications' event ingress (its central application connectivity validator),
# as the agent's default gateway URL is Kyma's central application gateway.
DEFAULT_EVENTS_URL = "http://central-application-connectivity-validator.kyma-system.svc.cluster.local:8080"


def password_setting() -> Any:
    return setting(
        ...,
        "BROKER_PASSWORD",
        "The key of the platforms' Basic auth passwords: each namespace's is derived from it "
        "(compass-broker password --namespace NS).",
        min_length=1,
    )


class BrokerPasswordSettings(DataplaneSettings):
    """What ``compass-broker password`` reads: the key alone, from where ``serve`` reads it."""

    config_dir_variable = "BROKER_CONFIG_DIR"

    password: SecretStr = password_setting()


class BrokerSettings(DataplaneSettings):
    config_dir_variable = "BROKER_CONFIG_DIR"

    host: str = setting("127.0.0.1", "BROKER_HOST", "Address of both listeners.")
    port: int = setting(8086, "BROKER_PORT", "The Open Service Broker API.", ge=0, le=65535)
    api_port: int = setting(8087, "BROKER_API_PORT", "/healthz, /readyz and /metrics.", ge=0, le=65535)
    agent_state_dir: Path = agent_state_dir_setting(
        "The agent's state directory: the runtime's certificate, the Director's URL, the default directories."
    )
    source: CatalogSource = setting(
        "directory", "BROKER_SOURCE", "Applications and ApplicationMappings from: directory or kubernetes."
    )
    manifest_dir: Path = beside(
        "agent_state_dir",
        "manifests",
        "BROKER_MANIFEST_DIR",
        "Directory source: the agent's AGENT_MANIFEST_DIR (default <AGENT_STATE_DIR>/manifests).",
    )
    state_dir: Path = beside(
        "agent_state_dir",
        "broker",
        "BROKER_STATE_DIR",
        "The service instances and bindings, a file each (default <AGENT_STATE_DIR>/broker).",
    )
    events_url: str = setting(
        DEFAULT_EVENTS_URL,
        "BROKER_EVENTS_URL",
        "The event ingress as the workloads reach it: a binding's EVENTS_URL is <this>/<application>/v1/events.",
    )
    kubeconfig: Path | None = setting(None, "BROKER_KUBECONFIG", "Kubernetes source: default in-cluster.")
    kube_context: str | None = setting(None, "BROKER_KUBE_CONTEXT", "Kubernetes source: kubeconfig context.")
    # Required: a platform (Kyma's Service Catalog, a ClusterServiceBroker) calls with Basic credentials. Declared after
    # the settings with defaults computed from others: a factory runs only when every field before it is valid.
    username: SecretStr = setting(
        ..., "BROKER_USERNAME", "The platform's Basic auth user name.", min_length=1
    )
    password: SecretStr = password_setting()
    log_level: str = setting("info", "BROKER_LOG_LEVEL", "debug, info, warning or error.")
    log_json: bool = setting(True, "BROKER_LOG_JSON", "JSON lines (false: console format).")
