"""The runtime context domain's own inputs: what the GraphQL layer converts ``RuntimeContextInput`` into."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class RuntimeContextInput:
    key: str
    value: str
