"""The directory sink: one YAML file per resource, written atomically; only the agent's own files are touched.

``kubectl`` is not available here: "kubectl apply -f DIR would accept it" is checked as every file being YAML
documents with apiVersion, kind and metadata.name (and a namespace for Secrets), in files kubectl reads.
"""

from __future__ import annotations

import asyncio
import json
import os
import stat
import time
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from agent.errors import ResourceConflict, SinkError
from agent.resources import application_resources
from agent.sinks import make_sink
from agent.sinks.directory import DirectorySink, encode
from tests.agent.test_resources import SHOP

OWNED = {"applicationconnector.kyma-project.io/managed-by": "compass-runtime-agent"}


@pytest.fixture
def sink(tmp_path: Path) -> DirectorySink:
    return DirectorySink(tmp_path / "manifests")


def foreign_application(name: str) -> dict[str, Any]:
    return {
        "apiVersion": "applicationconnector.kyma-project.io/v1alpha1",
        "kind": "Application",
        "metadata": {"name": name},
        "spec": {"description": "installed by hand"},
    }


async def apply_all(sink: DirectorySink, manifests: list[dict[str, Any]]) -> None:
    for manifest in manifests:
        await sink.apply(manifest)


async def test_each_resource_is_one_file_kubectl_would_accept(sink: DirectorySink) -> None:
    # when
    manifests = application_resources(SHOP)
    await apply_all(sink, manifests)

    # then
    files = sorted(path.name for path in sink.directory.iterdir())
    assert files == sorted(f"{item['kind'].lower()}-{item['metadata']['name']}.yaml" for item in manifests)
    for path in sink.directory.iterdir():
        documents = list(yaml.safe_load_all(path.read_text(encoding="utf-8")))
        assert len(documents) == 1
        document = documents[0]
        assert {"apiVersion", "kind", "metadata"} <= set(document)
        assert document["metadata"]["name"]
        if document["kind"] == "Secret":
            assert document["metadata"]["namespace"]
        assert "&id" not in path.read_text(encoding="utf-8")  # no YAML anchors: each file stands alone


async def test_a_file_reads_back_as_the_manifest_written(sink: DirectorySink) -> None:
    application, *_ = application_resources(SHOP)

    await sink.apply(application)

    assert await sink.get("Application", "mp-shop") == application


async def test_secrets_are_readable_by_the_owner_only(sink: DirectorySink) -> None:
    application, credentials, *_ = application_resources(SHOP)

    await apply_all(sink, [application, credentials])

    secret_file = sink.directory / f"secret-{credentials['metadata']['name']}.yaml"
    assert stat.S_IMODE(secret_file.stat().st_mode) == 0o600
    assert stat.S_IMODE((sink.directory / "application-mp-shop.yaml").stat().st_mode) == 0o644


async def test_list_owned_returns_only_the_agents_resources(sink: DirectorySink) -> None:
    # given
    manifests = application_resources(SHOP)
    await apply_all(sink, manifests)
    by_hand = foreign_application("by-hand")
    sink.directory.joinpath("application-by-hand.yaml").write_text(yaml.safe_dump(by_hand))
    labelled_only = {**foreign_application("labelled"), "metadata": {"name": "labelled", "labels": OWNED}}
    sink.directory.joinpath("application-labelled.yaml").write_text(yaml.safe_dump(labelled_only))
    sink.directory.joinpath("application-broken.yaml").write_text("{ not: yaml: at all")

    # when
    applications = await sink.list_owned("Application")
    secrets = await sink.list_owned("Secret")

    # then
    assert list(applications) == ["mp-shop"]
    wanted = sorted(item["metadata"]["name"] for item in manifests if item["kind"] == "Secret")
    assert sorted(secrets) == wanted


async def test_a_file_not_created_by_the_agent_is_never_overwritten(sink: DirectorySink) -> None:
    # given
    sink.directory.mkdir(parents=True)
    foreign = sink.directory / "application-mp-shop.yaml"
    foreign.write_text(yaml.safe_dump(foreign_application("mp-shop")))
    before = foreign.read_bytes()

    # when
    with pytest.raises(ResourceConflict):
        await sink.apply(application_resources(SHOP)[0])

    # then
    assert foreign.read_bytes() == before


async def test_a_file_not_created_by_the_agent_is_never_deleted(sink: DirectorySink) -> None:
    sink.directory.mkdir(parents=True)
    foreign = sink.directory / "application-by-hand.yaml"
    foreign.write_text(yaml.safe_dump(foreign_application("by-hand")))

    with pytest.raises(ResourceConflict):
        await sink.delete("Application", "by-hand")

    assert foreign.exists()


