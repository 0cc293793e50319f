"""Offset cursors and page slicing shared by every Page type (Compass's cursors are opaque offsets too)."""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from kernel.errors import InvalidInputError

T = TypeVar("T")

MAX_PAGE_SIZE = 200
_PREFIX = "offset:"
_OFFSET = re.compile(re.escape(_PREFIX) + r"([0-9]{1,18})")


@dataclass(frozen=True)
class PageRequest:
    limit: int
    offset: int

    @classmethod
    def of(cls, first: int | None, after: str | None) -> PageRequest:
        size = MAX_PAGE_SIZE if first is None else first
        if not 1 <= size <= MAX_PAGE_SIZE:
            raise InvalidInputError(f"first must be between 1 and {MAX_PAGE_SIZE}, got {size}")
        return cls(limit=size, offset=decode_cursor(after) if after else 0)


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    total_count: int
    offset: int

    @property
    def has_next_page(self) -> bool:
        return self.offset + len(self.items) < self.total_count

    @property
    def start_cursor(self) -> str:
        return encode_cursor(self.offset) if self.items else ""

    @property
    def end_cursor(self) -> str:
        """Empty on the last page, as Compass answers."""
        return encode_cursor(self.offset + len(self.items)) if self.has_next_page else ""

    @classmethod
    def slice(cls, rows: Sequence[T], request: PageRequest) -> Page[T]:
        """Page an already loaded list (nested lists are loaded whole per parent by a DataLoader)."""
        return cls(list(rows[request.offset : request.offset + request.limit]), len(rows), request.offset)


def encode_cursor(offset: int) -> str:
    return base64.urlsafe_b64encode(f"{_PREFIX}{offset}".encode()).decode()


def decode_cursor(cursor: str) -> int:
    try:
        text = base64.urlsafe_b64decode(cursor.encode()).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise InvalidInputError("after is not a cursor this API returned") from None
    # ASCII digits only (str.isdigit also takes "²"), and few enough for a 64-bit OFFSET.
    match = _OFFSET.fullmatch(text)
    if match is None:
        raise InvalidInputError("after is not a cursor this API returned")
    return int(match.group(1))
