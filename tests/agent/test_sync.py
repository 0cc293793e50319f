"""synchronize: fetch → desired manifests → diff → apply; a failed fetch changes nothing.

The first group runs against a real ``compass serve`` over mTLS (both backends) with the directory sink; the
second drives the sync logic with ``StaticDirector`` (a stand-in for DirectorClient) where the Director's
answer is not the point.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from agent.director_client import DirectorClient
from agent.errors import ApplyFailed, SinkError, SyncFailed
from agent.resources import application_resources
from agent.sinks.base import Manifest
from agent.sinks.directory import DirectorySink
from agent.status import CompassConnection, ConnectionState
from agent.sync import synchronize
from dataplane.names import PROXY_TIMEOUT_ANNOTATION
from testing.ports import free_port
from tests.agent.support import Scenario, StaticDirector
from tests.agent.test_resources import SHOP

SET_APPLICATION_LABEL = """
mutation ($id: ID!, $key: String!, $value: Any!) {
  result: setApplicationLabel(applicationID: $id, key: $key, value: $value) { key }
}
"""


def snapshot(directory: Path) -> dict[str, bytes]:
    if not directory.exists():
        return {}
    return {path.name: path.read_bytes() for path in sorted(directory.iterdir())}


class RecordingSink(DirectorySink):
    """The directory sink, counting its writes, optionally failing the n-th one."""

    def __init__(
        self, directory: Path, *, fail_at: int | None = None, clock: Callable[[], int] = time.time_ns
    ) -> None:
        super().__init__(directory, clock=clock)
        self.writes: list[str] = []
        self.reads = 0
        self.fail_at = fail_at

    async def list_owned(self, kind: str) -> dict[str, Manifest]:
        self.reads += 1
        return await super().list_owned(kind)

    async def apply(self, manifest: Manifest) -> None:
        self._count(f"apply {manifest['kind']}/{manifest['metadata']['name']}")
        await super().apply(manifest)

    async def delete(self, kind: str, name: str) -> None:
        self._count(f"delete {kind}/{name}")
        await super().delete(kind, name)

    def _count(self, write: str) -> None:
        self.writes.append(write)
        if self.fail_at is not None and len(self.writes) == self.fail_at:
            raise SinkError(f"disk full at {write}")


# --- against a real server ----------------------------------------------------------------------------------


async def test_an_applications_proxy_timeout_label_becomes_its_annotation(
    scenario: Scenario, tmp_path: Path
) -> None:
    # given
    application_id, name = await scenario.add_application()
    label = {"id": application_id, "key": PROXY_TIMEOUT_ANNOTATION, "value": 60}
    await scenario.operator.query(SET_APPLICATION_LABEL, label)
    sink = RecordingSink(tmp_path / "manifests")
    director = scenario.director()

    # when
    await synchronize(director, sink, runtime_id=scenario.runtime_id)
    await director.aclose()

    # then
    application = (await sink.list_owned("Application"))[name]
    assert application["metadata"]["annotations"] == {PROXY_TIMEOUT_ANNOTATION: "60"}


async def test_a_first_sync_writes_every_application_of_the_runtime(
    scenario: Scenario,
    tmp_path: Path,
) -> None:
    # given
    _, first = await scenario.add_application()
    _, second = await scenario.add_application(bundles=2)
    await scenario.add_application(in_formation=False)
    sink = RecordingSink(tmp_path / "manifests")
    director = scenario.director()

    # when
    result = await synchronize(director, sink, runtime_id=scenario.runtime_id)
    await director.aclose()

    # then
    assert sorted(await sink.list_owned("Application")) == sorted([first, second])
    assert len(await sink.list_owned("Secret")) == 6  # credentials and request parameters per bundle
    assert result.fetched_applications == 2
    assert result.runtime_labels["scenarios"] == [scenario.formation]
    assert len(result.applied) == len(sink.writes) == 8


async def test_a_changed_application_updates_exactly_its_resource(scenario: Scenario, tmp_path: Path) -> None:
    # given
    changed_id, changed = await scenario.add_application()
    await scenario.add_application()
    sink = RecordingSink(tmp_path / "manifests")
    director = scenario.director()
    await synchronize(director, sink, runtime_id=scenario.runtime_id)
    sink.writes.clear()

    # when
    await scenario.describe(changed_id, "a better shop")
    result = await synchronize(director, sink, runtime_id=scenario.runtime_id)
    await director.aclose()

    # then
    assert result.plan.lines() == [f"update Application/{changed}"]
    assert sink.writes == [f"apply Application/{changed}"]
    manifest = yaml.safe_load((sink.directory / f"application-{changed}.yaml").read_text())
    assert manifest["spec"]["description"] == "a better shop"


async def test_an_unassigned_application_is_deleted_with_its_secrets_and_nothing_else(
    scenario: Scenario, tmp_path: Path
) -> None:
    # given
    gone_id, gone = await scenario.add_application()
    _, kept = await scenario.add_application()
    sink = RecordingSink(tmp_path / "manifests")
    director = scenario.director()
    await synchronize(director, sink, runtime_id=scenario.runtime_id)
    before = snapshot(sink.directory)
    sink.writes.clear()

    # when
    await scenario.unassign(gone_id)
    result = await synchronize(director, sink, runtime_id=scenario.runtime_id)
    await director.aclose()

    # then
    assert [kind for kind, _ in result.plan.deletes] == ["Application", "Secret", "Secret"]
    assert not result.plan.creates and not result.plan.updates
    after = snapshot(sink.directory)
    assert {name: content for name, content in before.items() if gone not in name} == after
    assert list(await sink.list_owned("Application")) == [kept]


async def test_an_unchanged_sync_writes_nothing(scenario: Scenario, tmp_path: Path) -> None:
    # given
    await scenario.add_application(bundles=2)
    sink = RecordingSink(tmp_path / "manifests")
    director = scenario.director()
    await synchronize(director, sink, runtime_id=scenario.runtime_id)
    sink.writes.clear()

    # when
    result = await synchronize(director, sink, runtime_id=scenario.runtime_id)
    await director.aclose()

    # then
    assert result.plan.empty
    assert sink.writes == []


async def test_an_unreachable_director_changes_nothing_and_fails_the_sync(
    scenario: Scenario,
    tmp_path: Path,
) -> None:
    # given a synchronized directory
    await scenario.add_application()
    sink = RecordingSink(tmp_path / "manifests")
    director = scenario.director()
    await synchronize(director, sink, runtime_id=scenario.runtime_id)
    await director.aclose()
    before = snapshot(sink.directory)
    closed_port = free_port()
    unreachable = DirectorClient(
        f"https://127.0.0.1:{closed_port}/director/graphql",
        cert_file=scenario.runtime.credentials.chain_file,
        key_file=scenario.runtime.credentials.key_file,
        ca_file=scenario.ca_file,
    )
    sink.writes.clear()

    # when
    with pytest.raises(SyncFailed):
        await synchronize(unreachable, sink, runtime_id=scenario.runtime_id)
    await unreachable.aclose()

    # then
    assert sink.writes == []
    assert snapshot(sink.directory) == before


# --- the sync logic -----------------------------------------------------------------------------------------


async def test_a_failed_fetch_does_not_even_read_the_sink(tmp_path: Path) -> None:
    director = StaticDirector()
    director.answer = SyncFailed("the Director answered with errors: boom", code="INTERNAL")
    sink = RecordingSink(tmp_path / "manifests")

    with pytest.raises(SyncFailed) as failure:
        await synchronize(director, sink, runtime_id="runtime")

    assert failure.value.code == "INTERNAL"
    assert (sink.reads, sink.writes) == (0, [])


async def test_a_dry_run_plans_and_writes_nothing(tmp_path: Path) -> None:
    sink = RecordingSink(tmp_path / "manifests")

    result = await synchronize(StaticDirector([SHOP]), sink, runtime_id="runtime", dry_run=True)

    assert result.plan.lines()[0] == "create Application/mp-shop"
    assert len(result.plan.creates) == 4
    assert (sink.writes, result.applied) == ([], [])


async def test_an_answer_of_not_modified_rebuilds_from_the_last_fetch_and_writes_nothing(
    tmp_path: Path,
) -> None:
    # given
    director = StaticDirector([SHOP])
    sink = RecordingSink(tmp_path / "manifests")
    await synchronize(director, sink, runtime_id="runtime")
    sink.writes.clear()
    director.answer = None  # 304

    # when
    result = await synchronize(director, sink, runtime_id="runtime")

    # then
    assert result.unchanged
    assert result.fetched_applications == 1
    assert result.plan.empty and sink.writes == []


async def test_a_resource_removed_by_hand_comes_back_even_when_the_director_says_not_modified(
    tmp_path: Path,
) -> None:
    director = StaticDirector([SHOP])
    sink = RecordingSink(tmp_path / "manifests")
    await synchronize(director, sink, runtime_id="runtime")
    (sink.directory / "application-mp-shop.yaml").unlink()
    director.answer = None

    result = await synchronize(director, sink, runtime_id="runtime")

    assert result.applied == ["create Application/mp-shop"]


async def test_a_sink_failure_midway_reports_what_was_applied(tmp_path: Path) -> None:
    sink = RecordingSink(tmp_path / "manifests", fail_at=2)

    with pytest.raises(ApplyFailed) as failure:
        await synchronize(StaticDirector([SHOP]), sink, runtime_id="runtime")

    secret = application_resources(SHOP)[1]["metadata"]["name"]
    assert failure.value.applied == ["create Application/mp-shop"]
    assert failure.value.failed == f"create Secret/{secret}"
    assert "disk full" in failure.value.reason


async def test_a_failed_write_starts_no_other_but_the_writes_under_way_finish_and_are_made_durable(
    tmp_path: Path,
) -> None:
    # given a sink whose third write fails, while the second is under way
    sink = RecordingSink(tmp_path / "manifests", fail_at=3)
    secrets = [item["metadata"]["name"] for item in application_resources(SHOP)[1:]]

    # when
    with pytest.raises(ApplyFailed, match="disk full") as failure:
        await synchronize(StaticDirector([SHOP]), sink, runtime_id="runtime")

    # then
    assert failure.value.applied == ["create Application/mp-shop", f"create Secret/{secrets[0]}"]
    assert failure.value.failed == f"create Secret/{secrets[1]}"
    assert len(sink.writes) == 3  # the last Secret was never started
    assert sink.directory_syncs == 2  # one per batch, the failed one included
    assert (sink.directory / f"secret-{secrets[0]}.yaml").exists()


class OrderRecordingSink(DirectorySink):
    """The directory sink, noting each write as it returns and each fsync of the directory."""

    def __init__(self, directory: Path) -> None:
        super().__init__(directory)
        self.events: list[str] = []

    async def apply(self, manifest: Manifest) -> None:
        await super().apply(manifest)
        self.events.append(f"wrote {manifest['kind']}")

    def _sync_directory(self) -> None:
        super()._sync_directory()
        self.events.append("synced")


async def test_a_sync_returns_once_its_writes_are_durable_one_directory_fsync_per_batch(
    tmp_path: Path,
) -> None:
    # given
    sink = OrderRecordingSink(tmp_path / "manifests")

    # when: a sync, then the status the agent saves after it
    await synchronize(StaticDirector([SHOP]), sink, runtime_id="runtime")
    await sink.apply(CompassConnection(state=ConnectionState.SYNCHRONIZED).to_manifest())

    # then: the Applications, then the Secrets, each batch durable before anything written after it
    assert sink.events == [
        "wrote Application",
        "synced",
        "wrote Secret",
        "wrote Secret",
        "wrote Secret",
        "synced",
        "synced",
        "wrote CompassConnection",
    ]


async def test_deletes_are_batches_of_their_own_after_the_writes(tmp_path: Path) -> None:
    # given
    sink = OrderRecordingSink(tmp_path / "manifests")
    other = {**SHOP, "id": "other", "name": "mp-other"}
    await synchronize(StaticDirector([SHOP, other]), sink, runtime_id="runtime")
    sink.events.clear()

    # when the second application is unassigned
    await synchronize(StaticDirector([SHOP]), sink, runtime_id="runtime")

    # then: its Application, then its Secrets, are deleted, each batch fsynced once
    assert sink.events == ["synced", "synced"]
    assert sorted(path.name for path in sink.directory.iterdir()) == sorted(
        f"{item['kind'].lower()}-{item['metadata']['name']}.yaml" for item in application_resources(SHOP)
    )


async def test_an_unreadable_sink_fails_before_any_write(tmp_path: Path) -> None:
    class Unreadable(RecordingSink):
        async def list_owned(self, kind: str) -> dict[str, Manifest]:
            raise SinkError("permission denied")

    sink = Unreadable(tmp_path / "manifests")

    with pytest.raises(ApplyFailed, match="permission denied") as failure:
        await synchronize(StaticDirector([SHOP]), sink, runtime_id="runtime")

    assert (failure.value.applied, sink.writes) == ([], [])


async def test_a_foreign_resource_with_a_wanted_name_is_skipped_and_the_rest_applied(tmp_path: Path) -> None:
    # given an Application file someone else wrote under the name the agent wants
    sink = RecordingSink(tmp_path / "manifests")
    sink.directory.mkdir(parents=True)
    foreign: dict[str, Any] = {"apiVersion": "v1", "kind": "Application", "metadata": {"name": "mp-shop"}}
    (sink.directory / "application-mp-shop.yaml").write_text(yaml.safe_dump(foreign))
    other = {**SHOP, "id": "other", "name": "mp-other"}

    # when
    with pytest.raises(ApplyFailed, match="not managed by the agent") as failure:
        await synchronize(StaticDirector([SHOP, other]), sink, runtime_id="runtime")

    # then
    assert "create Application/mp-other" in failure.value.applied
    assert yaml.safe_load((sink.directory / "application-mp-shop.yaml").read_text()) == foreign


async def test_the_gateway_url_and_secret_namespace_are_used(tmp_path: Path) -> None:
    sink = RecordingSink(tmp_path / "manifests")

    result = await synchronize(
        StaticDirector([SHOP]),
        sink,
        runtime_id="runtime",
        dry_run=True,
        gateway_url="http://gateway:8080",
        secret_namespace="apps",
    )

    application, secret, *_ = result.plan.creates
    entry = application["spec"]["services"][0]["entries"][0]
    assert entry["centralGatewayUrl"].startswith("http://gateway:8080/mp-shop/")
    assert secret["metadata"]["namespace"] == "apps"


async def test_a_304_without_an_earlier_fetch_fails_the_sync(tmp_path: Path) -> None:
    director = StaticDirector()
    director.answer = None

    with pytest.raises(SyncFailed):
        await synchronize(director, RecordingSink(tmp_path / "manifests"), runtime_id="runtime")
