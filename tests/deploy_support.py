"""Reading the manifests under deploy/ for the tests that check them against the settings and each other."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

DEPLOY = Path(__file__).resolve().parents[1] / "deploy"

Shipped = dict[str, list[dict[str, Any]]]  # kind → the documents of that kind


def documents(path: Path) -> list[dict[str, Any]]:
    return [item for item in yaml.safe_load_all(path.read_text(encoding="utf-8")) if item is not None]


def load(*paths: Path) -> Shipped:
    found: Shipped = {}
    for path in paths:
        for document in documents(path):
            found.setdefault(document["kind"], []).append(document)
    return found


def shipped_in(directory: str, *, leaving: tuple[str, ...] = ()) -> Shipped:
    """Every document of ``deploy/<directory>/*.yaml`` but the files named in ``leaving`` (examples)."""
    return load(*(path for path in sorted((DEPLOY / directory).glob("*.yaml")) if path.name not in leaving))


def only(shipped: Shipped, kind: str, namespace: str | None = None) -> dict[str, Any]:
    """The one document of ``kind`` (in ``namespace`` when given)."""
    [document] = [item for item in shipped[kind] if namespace in (None, item["metadata"].get("namespace"))]
    return document


def container(shipped: Shipped, name: str | None = None) -> dict[str, Any]:
    """The Deployment's one container (named ``name`` when given)."""
    [found] = only(shipped, "Deployment")["spec"]["template"]["spec"]["containers"]
    assert name in (None, found["name"])
    return found