async def test_delete_removes_the_file_and_a_missing_one_is_no_error(sink: DirectorySink) -> None:
    await sink.apply(application_resources(SHOP)[0])

    await sink.delete("Application", "mp-shop")
    await sink.delete("Application", "mp-shop")

    assert list(sink.directory.iterdir()) == []


async def test_an_unchanged_apply_does_not_rewrite_the_file(sink: DirectorySink) -> None:
    application = application_resources(SHOP)[0]
    await sink.apply(application)
    inode = (sink.directory / "application-mp-shop.yaml").stat().st_ino

    await sink.apply(application)

    assert (sink.directory / "application-mp-shop.yaml").stat().st_ino == inode


@pytest.mark.parametrize("failing", ["replace", "fsync"])
async def test_a_failed_write_leaves_the_old_file_and_no_temporary_file(
    sink: DirectorySink, monkeypatch: pytest.MonkeyPatch, failing: str
) -> None:
    # given
    application = application_resources(SHOP)[0]
    await sink.apply(application)
    path = sink.directory / "application-mp-shop.yaml"
    before = path.read_bytes()

    def fail(*args: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, failing, fail)

    # when
    changed = {**application, "spec": {**application["spec"], "description": "changed"}}
    with pytest.raises(SinkError, match="No space left"):
        await sink.apply(changed)

    # then
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert sorted(item.name for item in sink.directory.iterdir()) == ["application-mp-shop.yaml"]


async def test_the_connection_status_is_stored_in_compassconnection_compass_connection_yaml(
    sink: DirectorySink,
) -> None:
    connection = {
        "apiVersion": "compass.kyma-project.io/v1alpha1",
        "kind": "CompassConnection",
        "metadata": {"name": "compass-connection"},
        "status": {"connectionState": "Connected"},
    }

    await sink.apply(connection)

    assert (sink.directory / "compassconnection-compass-connection.yaml").is_file()
    assert await sink.get("CompassConnection", "compass-connection") == connection
    assert await sink.get("CompassConnection", "missing") is None


@pytest.mark.parametrize("name", ["../escape", "a/b", "UPPER", ""])
async def test_a_name_kubernetes_would_refuse_is_refused(sink: DirectorySink, name: str) -> None:
    with pytest.raises(SinkError):
        await sink.apply({**foreign_application(name), "metadata": {"name": name, "labels": OWNED}})


def test_make_sink_builds_the_directory_sink_by_default(tmp_path: Path) -> None:
    class Settings:
        sink = "directory"
        manifest_dir = tmp_path / "out"

    made = make_sink(Settings())

    assert isinstance(made, DirectorySink)
    assert made.directory == tmp_path / "out"


# --- the bytes: JSON where YAML reads it as written, YAML otherwise -------------------------------------------

JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(), children, max_size=3),
    max_leaves=12,
)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.text(), JSON_VALUES, max_size=4))
def test_a_manifest_reads_back_from_its_file_as_written(manifest: dict[str, Any]) -> None:
    text, read = encode(manifest)

    assert yaml.safe_load(text) == read == manifest


def test_a_manifest_of_jsons_types_is_written_as_json_on_one_line() -> None:
    application = application_resources(SHOP)[0]
    application["spec"]["description"] = "DEL \x7f, NEL \x85, C1 \x9f and \U0001f600"

    text, _ = encode(application)

    assert text.startswith(b'{"apiVersion":') and text.count(b"\n") == 1
    assert b"\\u007f" in text
    assert b"\\u009f" in text
    assert yaml.safe_load(text) == application


def test_a_manifest_with_a_float_is_written_as_yaml() -> None:
    # given a float JSON would write as 1e-05, which YAML 1.1 reads as a string
    application = application_resources(SHOP)[0]
    application["spec"]["services"][0]["authCreateParameterSchema"] = {"minimum": 1e-05}

    text, _ = encode(application)

    assert not text.startswith(b"{")
    assert yaml.safe_load(text) == application


async def test_a_json_file_is_listed_as_yaml_reads_it(sink: DirectorySink) -> None:
    # given a file written by hand as JSON, with a number YAML 1.1 reads as a string
    application = owned_application("by-hand")
    application["spec"]["limit"] = "LIMIT"
    sink.directory.mkdir(parents=True)
    path = sink.directory / "application-by-hand.yaml"
    path.write_text(json.dumps(application).replace('"LIMIT"', "1e5"), encoding="utf-8")

    # when
    listed = await sink.list_owned("Application")

    # then
    assert listed["by-hand"] == yaml.safe_load(path.read_bytes())
    assert listed["by-hand"]["spec"]["limit"] == "1e5"


# --- the index: an unchanged file is not read again, any change is seen -------------------------------------


def a_minute_later() -> int:
    """The clock of a sink that indexes each file a minute after its last change, as a sync some periods
    later does: every identity indexed is trusted (none is "racily clean")."""
    return time.time_ns() + 60_000_000_000


