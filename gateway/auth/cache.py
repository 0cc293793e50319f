"""Tokens kept until they expire, in a bounded cache, fetched once however many callers want one at a time.

Kyma keeps tokens in an unbounded go-cache, some of them forever, and lets every caller that misses fetch its own
token. Here each entry has its own lifetime (``cachetools.TLRUCache``), the least recently used entries go first
when the cache is full, and callers that miss while a fetch for their key is under way wait for that fetch.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable, Coroutine, Hashable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from cachetools import TLRUCache

from gateway.metrics import TOKEN_CACHE_HITS, TOKEN_FETCHES

V = TypeVar("V")
Clock = Callable[[], float]


@dataclass(frozen=True)
class Expiring(Generic[V]):
    """A fetched value and how many seconds it may be reused; 0 or less: use once, keep nothing."""

    value: V
    ttl: float


def _expiry(_key: Hashable, kept: Expiring[Any], now: float) -> float:
    return now + kept.ttl


class TokenCache(Generic[V]):
    """Tokens of one ``kind`` (the metrics' label) by key; ``clock`` (seconds, monotonic) is for tests."""

    def __init__(self, kind: str, *, size: int, clock: Clock) -> None:
        self._kind = kind
        self._kept: TLRUCache[Hashable, Expiring[V], float] = TLRUCache(size, _expiry, clock)
        self._fetching: dict[Hashable, asyncio.Task[Expiring[V]]] = {}

    async def get(self, key: Hashable, fetch: Callable[[], Coroutine[Any, Any, Expiring[V]]]) -> V:
        kept = self._kept.get(key)
        if kept is not None:
            TOKEN_CACHE_HITS.labels(self._kind).inc()
            return kept.value
        task = self._fetching.get(key)
        if task is None:
            # A task, not the first caller's coroutine: the fetch goes on for the others if that caller is cancelled.
            task = asyncio.get_running_loop().create_task(fetch())
            self._fetching[key] = task
            task.add_done_callback(functools.partial(self._fetched, key))
        return (await asyncio.shield(task)).value

    def drop(self, key: Hashable) -> None:
        """Forgets the kept token. A fetch under way is not abandoned: it asks for a newer token than the one
        that was refused, and the callers retrying at once after one refusal share it."""
        self._kept.pop(key, None)

    def _fetched(self, key: Hashable, task: asyncio.Task[Expiring[V]]) -> None:
        del self._fetching[key]
        failed = task.cancelled() or task.exception() is not None  # retrieves the error even if nobody waits
        TOKEN_FETCHES.labels(self._kind, "error" if failed else "ok").inc()
        if not failed:
            self._kept[key] = task.result()  # TLRUCache does not store what expires at once (ttl <= 0)
