"""Kubernetes-safe names for runtimes labelled ``isNormalized: "true"``, exactly as Compass forms them."""

from __future__ import annotations

import re

IS_NORMALIZED_LABEL = "isNormalized"
PREFIX = "mp-"
# Names are at most 256 characters (validation.require_name); normalizing adds the prefix, and maps each
# character to one ("İ" included), so this bounds every normalized name.
NORMALIZED_NAME_MAX_LENGTH = 256 + len(PREFIX)
_NOT_ALLOWED = re.compile(r"[^-a-z0-9]")
_HYPHEN_RUNS = re.compile(r"-{2,}")


def _normalize(name: str) -> str:
    # Go's strings.ToLower maps rune by rune: "İ" becomes "i", where Python's lower() gives "i̇" (two
    # characters, the second then a "-"). It is the only character whose lower case differs between the two.
    lowered = name.replace("\u0130", "i").lower()
    return _HYPHEN_RUNS.sub("-", _NOT_ALLOWED.sub("-", lowered)).removesuffix("-")


def normalize_name(name: str) -> str:
    """``mp-`` + the name, lower case, ``[^-a-z0-9]`` → ``-``, runs of ``-`` collapsed, no trailing ``-``.

    As in Compass (``pkg/normalizer``), a name already normalized is kept: ``mp-shop`` stays ``mp-shop``.
    """
    if name.startswith(PREFIX) and _normalize(name) == name:
        return name
    return _normalize(PREFIX + name)