@pytest.fixture
def settled(tmp_path: Path) -> DirectorySink:
    return DirectorySink(tmp_path / "manifests", clock=a_minute_later)


@pytest.fixture
async def listed(settled: DirectorySink) -> DirectorySink:
    """The shop's resources written by the sink and listed once: every file is indexed."""
    await apply_all(settled, application_resources(SHOP))
    await settled.list_owned("Application")
    await settled.list_owned("Secret")
    return settled


def after_the_next_tick(path: Path) -> None:
    """Waits until the file system's clock, which moves in ticks, has passed ``path``'s ctime."""
    probe = path.with_name(".probe")
    while True:
        probe.touch()
        if probe.stat().st_ctime_ns > path.stat().st_ctime_ns:
            probe.unlink()
            return


def changed_application(description: str) -> dict[str, Any]:
    application = application_resources(SHOP)[0]
    return {**application, "spec": {**application["spec"], "description": description}}


async def test_an_unchanged_file_is_not_read_again(listed: DirectorySink) -> None:
    read = listed.files_read

    applications = await listed.list_owned("Application")
    secrets = await listed.list_owned("Secret")

    assert listed.files_read == read
    assert applications == {"mp-shop": application_resources(SHOP)[0]}
    assert len(secrets) == 3


async def test_a_file_written_by_the_sink_is_listed_as_written_without_reading_it(
    settled: DirectorySink,
) -> None:
    await settled.apply(changed_application("written by the sink"))

    applications = await settled.list_owned("Application")

    assert applications == {"mp-shop": changed_application("written by the sink")}
    assert settled.files_read == 0


async def test_the_sinks_write_is_indexed_as_a_restart_reads_it(settled: DirectorySink) -> None:
    # given a manifest whose YAML reads back otherwise (a tuple is written as a list)
    application = changed_application("written by the sink")
    application["spec"]["labels"] = ("one", "two")

    # when
    await settled.apply(application)

    # then
    assert await settled.list_owned("Application") == await DirectorySink(settled.directory).list_owned(
        "Application"
    )


async def test_a_file_replaced_right_after_the_sinks_rename_is_read_again(
    settled: DirectorySink, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given someone renames another file over the sink's between its rename and its stat
    replace = os.replace
    replacement = settled.directory / "elsewhere.tmp"

    def replaced_then_replaced_again(source: str, target: str) -> None:
        replace(source, target)
        replacement.write_text(yaml.safe_dump(changed_application("renamed over")), encoding="utf-8")
        replace(replacement, target)

    settled.directory.mkdir(parents=True)
    monkeypatch.setattr(os, "replace", replaced_then_replaced_again)
    await settled.apply(changed_application("written by the sink"))
    monkeypatch.undo()

    # when
    applications = await settled.list_owned("Application")

    # then
    assert applications["mp-shop"]["spec"]["description"] == "renamed over"


async def test_a_file_edited_in_place_is_read_again(listed: DirectorySink) -> None:
    path = listed.directory / "application-mp-shop.yaml"
    with path.open("w", encoding="utf-8") as handle:  # the same inode
        handle.write(yaml.safe_dump(changed_application("edited by hand, a longer description")))

    applications = await listed.list_owned("Application")

    assert applications["mp-shop"]["spec"]["description"] == "edited by hand, a longer description"
    assert listed.files_read == 1


async def test_a_file_replaced_by_rename_is_read_again(listed: DirectorySink) -> None:
    path = listed.directory / "application-mp-shop.yaml"
    replacement = listed.directory / "elsewhere.tmp"
    replacement.write_text(yaml.safe_dump(changed_application("renamed over")), encoding="utf-8")
    os.replace(replacement, path)

    applications = await listed.list_owned("Application")

    assert applications["mp-shop"]["spec"]["description"] == "renamed over"
    assert listed.files_read == 1


async def test_a_same_size_rewrite_with_a_new_mtime_is_read_again(listed: DirectorySink) -> None:
    # given the same number of bytes, in place, with a modification time of its own
    path = listed.directory / "application-mp-shop.yaml"
    before = path.stat()
    text = path.read_text(encoding="utf-8")
    rewritten = text.replace("The web shop", "THE WEB SHOP")
    assert rewritten != text and len(rewritten) == len(text)
    path.write_text(rewritten, encoding="utf-8")
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns + 1_000_000))
    assert (path.stat().st_ino, path.stat().st_size) == (before.st_ino, before.st_size)

    # when
    applications = await listed.list_owned("Application")

    # then
    assert applications["mp-shop"]["spec"]["description"] == "THE WEB SHOP"
    assert listed.files_read == 1


