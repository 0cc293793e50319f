"""How a step fails: ``StepFailed`` says what did not happen, and every wait is bounded."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


class StepFailed(Exception):
    """A step did not prove what it claims; the message says what was expected and what happened instead."""


def wait_for(
    look: Callable[[], T | None],
    *,
    seconds: float,
    what: str,
    every: float = 0.1,
    detail: Callable[[], str] | None = None,
) -> T:
    """What ``look`` returns once it is not None; ``StepFailed`` naming ``what`` after ``seconds``.

    ``look`` may raise ``StepFailed`` itself (a process it depends on exited): that ends the wait at once."""
    deadline = time.monotonic() + seconds
    while True:
        found = look()
        if found is not None:
            return found
        if time.monotonic() > deadline:
            message = f"timed out after {seconds:g} s waiting for {what}"
            raise StepFailed(f"{message}\n{detail()}" if detail is not None else message)
        time.sleep(every)


def expect(condition: bool, message: str) -> None:
    if not condition:
        raise StepFailed(message)
