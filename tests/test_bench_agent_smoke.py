"""bench/agent.py at a tiny N: its measuring code in process against a server in a thread, and the command
itself against a real ``compass serve``. They keep the benchmark from rotting: they assert what each figure
stands for (a 304, no write, a full answer), never a time.
"""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.agent import (
    POLL_304,
    POLL_EXECUTED,
    POLL_KEPT,
    POLL_TITLES,
    PollFigures,
    SizeReport,
    Target,
    check,
    cpu_seconds,
    format_report,
    measure_size,
    parse_arguments,
)
from bench.seed import add_applications, seed_runtime
from connector.ca import CertificateAuthority
from kernel.db import Database
from kernel.settings import Settings
from tests.connector.support import RunningServer

ROOT = Path(__file__).resolve().parent.parent
SIZE = 2
TINY = ["--polls", "3", "--full-polls", "2", "--uncached-polls", "1", "--idle-seconds", "0"]


@pytest.fixture(scope="module")
def bench_server(
    settings: Settings, compass_ca: CertificateAuthority, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningServer]:
    server = RunningServer.start(
        settings,
        tmp_path_factory.mktemp("agent-bench-server"),
        compass_ca,
        redemptions_per_second=10_000,
        max_certificates_per_client=1000,
    )
    yield server
    server.stop()


@pytest.fixture(scope="module")
async def report(
    bench_server: RunningServer, database: Database, tmp_path_factory: pytest.TempPathFactory
) -> SizeReport:
    """One measurement of N = SIZE, as the bench makes it (the server's CPU here is this whole process's)."""
    seeded = await seed_runtime(database)
    await add_applications(database, seeded, 0, SIZE)
    target = Target(bench_server.settings, lambda: cpu_seconds(os.getpid()))
    options = parse_arguments(["--sizes", str(SIZE), *TINY])
    return await measure_size(target, seeded, SIZE, tmp_path_factory.mktemp("agent-bench"), options)


def poll(report: SizeReport, kind: str) -> PollFigures:
    return next(item for item in report.polls if item.kind == kind)


async def test_the_first_sync_writes_one_application_manifest_per_application(report: SizeReport) -> None:
    assert report.applications == SIZE
    assert report.first.resource_writes >= SIZE
    assert not report.first.not_modified


async def test_the_unchanged_sync_got_304_and_wrote_no_resource(report: SizeReport) -> None:
    result = report.unchanged.outcome.result
    assert result is not None and result.unchanged and result.plan.empty and result.applied == []
    assert report.unchanged.not_modified
    assert report.unchanged.resource_writes == 0
    assert report.files_untouched


async def test_the_unchanged_sync_reads_no_manifest_file_again(report: SizeReport) -> None:
    assert report.unchanged.files_read == 0


async def test_the_check_refuses_an_unchanged_sync_that_read_files(report: SizeReport) -> None:
    read = dataclasses.replace(report, unchanged=dataclasses.replace(report.unchanged, files_read=2))
    with pytest.raises(RuntimeError, match="read 2 manifest files again"):
        check(read)


async def test_the_syncs_between_the_first_and_the_304_write_no_resource(report: SizeReport) -> None:
    assert all(sync.resource_writes == 0 and not sync.not_modified for sync in report.resyncs)


async def test_polls_with_the_etag_get_304_without_a_body(report: SizeReport) -> None:
    conditional = poll(report, POLL_304)
    assert conditional.statuses == {304}
    assert conditional.polls == 3 and conditional.requests_per_poll == 1


async def test_polls_without_the_etag_and_after_a_change_get_the_whole_view(report: SizeReport) -> None:
    kept, executed = poll(report, POLL_KEPT), poll(report, POLL_EXECUTED)
    assert kept.statuses == executed.statuses == {200}
    assert kept.bytes_per_poll > 0
    # the change is a new value (as long) of a runtime label the bare fetch before the first sync set
    assert executed.bytes_per_poll == kept.bytes_per_poll


async def test_the_report_passes_its_own_check(report: SizeReport) -> None:
    check(report)


async def test_the_check_refuses_an_unchanged_sync_that_wrote(report: SizeReport) -> None:
    wrote = dataclasses.replace(report, unchanged=dataclasses.replace(report.unchanged, resource_writes=1))
    with pytest.raises(RuntimeError, match="wrote 1 resource files"):
        check(wrote)


async def test_the_report_prints_every_sync_and_every_kind_of_poll(report: SizeReport) -> None:
    printed = format_report(report)
    assert f"N = {SIZE} applications" in printed
    for title in ("first sync", "unchanged sync (304)", *POLL_TITLES.values()):
        assert title in printed
    assert "unchanged sync ÷ first sync" in printed and "first sync ÷ its 1 pages fetched" in printed


def test_the_command_measures_a_real_compass_serve(backend: str) -> None:
    """`python bench/agent.py` end to end: migrate, serve, seed, agent, polls, table; 0 only if checked."""
    # when
    completed = subprocess.run(
        [sys.executable, "bench/agent.py", "--sizes", "1,2", "--backends", backend, *TINY],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    # then
    assert completed.returncode == 0, completed.stderr[-3000:]
    assert f"## {backend}" in completed.stdout
    checked = "unchanged sync: 304 = True, resource files untouched (inode, mtime) = True"
    assert completed.stdout.count(checked) == 2
    assert "skipped" not in completed.stdout
