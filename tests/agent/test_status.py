"""The CompassConnection resource: Kyma's shape, kept through the sink, and the states an iteration leaves."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

from agent.errors import SinkError
from agent.sinks.directory import DirectorySink
from agent.status import (
    CertificateStatus,
    CompassConnection,
    ConnectionRecord,
    ConnectionState,
    ConnectionStatus,
    SynchronizationStatus,
)
from testing.ports import free_port
from tests.agent.support import Landscape

MOMENT = datetime(2026, 11, 25, 9, 30, 15, tzinfo=UTC)


def full_record() -> CompassConnection:
    return CompassConnection(
        director_url="https://compass:3443/director/graphql",
        connector_url="https://compass:3443/connector/graphql",
        resync_now=True,
        refresh_credentials_now=False,
        state=ConnectionState.SYNCHRONIZED,
        connection_status=ConnectionStatus(
            established=MOMENT,
            renewed=MOMENT,
            last_sync=MOMENT,
            last_success=MOMENT,
            certificate_status=CertificateStatus(acquired=MOMENT, not_before=MOMENT, not_after=MOMENT),
            error="renewal failed: unreachable",
        ),
        synchronization_status=SynchronizationStatus(
            last_attempt=MOMENT, last_successful_fetch=MOMENT, last_successful_application=MOMENT, error=None
        ),
    )


def test_the_states_are_kymas() -> None:
    assert {state.value for state in ConnectionState} == {
        "Connected",
        "ConnectionFailed",
        "ConnectionMaintenanceFailed",
        "SynchronizationFailed",
        "ResourceApplicationFailed",
        "MetadataUpdateFailed",
        "Synchronized",
    }


def test_the_resource_has_kymas_names_and_shape() -> None:
    manifest = full_record().to_manifest()

    assert manifest["apiVersion"] == "compass.kyma-project.io/v1alpha1"
    assert manifest["kind"] == "CompassConnection"
    assert manifest["metadata"] == {"name": "compass-connection"}
    assert manifest["spec"] == {
        "managementInfo": {
            "directorUrl": "https://compass:3443/director/graphql",
            "connectorUrl": "https://compass:3443/connector/graphql",
        },
        "resyncNow": True,
        "refreshCredentialsNow": False,
    }
    status = manifest["status"]
    assert status["connectionState"] == "Synchronized"
    assert set(status["connectionStatus"]) == {
        "established", "renewed", "lastSync", "lastSuccess", "certificateStatus", "error"
    }
    assert set(status["connectionStatus"]["certificateStatus"]) == {"acquired", "notBefore", "notAfter"}
    assert set(status["synchronizationStatus"]) == {
        "lastAttempt", "lastSuccessfulFetch", "lastSuccessfulApplication", "error"
    }


def test_times_are_written_as_kubernetes_writes_them() -> None:
    manifest = full_record().to_manifest()

    assert manifest["status"]["connectionStatus"]["established"] == "2026-11-25T09:30:15Z"


def test_a_resource_reads_back_as_it_was_written() -> None:
    record = full_record()

    assert CompassConnection.from_manifest(record.to_manifest()) == record


def test_an_unknown_state_reads_as_no_state() -> None:
    manifest = full_record().to_manifest()
    manifest["status"]["connectionState"] = "Confused"

    assert CompassConnection.from_manifest(manifest).state is None


async def test_the_directory_sink_keeps_it_as_compassconnection_compass_connection_yaml(
    tmp_path: Path,
) -> None:
    # given
    record = ConnectionRecord(DirectorySink(tmp_path))

    # when
    await record.save(full_record())

    # then
    path = tmp_path / "compassconnection-compass-connection.yaml"
    assert yaml.safe_load(path.read_text()) == full_record().to_manifest()
    assert await record.load() == full_record()


async def test_a_deleted_record_loads_as_none(tmp_path: Path) -> None:
    record = ConnectionRecord(DirectorySink(tmp_path))
    await record.save(full_record())

    await record.delete()

    assert await record.load() is None


# --- the states one iteration leaves ------------------------------------------------------------------------


class RefusingSink(DirectorySink):
    """The directory sink, refusing to write Applications (a full disk, an admission webhook...)."""

    async def apply(self, manifest: dict[str, Any]) -> None:
        if manifest["kind"] == "Application":
            raise SinkError("no space left on device")
        await super().apply(manifest)


async def test_a_refused_write_is_resource_application_failed(landscape: Landscape) -> None:
    # given
    await landscape.application("shop")

    # when
    async with landscape.agent(sink=RefusingSink(landscape.manifest_dir)) as agent:
        outcome = await agent.run_once()

    # then
    assert outcome.state is ConnectionState.RESOURCE_APPLICATION_FAILED
    record = await landscape.record()
    assert record is not None and record.state is ConnectionState.RESOURCE_APPLICATION_FAILED
    assert "no space left on device" in (record.synchronization_status.error or "")
    assert record.synchronization_status.last_successful_fetch is not None
    assert record.synchronization_status.last_successful_application is None


async def test_a_successful_sync_is_synchronized_with_its_times(landscape: Landscape) -> None:
    # given
    moved = landscape.clock()

    # when
    outcome = await landscape.run_once()

    # then
    assert outcome.state is ConnectionState.SYNCHRONIZED
    record = await landscape.record()
    assert record is not None and record.state is ConnectionState.SYNCHRONIZED
    synchronization = record.synchronization_status
    assert synchronization.last_attempt == synchronization.last_successful_application
    attempt = synchronization.last_attempt
    assert attempt is not None and attempt >= moved.replace(microsecond=0)  # the agent's clock
    assert record.connection_status.last_sync == record.connection_status.last_success == attempt


async def test_a_failed_renewal_stays_visible_after_a_successful_sync(landscape: Landscape) -> None:
    # given: connected, then the renewal time comes while the Connector's mTLS address is wrong
    await landscape.run_once()
    sink = DirectorySink(landscape.manifest_dir)
    stored = await ConnectionRecord(sink).load()
    assert stored is not None
    nothing_listens = free_port()
    stored.connector_url = f"https://127.0.0.1:{nothing_listens}/connector/graphql"
    stored.refresh_credentials_now = True
    await ConnectionRecord(sink).save(stored)

    # when
    outcome = await landscape.run_once()

    # then
    assert outcome.synced
    assert outcome.state is ConnectionState.CONNECTION_MAINTENANCE_FAILED
    assert (outcome.record.connection_status.error or "").startswith("renewal failed")
