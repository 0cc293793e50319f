"""kill -9 of a process writing the agent's directory sink: no manifest is ever half-written.

A writer process applies large Applications and Secrets through ``agent.sinks.directory.DirectorySink`` in a
loop, each generation over the files of the one before: one by one, or each generation as one batch of
concurrent writes (``DirectorySink.batch``, as a sync writes). Each round waits a set number of writes and then
until a temporary file exists (a write is under way), and kills the writer with SIGKILL. Afterwards every
manifest file must be a whole document: it parses, has apiVersion, kind and metadata, and ends with the marker
written last (a YAML cut short can still parse, so parsing alone proves nothing). The temporary files a
kill leaves behind stay (nothing removes them), are ignored by ``list_owned`` and do not stop the next write.
"""

from __future__ import annotations

import asyncio
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from agent.sinks.directory import DirectorySink
from testing.waiting import wait_until
from tests.faults.support import kill_process

NAMES = 4
ITEMS = 2_000  # entries per manifest: about 200 KB of YAML each
# The applies each round waits for before its kill; each kills at a point the others do not: in the first
# generation while manifests are created in an empty directory, in the middle of a generation over the files
# and the leftover of the first kill, and after a whole generation (every manifest exists) while the next one
# rewrites them.
KILLS_AFTER = (1, NAMES + 1, 2 * NAMES + 1)

# The writer: one process, as the agent is; it prints a line after each apply so that the test can pace kills.
WRITER = r"""
import asyncio, itertools, sys
from pathlib import Path

from agent.sinks.directory import DirectorySink

OWNED = {"applicationconnector.kyma-project.io/managed-by": "compass-runtime-agent"}
NAMES, ITEMS, BATCHED = int(sys.argv[2]), int(sys.argv[3]), sys.argv[4] == "batches"


def application(index: int, generation: int) -> dict:
    services = [{"id": f"svc-{generation}-{item}", "displayName": "x" * 60} for item in range(ITEMS)]
    return {
        "apiVersion": "applicationconnector.kyma-project.io/v1alpha1",
        "kind": "Application",
        "metadata": {"name": f"app-{index}", "labels": OWNED, "annotations": {"faults/items": str(ITEMS)}},
        "spec": {"compassMetadata": {"applicationId": f"id-{index}"}, "services": services,
                 "generation": generation, "complete": "yes"},
    }


def secret(index: int, generation: int) -> dict:
    data = {f"key-{item}": "c2VjcmV0" * 12 for item in range(ITEMS)}
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": f"secret-{index}", "namespace": "kyma-system", "labels": OWNED,
                     "annotations": {"faults/items": str(ITEMS)}},
        "type": "Opaque",
        "data": data,
        "generation": generation,
        "complete": "yes",
    }


async def write(sink, manifest: dict) -> None:
    await sink.apply(manifest)
    print(manifest["kind"], manifest["metadata"]["name"], flush=True)


async def main() -> None:
    sink = DirectorySink(Path(sys.argv[1]))
    for generation in itertools.count():
        manifests = [make(index, generation) for index in range(NAMES) for make in (application, secret)]
        if not BATCHED:
            for manifest in manifests:
                await write(sink, manifest)
            continue
        async with sink.batch() as batch, asyncio.TaskGroup() as group:
            for manifest in manifests:
                group.create_task(write(batch, manifest))


asyncio.run(main())
"""


def temporary_files(directory: Path) -> list[Path]:
    return sorted(path for path in directory.glob(".*.tmp"))


def manifest_files(directory: Path) -> list[Path]:
    return sorted(path for path in directory.glob("*.yaml") if not path.name.startswith("."))


