"""Waiting for something to come true: polled until a deadline, and a failure that names what did not happen.

Tests assert on what happens, never on how long it took: a wait only bounds how long a test may hang.
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Callable
from typing import TypedDict, Unpack

Detail = Callable[[], str]


class NotInTime(AssertionError):
    """What was waited for did not happen before the deadline."""


class Patience(TypedDict, total=False):
    """The keywords every wait takes: give up after ``seconds`` (20), naming ``what`` ("the condition") and
    adding ``detail()`` (e.g. a log tail) to the failure; look again ``every`` 0.05 s."""

    seconds: float
    what: str
    every: float
    detail: Detail | None


class _Deadline:
    """``seconds`` from now: ``check`` raises ``NotInTime`` once it has passed (see ``Patience``)."""

    def __init__(
        self,
        seconds: float = 20.0,
        what: str = "the condition",
        every: float = 0.05,
        detail: Detail | None = None,
    ) -> None:
        self.at = time.monotonic() + seconds
        self.seconds, self.what, self.every, self.detail = seconds, what, every, detail

    def check(self) -> None:
        if time.monotonic() > self.at:
            message = f"{self.what} did not happen within {self.seconds:g} s"
            raise NotInTime(f"{message}:\n{self.detail()}" if self.detail is not None else message)


async def wait_until(condition: Callable[[], object], **patience: Unpack[Patience]) -> None:
    """Polls ``condition`` (plain, or returning an awaitable) until it is truthy, within ``patience``."""
    deadline = _Deadline(**patience)
    while True:
        outcome = condition()
        if inspect.isawaitable(outcome):
            outcome = await outcome
        if outcome:
            return
        deadline.check()
        await asyncio.sleep(deadline.every)


def wait_until_blocking(condition: Callable[[], object], **patience: Unpack[Patience]) -> None:
    """``wait_until`` for code that runs outside an event loop (fixtures, benches, server threads)."""
    deadline = _Deadline(**patience)
    while not condition():
        deadline.check()
        time.sleep(deadline.every)
