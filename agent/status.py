"""The ``CompassConnection`` resource: where the agent reports its connection and synchronization state.

Cluster-scoped, named ``compass-connection``, ``compass.kyma-project.io/v1alpha1``, with Kyma's field names.
It is stored through the sink like every resource (the directory sink writes
``compassconnection-compass-connection.yaml``). Deleting it makes the agent connect again with the token from
its settings. Times are RFC 3339 in UTC to the second, as Kubernetes writes ``metav1.Time``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from agent.sinks.base import COMPASS_CONNECTION_KIND

if TYPE_CHECKING:
    from agent.sinks.base import Sink

API_VERSION = "compass.kyma-project.io/v1alpha1"
KIND = COMPASS_CONNECTION_KIND
NAME = "compass-connection"


class ConnectionState(StrEnum):
    CONNECTED = "Connected"
    CONNECTION_FAILED = "ConnectionFailed"
    CONNECTION_MAINTENANCE_FAILED = "ConnectionMaintenanceFailed"
    SYNCHRONIZATION_FAILED = "SynchronizationFailed"
    RESOURCE_APPLICATION_FAILED = "ResourceApplicationFailed"
    METADATA_UPDATE_FAILED = "MetadataUpdateFailed"
    SYNCHRONIZED = "Synchronized"


def format_time(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(value: object) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    return datetime.fromisoformat(value).astimezone(UTC)


@dataclass
class CertificateStatus:
    acquired: datetime | None = None
    not_before: datetime | None = None
    not_after: datetime | None = None


@dataclass
class ConnectionStatus:
    established: datetime | None = None
    renewed: datetime | None = None
    last_sync: datetime | None = None
    last_success: datetime | None = None
    certificate_status: CertificateStatus = field(default_factory=CertificateStatus)
    error: str | None = None


@dataclass
class SynchronizationStatus:
    last_attempt: datetime | None = None
    last_successful_fetch: datetime | None = None
    last_successful_application: datetime | None = None
    error: str | None = None


@dataclass
class CompassConnection:
    director_url: str | None = None
    connector_url: str | None = None
    resync_now: bool = False
    refresh_credentials_now: bool = False
    state: ConnectionState | None = None
    connection_status: ConnectionStatus = field(default_factory=ConnectionStatus)
    synchronization_status: SynchronizationStatus = field(default_factory=SynchronizationStatus)

    def to_manifest(self) -> dict[str, Any]:
        connection, certificate = self.connection_status, self.connection_status.certificate_status
        synchronization = self.synchronization_status
        return {
            "apiVersion": API_VERSION,
            "kind": KIND,
            "metadata": {"name": NAME},
            "spec": {
                "managementInfo": {"directorUrl": self.director_url, "connectorUrl": self.connector_url},
                "resyncNow": self.resync_now,
                "refreshCredentialsNow": self.refresh_credentials_now,
            },
            "status": {
                "connectionState": self.state.value if self.state is not None else None,
                "connectionStatus": {
                    "established": format_time(connection.established),
                    "renewed": format_time(connection.renewed),
                    "lastSync": format_time(connection.last_sync),
                    "lastSuccess": format_time(connection.last_success),
                    "certificateStatus": {
                        "acquired": format_time(certificate.acquired),
                        "notBefore": format_time(certificate.not_before),
                        "notAfter": format_time(certificate.not_after),
                    },
                    "error": connection.error,
                },
                "synchronizationStatus": {
                    "lastAttempt": format_time(synchronization.last_attempt),
                    "lastSuccessfulFetch": format_time(synchronization.last_successful_fetch),
                    "lastSuccessfulApplication": format_time(synchronization.last_successful_application),
                    "error": synchronization.error,
                },
            },
        }

    @classmethod
    def from_manifest(cls, manifest: dict[str, Any]) -> CompassConnection:
        spec = manifest.get("spec") or {}
        management = spec.get("managementInfo") or {}
        status = manifest.get("status") or {}
        connection = status.get("connectionStatus") or {}
        certificate = connection.get("certificateStatus") or {}
        synchronization = status.get("synchronizationStatus") or {}
        state = str(status.get("connectionState"))
        return cls(
            director_url=management.get("directorUrl"),
            connector_url=management.get("connectorUrl"),
            resync_now=bool(spec.get("resyncNow")),
            refresh_credentials_now=bool(spec.get("refreshCredentialsNow")),
            state=ConnectionState(state) if state in ConnectionState._value2member_map_ else None,
            connection_status=ConnectionStatus(
                established=parse_time(connection.get("established")),
                renewed=parse_time(connection.get("renewed")),
                last_sync=parse_time(connection.get("lastSync")),
                last_success=parse_time(connection.get("lastSuccess")),
                certificate_status=CertificateStatus(
                    acquired=parse_time(certificate.get("acquired")),
                    not_before=parse_time(certificate.get("notBefore")),
                    not_after=parse_time(certificate.get("notAfter")),
                ),
                error=connection.get("error"),
            ),
            synchronization_status=SynchronizationStatus(
                last_attempt=parse_time(synchronization.get("lastAttempt")),
                last_successful_fetch=parse_time(synchronization.get("lastSuccessfulFetch")),
                last_successful_application=parse_time(synchronization.get("lastSuccessfulApplication")),
                error=synchronization.get("error"),
            ),
        )


class ConnectionRecord:
    """Reads and writes the one CompassConnection through the sink."""

    def __init__(self, sink: Sink) -> None:
        self.sink = sink

    async def load(self) -> CompassConnection | None:
        manifest = await self.sink.get(KIND, NAME)
        return CompassConnection.from_manifest(manifest) if manifest is not None else None

    async def save(self, connection: CompassConnection) -> None:
        await self.sink.apply(connection.to_manifest())

    async def delete(self) -> None:
        await self.sink.delete(KIND, NAME)
