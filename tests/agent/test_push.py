"""The change stream's pieces that need no server: server-sent events read from chunks as they arrive, and where
the stream is beside the Director's GraphQL endpoint."""

from __future__ import annotations

import pytest

from agent.push import Event, EventStreamParser, changes_url

SUBSCRIBED = "retry: 5000\nevent: subscribed\ndata: {}\n\n"


def test_an_event_is_told_once_its_blank_line_arrives() -> None:
    parser = EventStreamParser()

    assert parser.feed(SUBSCRIBED[:-1]) == []
    assert parser.feed("\n") == [Event("subscribed", "{}")]


def test_a_line_split_across_chunks_is_read_whole() -> None:
    parser = EventStreamParser()

    events = [
        event
        for chunk in ("ev", "ent: chan", "ged\nda", "ta: {}", "\n", "\n")
        for event in parser.feed(chunk)
    ]

    assert events == [Event("changed", "{}")]


def test_comments_are_read_past_and_tell_no_event() -> None:
    parser = EventStreamParser()

    assert parser.feed(": heartbeat\n\n: heartbeat\n\n") == []
    assert parser.feed("event: changed\ndata: {}\n\n") == [Event("changed", "{}")]


def test_several_events_in_one_chunk_are_told_in_order() -> None:
    parser = EventStreamParser()

    events = parser.feed(SUBSCRIBED + ": heartbeat\n\n" + "event: changed\ndata: {}\n\n" * 2)

    assert [event.name for event in events] == ["subscribed", "changed", "changed"]


def test_crlf_split_between_its_two_characters_ends_one_line_not_two() -> None:
    parser = EventStreamParser()

    assert parser.feed("event: changed\r") == []
    assert parser.feed("\ndata: {}\r\n\r\n") == [Event("changed", "{}")]


def test_data_lines_are_joined_and_an_unnamed_event_is_a_message() -> None:
    parser = EventStreamParser()

    assert parser.feed("data: a\ndata:b\n\n") == [Event("message", "a\nb")]


@pytest.mark.parametrize(
    ("director_url", "expected"),
    [
        ("https://compass.example.com/director/graphql", "https://compass.example.com/director/changes"),
        (
            "https://compass.example.com:8443/director/graphql/",
            "https://compass.example.com:8443/director/changes",
        ),
        ("https://compass.example.com/graphql", "https://compass.example.com/changes"),
        ("https://compass.example.com/director/query", None),
    ],
)
def test_the_change_stream_is_beside_the_graphql_endpoint(director_url: str, expected: str | None) -> None:
    assert changes_url(director_url) == expected
