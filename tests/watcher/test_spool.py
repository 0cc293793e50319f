"""The watcher's spool (watcher/spool.py) on a real directory: in order, durable across restarts and SIGKILL,
bounded with the oldest dropped and counted, recovered after a crash in the middle of a write."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

from prometheus_client import REGISTRY

from dataplane.files import stage_private_file
from watcher.events import WatchEvent
from watcher.spool import DROPPED_FILE, Spool


def event(name: str) -> WatchEvent:
    return WatchEvent("compass-runtime-agent", "kyma-system", name, "compass.kyma-project.io", "v1alpha1", "X")


def dropped_metric() -> float:
    return REGISTRY.get_sample_value("compass_watcher_events_dropped_total") or 0.0


async def drain(spool: Spool) -> list[str]:
    """The names of the events in the spool, oldest first, removing each as a deliverer does."""
    names = []
    while (oldest := await spool.peek()) is not None:
        sequence, found = oldest
        names.append(found.name)
        await spool.remove(sequence)
    return names


async def test_events_come_out_in_the_order_they_were_appended(tmp_path: Path) -> None:
    spool = Spool(tmp_path, max_events=10)
    for name in ("a", "b", "c"):
        await spool.append(event(name))

    assert spool.depth == 3
    assert await drain(spool) == ["a", "b", "c"]
    assert spool.depth == 0
    assert await spool.peek() is None


async def test_peek_returns_the_event_as_appended_until_it_is_removed(tmp_path: Path) -> None:
    spool = Spool(tmp_path, max_events=10)
    await spool.append(event("a"))

    first = await spool.peek()
    assert first is not None
    assert await spool.peek() == first
    assert first[1] == event("a")


async def test_appended_events_are_found_by_a_spool_opened_later(tmp_path: Path) -> None:
    spool = Spool(tmp_path, max_events=10)
    for name in ("a", "b"):
        await spool.append(event(name))

    assert await drain(Spool(tmp_path, max_events=10)) == ["a", "b"]


async def test_numbering_continues_after_the_highest_found_at_start(tmp_path: Path) -> None:
    spool = Spool(tmp_path, max_events=10)
    for name in ("a", "b", "c"):
        await spool.append(event(name))
    oldest = await spool.peek()
    assert oldest is not None
    await spool.remove(oldest[0])

    reopened = Spool(tmp_path, max_events=10)
    await reopened.append(event("d"))

    assert await drain(reopened) == ["b", "c", "d"]


async def test_a_removed_event_is_not_found_after_a_restart(tmp_path: Path) -> None:
    spool = Spool(tmp_path, max_events=10)
    await spool.append(event("a"))
    await spool.append(event("b"))
    oldest = await spool.peek()
    assert oldest is not None
    await spool.remove(oldest[0])

    assert await drain(Spool(tmp_path, max_events=10)) == ["b"]


async def test_a_record_staged_but_not_renamed_by_a_crash_is_removed_at_start(tmp_path: Path) -> None:
    spool = Spool(tmp_path, max_events=10)
    await spool.append(event("a"))
    # What a crash between the temporary file's fsync and its rename leaves: the event was never acknowledged.
    leftover = stage_private_file(tmp_path / f"{2:020d}.event", event("b").to_json())

    reopened = Spool(tmp_path, max_events=10)

    assert not leftover.exists()
    assert await drain(reopened) == ["a"]


async def test_a_torn_temporary_file_is_removed_at_start(tmp_path: Path) -> None:
    spool = Spool(tmp_path, max_events=10)
    await spool.append(event("a"))
    torn = tmp_path / f".{2:020d}.event.4242.tmp"
    torn.write_bytes(event("b").to_json()[:10])

    reopened = Spool(tmp_path, max_events=10)
    await reopened.append(event("c"))

    assert not torn.exists()
    assert await drain(reopened) == ["a", "c"]


async def test_past_the_bound_the_oldest_events_are_dropped_and_counted(tmp_path: Path) -> None:
    before = dropped_metric()
    spool = Spool(tmp_path, max_events=3)
    for name in ("a", "b", "c", "d", "e"):
        await spool.append(event(name))

    assert spool.dropped == 2
    assert dropped_metric() - before == 2
    assert await drain(spool) == ["c", "d", "e"]


async def test_the_dropped_count_survives_a_restart(tmp_path: Path) -> None:
    spool = Spool(tmp_path, max_events=1)
    for name in ("a", "b", "c"):
        await spool.append(event(name))
    assert (tmp_path / DROPPED_FILE).read_text().strip() == "2"

    before = dropped_metric()
    reopened = Spool(tmp_path, max_events=1)
    assert reopened.dropped == 2
    assert dropped_metric() - before == 2  # the process's counter starts at the persisted count

    await reopened.append(event("d"))
    assert reopened.dropped == 3
    assert await drain(reopened) == ["d"]


async def test_a_bound_lowered_across_a_restart_drops_the_oldest_at_start(tmp_path: Path) -> None:
    spool = Spool(tmp_path, max_events=10)
    for name in ("a", "b", "c", "d"):
        await spool.append(event(name))

    reopened = Spool(tmp_path, max_events=2)

    assert reopened.dropped == 2
    assert await drain(reopened) == ["c", "d"]


async def test_removing_an_event_a_full_spool_dropped_meanwhile_changes_nothing(tmp_path: Path) -> None:
    spool = Spool(tmp_path, max_events=2)
    await spool.append(event("a"))
    in_flight = await spool.peek()
    assert in_flight is not None
    await spool.append(event("b"))
    await spool.append(event("c"))  # drops "a", which the deliverer is sending

    await spool.remove(in_flight[0])

    assert spool.depth == 2
    assert await drain(spool) == ["b", "c"]


async def test_an_unreadable_record_is_dropped_and_counted(tmp_path: Path) -> None:
    spool = Spool(tmp_path, max_events=10)
    for name in ("a", "b"):
        await spool.append(event(name))
    (tmp_path / f"{1:020d}.event").write_bytes(b'{"module": "m"}')

    assert await drain(spool) == ["b"]
    assert spool.dropped == 1


async def test_concurrent_appends_are_all_kept_in_the_order_they_were_made(tmp_path: Path) -> None:
    spool = Spool(tmp_path, max_events=100)

    await asyncio.gather(*(spool.append(event(f"e{index}")) for index in range(40)))

    assert spool.depth == 40
    assert await drain(Spool(tmp_path, max_events=100)) == [f"e{index}" for index in range(40)]


async def test_appends_made_while_a_write_is_under_way_are_kept_after_it(tmp_path: Path) -> None:
    spool = Spool(tmp_path, max_events=100)
    first = asyncio.create_task(spool.append(event("a")))
    await asyncio.sleep(0)  # "a" pending, its writer task scheduled
    await asyncio.sleep(0)  # the writer took "a" and writes it in a thread

    await asyncio.gather(spool.append(event("b")), spool.append(event("c")), first)

    assert await drain(Spool(tmp_path, max_events=100)) == ["a", "b", "c"]


def test_events_acknowledged_before_a_sigkill_are_kept(tmp_path: Path) -> None:
    # A process that acknowledges (prints) each appended event and is killed while still appending.
    script = textwrap.dedent(
        f"""
        import asyncio, itertools, sys
        from pathlib import Path
        from watcher.events import WatchEvent
        from watcher.spool import Spool

        async def main():
            spool = Spool(Path({str(tmp_path)!r}), max_events=100_000)
            for index in itertools.count():
                await spool.append(WatchEvent("m", "ns", f"e{{index}}", "g", "v1", "K"))
                print("ack", index, flush=True)

        asyncio.run(main())
        """
    )
    with subprocess.Popen(
        [sys.executable, "-c", script], stdout=subprocess.PIPE, text=True, cwd=Path.cwd()
    ) as child:
        assert child.stdout is not None
        lines = []
        for line in child.stdout:  # until 20 acknowledgements (or the child's end: then the test fails below)
            lines.append(line)
            if sum(seen.startswith("ack ") for seen in lines) == 20:
                break
        os.kill(child.pid, signal.SIGKILL)
        lines += child.stdout.readlines()  # what it printed before the signal landed
        child.wait()

    acknowledged = [f"e{line.split()[1]}" for line in lines if line.startswith("ack ")]
    names = asyncio.run(drain(Spool(tmp_path, max_events=100_000)))
    assert len(acknowledged) >= 20
    assert names[: len(acknowledged)] == acknowledged
