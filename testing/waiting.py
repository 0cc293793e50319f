"""Waiting for something to come true: polled until a deadline, and a failure that names what did not happen.

Tests assert on what happens, never on how long it took: a wait only bounds how long a test may hang.
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Callable

Detail = Callable[[], str]


class NotInTime(AssertionError):
    """What was waited for did not happen before the deadline."""


def _not_in_time(what: str, seconds: float, detail: Detail | None) -> NotInTime:
    message = f"{what} did not happen within {seconds:g} s"
    return NotInTime(f"{message}:\n{detail()}" if detail is not None else message)


async def wait_until(
    condition: Callable[[], object],
    *,
    seconds: float = 20.0,
    what: str = "the condition",
    every: float = 0.05,
    detail: Detail | None = None,
) -> None:
    """Polls ``condition`` (plain, or returning an awaitable) every ``every`` s until it is truthy.

    After ``seconds`` it raises ``NotInTime`` naming ``what``, followed by ``detail()`` (e.g. a log tail)."""
    deadline = time.monotonic() + seconds
    while True:
        outcome = condition()
        if inspect.isawaitable(outcome):
            outcome = await outcome
        if outcome:
            return
        if time.monotonic() > deadline:
            raise _not_in_time(what, seconds, detail)
        await asyncio.sleep(every)


def wait_until_blocking(
    condition: Callable[[], object],
    *,
    seconds: float = 20.0,
    what: str = "the condition",
    every: float = 0.05,
    detail: Detail | None = None,
) -> None:
    """``wait_until`` for code that runs outside an event loop (fixtures, benches, server threads)."""
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise _not_in_time(what, seconds, detail)
        time.sleep(every)
