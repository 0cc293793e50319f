"""An unchanged sync neither renders nor compares when nothing moved since a compare found nothing to do
(``agent.sync.LastCompare``), and still repairs what changed in the sink meanwhile.

The directory sink here trusts a file's identity at once (its clock runs ahead by a minute), so that a sync
right after another reads no file it indexed; the agent's period leaves that second in production.
"""

from __future__ import annotations

import time
from pathlib import Path

from agent.director_client import FetchResult
from agent.resources import DEFAULT_GATEWAY_URL
from agent.sync import LastCompare, SyncResult, synchronize
from tests.agent.support import StaticDirector
from tests.agent.test_resources import SHOP
from tests.agent.test_sync import RecordingSink

APPLICATION_FILE = "application-mp-shop.yaml"


def ahead() -> int:
    return time.time_ns() + 60_000_000_000


class Agent:
    """One runtime's director, sink and LastCompare, synced as the agent's loop does."""

    def __init__(self, directory: Path) -> None:
        self.director = StaticDirector([SHOP])
        self.sink = RecordingSink(directory, clock=ahead)
        self.last_compare = LastCompare()

    async def sync(self, *, gateway_url: str = DEFAULT_GATEWAY_URL) -> SyncResult:
        return await synchronize(
            self.director,
            self.sink,
            runtime_id="runtime",
            gateway_url=gateway_url,
            last_compare=self.last_compare,
        )

    async def settled(self) -> None:
        """Synced, then found equal by a 304 sync: what the next unchanged sync may stand on."""
        await self.sync()
        self.director.answer = None  # the Director answers 304 from now on
        assert (await self.sync()).compared
        self.sink.writes.clear()


async def test_an_unchanged_sync_after_a_compare_found_nothing_to_do_renders_compares_reads_and_writes_nothing(
    tmp_path: Path,
) -> None:
    # given
    agent = Agent(tmp_path / "manifests")
    await agent.settled()
    read = agent.sink.files_read

    # when
    result = await agent.sync()

    # then
    assert result.unchanged and not result.compared
    assert result.plan.empty and result.fetched_applications == 1
    assert agent.sink.files_read == read
    assert agent.sink.writes == []


async def test_a_manifest_deleted_after_a_skipped_compare_is_put_back_by_the_next_unchanged_sync(
    tmp_path: Path,
) -> None:
    # given
    agent = Agent(tmp_path / "manifests")
    await agent.settled()
    assert not (await agent.sync()).compared

    # when
    (agent.sink.directory / APPLICATION_FILE).unlink()
    result = await agent.sync()

    # then
    assert result.unchanged and result.compared
    assert result.applied == ["create Application/mp-shop"]


async def test_a_manifest_edited_in_place_is_restored_by_the_next_unchanged_sync(tmp_path: Path) -> None:
    # given
    agent = Agent(tmp_path / "manifests")
    await agent.settled()
    path = agent.sink.directory / APPLICATION_FILE
    original = path.read_bytes()

    # when
    with path.open("r+b") as handle:  # the same inode, as an editor writing in place leaves it
        handle.write(original.replace(b'"description"', b'"descriptioN"', 1))
    result = await agent.sync()

    # then
    assert result.applied == ["update Application/mp-shop"]
    assert path.read_bytes() == original


async def test_a_new_answer_is_compared_even_with_the_sink_unchanged(tmp_path: Path) -> None:
    # given
    agent = Agent(tmp_path / "manifests")
    await agent.settled()

    # when
    agent.director.answer = FetchResult([{**SHOP, "description": "changed"}], {}, None)
    result = await agent.sync()

    # then
    assert result.compared and result.applied == ["update Application/mp-shop"]


async def test_a_changed_setting_is_compared_even_when_the_director_answers_304(tmp_path: Path) -> None:
    # given
    agent = Agent(tmp_path / "manifests")
    await agent.settled()

    # when
    result = await agent.sync(gateway_url="http://elsewhere:8080")

    # then
    assert result.unchanged and result.compared
    assert result.applied == ["update Application/mp-shop"]


async def test_a_sync_that_had_to_write_stands_for_no_later_one(tmp_path: Path) -> None:
    # given a first sync that wrote everything
    agent = Agent(tmp_path / "manifests")
    await agent.sync()
    agent.director.answer = None

    # when
    result = await agent.sync()

    # then it compared what it had written, and found it as desired
    assert result.compared and result.plan.empty
