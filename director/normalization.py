"""Kubernetes-safe names for runtimes labelled ``isNormalized: "true"``, exactly as Compass forms them."""

from __future__ import annotations

import re

IS_NORMALIZED_LABEL = "isNormalized"
_NOT_ALLOWED = re.compile(r"[^-a-z0-9]")
_HYPHEN_RUNS = re.compile(r"-{2,}")


def normalize_name(name: str) -> str:
    normalized = _NOT_ALLOWED.sub("-", f"mp-{name}".lower())
    return _HYPHEN_RUNS.sub("-", normalized).removesuffix("-")
