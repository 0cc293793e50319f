"""CPU-heavy work of a request (parsing and validating GraphQL documents, checking JSON schemas), off the loop.

Pure-Python work on the event loop holds every listener: a 1 MB document held it ~0.15 s even when the token limit
stopped it, and a label checked against a schema up to 2 s. Such work runs on one small pool of worker threads
shared by all of it, so that a flood of heavy requests queues here, not on the loop.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")


def _workers() -> ThreadPoolExecutor:
    # Two, so that one heavy piece of work does not hold up the next.
    return ThreadPoolExecutor(max_workers=2, thread_name_prefix="cpu-work")


_WORKERS = _workers()


def _new_workers_after_fork() -> None:
    # A forked worker process has none of the parent's threads, but the pool would count them as its own.
    global _WORKERS  # noqa: PLW0603
    _WORKERS = _workers()


os.register_at_fork(after_in_child=_new_workers_after_fork)


async def off_the_loop(work: Callable[[], T]) -> T:
    return await asyncio.get_running_loop().run_in_executor(_WORKERS, work)
