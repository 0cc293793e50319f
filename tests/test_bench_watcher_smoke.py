"""bench/watcher.py end to end with a few events, and its helpers in process. They keep the benchmark from rotting:
they assert what the output holds (a row per phase, every section, the order and bound checks passed), never a
figure of time."""

from __future__ import annotations

import json
import re

import pytest

from bench.watcher import (
    ADMISSION_HEADER,
    MODULE,
    admission_review,
    kept_in_caller_order,
    newest_per_caller,
    parse_options,
)
from tests.bench_support import bench_output, section
from watcher.admission import Outcome, decide

EVENTS, SPOOL_MAX = 12, 4


@pytest.fixture(scope="module")
def output() -> str:
    """What `python bench/watcher.py` prints for a short run."""
    return bench_output(
        "bench/watcher.py", "--events", str(EVENTS), "--spool-max", str(SPOOL_MAX), "--callers", "2"
    )


def test_the_admission_table_has_a_row_per_phase_that_sends_reviews(output: str) -> None:
    rows = section(output, ADMISSION_HEADER)
    assert [row.split()[0] for row in rows] == ["1.", "2.", "4."]
    assert all(re.search(rf"\s{EVENTS}\s", row) for row in rows)


def test_phase_one_reports_delivery_of_every_event_in_each_callers_order(output: str) -> None:
    lines = section(output, "1. control plane up:")
    assert re.search(rf"all {EVENTS} delivered [\d.]+ s after the first review", lines[0])
    assert lines[1:] == [
        "   the control plane holds exactly the events admitted: yes",
        "   each caller's events stored in the order it sent them: yes",
    ]


def test_phase_two_reports_every_event_spooled(output: str) -> None:
    lines = section(output, "2. control plane down:")
    assert f"spool depth (/metrics compass_watcher_spool_events): {EVENTS} of {EVENTS}" in lines[1]


def test_phase_three_reports_the_drain_in_the_admitted_order(output: str) -> None:
    text = "\n".join(section(output, "3. control plane back:"))
    assert re.search(r"spool empty [\d.]+ s after the control plane was ready", text)
    assert re.search(
        r"CPU per event delivered.*: compass serve [\d.]+ ms .*, compass-watcher serve [\d.]+ ms", text
    )
    assert re.search(r"stored in the order admitted \(the spool's files, oldest first\): yes", text)


def test_phase_four_keeps_the_newest_up_to_the_bound_and_counts_the_dropped(output: str) -> None:
    lines = section(
        output, f"4. spool bound: WATCHER_SPOOL_MAX_EVENTS = {SPOOL_MAX}, an outage of {EVENTS} events:"
    )
    assert lines[0].startswith(f"   kept {SPOOL_MAX} ")
    assert lines[1].startswith(f"   dropped {EVENTS - SPOOL_MAX} ")
    assert lines[2].endswith("the kept events are the newest (each caller's last ones): yes")
    assert "exactly those delivered, in order: yes" in lines[3]


def test_the_report_names_the_control_plane_it_ran_against(output: str) -> None:
    assert "control plane: a real `compass serve` (SQLite)" in output


def test_the_benchs_review_is_one_the_webhook_queues_for_the_object_created() -> None:
    decision = decide(MODULE, json.dumps(admission_review("up-000001", "uid-1")).encode())
    assert decision.outcome is Outcome.QUEUED
    assert decision.event is not None
    assert (decision.uid, decision.event.name, decision.event.kind) == ("uid-1", "up-000001", "Application")


def test_a_caller_order_check_refuses_two_of_one_callers_events_swapped() -> None:
    sent = [["a1", "a2"], ["b1", "b2"]]
    assert kept_in_caller_order(sent, ["a1", "b1", "b2", "a2"])
    assert not kept_in_caller_order(sent, ["a2", "b1", "a1", "b2"])


def test_the_newest_check_refuses_an_older_event_kept_beside_a_dropped_newer_one() -> None:
    sent = [["a1", "a2", "a3"], ["b1", "b2"]]
    assert newest_per_caller(sent, ["a2", "b2", "a3"])
    assert not newest_per_caller(sent, ["a1", "a3", "b2"])


@pytest.mark.parametrize("arguments", [["--spool-max", "500"], ["--events", "3", "--callers", "4"]])
def test_options_that_cannot_make_an_outage_are_refused(arguments: list[str]) -> None:
    with pytest.raises(SystemExit):
        parse_options(arguments)
