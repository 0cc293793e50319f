"""Field checks shared by the services; each failure names the field and what to change."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, TypeVar
from urllib.parse import urlsplit

from kernel.errors import InvalidInputError

T = TypeVar("T")


# What browsers and proxies reliably carry; a longer URL is a mistake or an attack.
MAX_URL_LENGTH = 2048

def _no_nul(value: str, field: str) -> None:
    # PostgreSQL text cannot hold NUL; refusing it everywhere keeps both databases answering alike.
    if "\x00" in value:
        raise InvalidInputError(f"{field} must not contain NUL characters")


def require_name(value: str, field: str, *, max_length: int = 256) -> str:
    _no_nul(value, field)
    stripped = value.strip()
    if not stripped or len(stripped) > max_length:
        raise InvalidInputError(f"{field} must be 1 to {max_length} characters")
    return stripped


def optional_text(value: str | None, field: str, *, max_length: int = 10_000) -> str | None:
    if value is not None:
        _no_nul(value, field)
        if len(value) > max_length:
            raise InvalidInputError(f"{field} must be at most {max_length} characters")
    return value


def optional_url(value: str | None, field: str) -> str | None:
    if value is None or value == "":
        return value
    parts = urlsplit(value)
    if parts.scheme not in {"http", "https"} or not parts.netloc or len(value) > MAX_URL_LENGTH:
        raise InvalidInputError(f"{field} must be an absolute http or https URL, got {value[:100]!r}")
    return value


def require_url(value: str, field: str) -> str:
    if not value:
        raise InvalidInputError(f"{field} is required")
    return optional_url(value, field) or value


def string_lists(value: Any, field: str) -> dict[str, list[str]]:
    """Headers and query parameters: ``{name: [values]}``, given as an object or as a string of JSON."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            raise InvalidInputError(f"{field} must hold JSON") from None
    if not isinstance(value, dict) or not all(
        isinstance(key, str) and isinstance(items, list) and all(isinstance(item, str) for item in items)
        for key, items in value.items()
    ):
        raise InvalidInputError(f"{field} must be a JSON object of names to lists of strings")
    return value


def list_size(items: Sequence[T] | None, field: str, *, maximum: int = 100) -> Sequence[T]:
    if items is None:
        return ()
    if len(items) > maximum:
        raise InvalidInputError(f"{field} may hold at most {maximum} entries, got {len(items)}")
    return items
