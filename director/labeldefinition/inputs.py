"""The label definition domain's own inputs: what the GraphQL layer converts LabelDefinitionInput into."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class LabelDefinitionInput:
    """A label key and, optionally, the JSON schema (as text) its values must match."""

    key: str
    schema: str | None = None