def incomplete(path: Path) -> str | None:
    """Why the file is not one whole manifest as the writer wrote it, or None."""
    try:
        document: Any = yaml.safe_load(path.read_bytes())
    except yaml.YAMLError as error:
        return f"not YAML: {error}"
    if not isinstance(document, dict) or not {"apiVersion", "kind", "metadata"} <= document.keys():
        return "no apiVersion, kind and metadata"
    items = document["spec"]["services"] if document["kind"] == "Application" else document["data"]
    if len(items) != int(document["metadata"]["annotations"]["faults/items"]):
        return f"{len(items)} items instead of {document['metadata']['annotations']['faults/items']}"
    marker = (document["spec"] if document["kind"] == "Application" else document).get("complete")
    if marker != "yes":
        return "the last key is missing"
    if document["kind"] == "Secret" and stat.S_IMODE(path.stat().st_mode) != 0o600:
        return f"a Secret with mode {oct(stat.S_IMODE(path.stat().st_mode))}"
    return None


async def kill_mid_write(directory: Path, applies: int, *, writes: str = "one by one") -> bool:
    """Kills the writer (``writes`` "one by one" or in "batches") mid-write after ``applies`` applies; whether it
    left a temporary file."""
    before = set(temporary_files(directory))
    writer = await asyncio.to_thread(
        subprocess.Popen,
        [sys.executable, "-c", WRITER, str(directory), str(NAMES), str(ITEMS), writes],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        assert writer.stdout is not None
        for _ in range(applies):
            line = await asyncio.wait_for(asyncio.to_thread(writer.stdout.readline), 30)
            assert line, f"the writer stopped: {writer.stderr.read().decode() if writer.stderr else ''}"
        # Leftovers of earlier kills are there already: wait for one this writer is writing now.
        await wait_until(
            lambda: writer.poll() is None and set(temporary_files(directory)) - before,
            seconds=30,
            what="a write under way",
            every=0.001,
        )
    finally:
        kill_process(writer)
        for stream in (writer.stdout, writer.stderr):
            if stream is not None:
                stream.close()
    return bool(set(temporary_files(directory)) - before)


@pytest.mark.parametrize("writes", ["one by one", "batches"])
async def test_a_writer_killed_mid_write_leaves_only_whole_manifests(tmp_path: Path, writes: str) -> None:
    # given
    directory = tmp_path / "manifests"

    # when: the writer is killed in the middle of writes, round after round
    cut = [await kill_mid_write(directory, applies, writes=writes) for applies in KILLS_AFTER]

    # then: every manifest is whole
    manifests = manifest_files(directory)
    assert len(manifests) == 2 * NAMES
    assert {path.name: reason for path in manifests if (reason := incomplete(path))} == {}
    # and the temporary files left behind count for nothing
    leftovers = temporary_files(directory)
    print(f"{sum(cut)} of {len(cut)} kills came mid-write; {len(leftovers)} temporary files left")
    assert any(cut)
    sink = DirectorySink(directory)
    assert sorted(await sink.list_owned("Application")) == [f"app-{index}" for index in range(NAMES)]
    assert sorted(await sink.list_owned("Secret")) == [f"secret-{index}" for index in range(NAMES)]


async def test_a_temporary_file_left_by_a_kill_does_not_stop_the_next_write(tmp_path: Path) -> None:
    # given: the directory as a kill in the middle of rewriting a manifest leaves it
    directory = tmp_path / "manifests"
    # The writer may finish its rename between being seen mid-write and the kill: kill again, one apply later each
    # time (after a whole generation: every manifest exists and is being rewritten), until one is cut.
    for applies in range(2 * NAMES + 1, 2 * NAMES + 11):
        if await kill_mid_write(directory, applies):
            break
    else:
        pytest.fail("no kill in ten left a temporary file")
    leftover = temporary_files(directory)[0]
    prefix, _, name = leftover.name.removeprefix(".").split(".yaml.")[0].partition("-")
    kind = {"application": "Application", "secret": "Secret"}[prefix]
    sink = DirectorySink(directory)
    current = await sink.get(kind, name)
    assert current is not None

    # when: that manifest is written again
    current["metadata"]["annotations"]["faults/rewritten"] = "yes"
    await sink.apply(current)

    # then
    rewritten = await sink.get(kind, name)
    assert rewritten is not None and rewritten["metadata"]["annotations"]["faults/rewritten"] == "yes"
    assert incomplete(sink.path_for(kind, name)) is None
