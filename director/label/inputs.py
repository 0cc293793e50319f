"""The label domain's own inputs: what the GraphQL layer converts its label inputs into."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class LabelFilter:
    """Selects objects by label; ``query`` is ``$[*] ? (@ == "VALUE")`` or a JSON value, None for any value."""

    key: str
    query: str | None = None
