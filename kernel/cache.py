"""A bounded in-memory LRU: what it keeps (credentials among it) never touches a disk or another process.

It holds the serialized answers of runtimes' polls (bounded in entries and bytes) and the views runtimes share
(bounded in entries).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class MemoryCache(Generic[K, V]):
    def __init__(
        self, *, max_entries: int, max_bytes: int | None = None, size_of: Callable[[V], int] = lambda _: 0
    ) -> None:
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self.size_of = size_of
        self._entries: OrderedDict[K, V] = OrderedDict()
        self._bytes = 0
        self.hits = 0
        self.misses = 0

    def get(self, key: K) -> V | None:
        value = self._entries.get(key)
        if value is None:
            self.misses += 1
            return None
        self._entries.move_to_end(key)
        self.hits += 1
        return value

    def put(self, key: K, value: V) -> None:
        size = self.size_of(value)
        if self.max_bytes is not None and size > self.max_bytes:
            return
        previous = self._entries.pop(key, None)
        if previous is not None:
            self._bytes -= self.size_of(previous)
        self._entries[key] = value
        self._bytes += size
        while len(self._entries) > self.max_entries or (self.max_bytes is not None and self._bytes > self.max_bytes):
            _, evicted = self._entries.popitem(last=False)
            self._bytes -= self.size_of(evicted)

    @property
    def bytes(self) -> int:
        return self._bytes

    def __len__(self) -> int:
        return len(self._entries)