async def test_an_edit_that_keeps_the_size_and_the_mtime_is_read_again(listed: DirectorySink) -> None:
    # given the same number of bytes, in place, and the old modification time put back (touch -r, cp -p)
    path = listed.directory / "application-mp-shop.yaml"
    before = path.stat()
    text = path.read_text(encoding="utf-8")
    rewritten = text.replace("The web shop", "THE WEB SHOP")
    after_the_next_tick(path)
    path.write_text(rewritten, encoding="utf-8")
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    after = path.stat()
    assert (after.st_ino, after.st_mtime_ns, after.st_size) == (
        before.st_ino,
        before.st_mtime_ns,
        before.st_size,
    )

    # when
    applications = await listed.list_owned("Application")

    # then
    assert applications["mp-shop"]["spec"]["description"] == "THE WEB SHOP"
    assert listed.files_read == 1


async def test_a_file_indexed_within_a_second_of_its_last_change_is_read_again(tmp_path: Path) -> None:
    # given a file listed half a second after it changed (it could change again within the same tick)
    path = tmp_path / "application-mp-shop.yaml"
    path.write_text(yaml.safe_dump(application_resources(SHOP)[0]), encoding="utf-8")

    def half_a_second_after_the_change() -> int:
        status = path.stat()
        return max(status.st_mtime_ns, status.st_ctime_ns) + 500_000_000

    sink = DirectorySink(tmp_path, clock=half_a_second_after_the_change)
    await sink.list_owned("Application")

    # when
    applications = await sink.list_owned("Application")

    # then
    assert list(applications) == ["mp-shop"]
    assert sink.files_read == 2


async def test_a_file_deleted_by_hand_is_no_longer_listed(listed: DirectorySink) -> None:
    (listed.directory / "application-mp-shop.yaml").unlink()

    assert await listed.list_owned("Application") == {}
    assert listed.files_read == 0


async def test_a_file_that_loses_the_ownership_label_by_hand_is_no_longer_owned(
    listed: DirectorySink,
) -> None:
    path = listed.directory / "application-mp-shop.yaml"
    path.write_text(yaml.safe_dump(foreign_application("mp-shop")), encoding="utf-8")
    os.utime(path, ns=(0, path.stat().st_mtime_ns + 1_000_000))  # whatever the clock's granularity

    assert await listed.list_owned("Application") == {}


# --- batches ------------------------------------------------------------------------------------------------


def owned_application(name: str) -> dict[str, Any]:
    application = application_resources(SHOP)[0]
    application["metadata"]["name"] = name
    return application


async def test_single_writes_each_fsync_the_directory(sink: DirectorySink) -> None:
    await apply_all(sink, [owned_application(f"app-{index}") for index in range(3)])
    await sink.delete("Application", "app-0")

    assert sink.directory_syncs == 4


async def test_a_batch_fsyncs_the_directory_once_for_all_its_writes(sink: DirectorySink) -> None:
    # given
    await apply_all(sink, [owned_application("old-1"), owned_application("old-2")])
    before = sink.directory_syncs

    # when
    async with sink.batch() as batch, asyncio.TaskGroup() as group:
        for index in range(10):
            group.create_task(batch.apply(owned_application(f"app-{index}")))
        group.create_task(batch.delete("Application", "old-1"))
        group.create_task(batch.delete("Application", "old-2"))

    # then
    assert sink.directory_syncs - before == 1
    assert sorted(await sink.list_owned("Application")) == [f"app-{index}" for index in range(10)]


async def test_a_batch_that_changes_no_file_does_not_fsync_the_directory(sink: DirectorySink) -> None:
    # given
    application = owned_application("app")
    await sink.apply(application)
    before = sink.directory_syncs

    # when: the same content again, and a delete of nothing
    async with sink.batch() as batch:
        await batch.apply(application)
        await batch.delete("Application", "gone")

    # then
    assert sink.directory_syncs == before


async def test_a_batch_is_fsynced_when_its_block_fails(sink: DirectorySink) -> None:
    with pytest.raises(SinkError, match="disk full"):
        async with sink.batch() as batch:
            await batch.apply(owned_application("app"))
            raise SinkError("disk full")

    assert sink.directory_syncs == 1


async def test_a_write_outside_an_open_batch_is_durable_when_it_returns(sink: DirectorySink) -> None:
    # given a batch that is still open in another task
    opened, finish = asyncio.Event(), asyncio.Event()

    async def batch_in_progress() -> None:
        async with sink.batch() as batch:
            await batch.apply(owned_application("in-batch"))
            opened.set()
            await finish.wait()

    task = asyncio.create_task(batch_in_progress())
    await opened.wait()

    # when
    await sink.apply(owned_application("alone"))

    # then: its own fsync, not the batch's at the end
    assert sink.directory_syncs == 1
    finish.set()
    await task
    assert sink.directory_syncs == 2
