"""Desired manifests vs the agent's own resources → the writes that make them equal, and no others.

Only owned resources are ever compared or deleted (a sink's ``list_owned``); matching is by kind and name. A
resource counts as changed when a part the agent sets differs: the top-level content it writes (``spec``, or
``type`` and ``data``), its ``apiVersion``, its namespace, the values of the labels it sets, and the annotations
it owns (``OWNED_ANNOTATIONS``: set or absent as the Director says). Other labels, annotations and fields others
add are not the agent's and never make a difference, so an unchanged view plans nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from agent.sinks.base import APPLICATION_KIND, SECRET_KIND, WEBHOOK_CONFIGURATION_KIND, Manifest, labels_of
from dataplane.names import PROXY_TIMEOUT_ANNOTATION

# Writes go Applications first (a Secret's ownerReference needs its Application's uid), deletes too (no live
# Application is ever left pointing at a deleted Secret); the watcher's webhook configuration last, once what
# it watches is in place.
KIND_ORDER = (APPLICATION_KIND, SECRET_KIND, WEBHOOK_CONFIGURATION_KIND)
_METADATA_KEYS = ("apiVersion", "kind", "metadata", "status")
# Annotations the agent writes from the Director's labels: a removed label must remove the annotation too.
OWNED_ANNOTATIONS = (PROXY_TIMEOUT_ANNOTATION,)


@dataclass
class SyncPlan:
    creates: list[Manifest] = field(default_factory=list)
    updates: list[Manifest] = field(default_factory=list)
    deletes: list[tuple[str, str]] = field(default_factory=list)  # (kind, name)

    @property
    def empty(self) -> bool:
        return not (self.creates or self.updates or self.deletes)

    def lines(self) -> list[str]:
        """The plan as a person reads it: ``create Application/mp-shop``, one line per write."""
        return (
            [f"create {_key(manifest)}" for manifest in self.creates]
            + [f"update {_key(manifest)}" for manifest in self.updates]
            + [f"delete {kind}/{name}" for kind, name in self.deletes]
        )


def _key(manifest: Manifest) -> str:
    return f"{manifest['kind']}/{manifest['metadata']['name']}"


def _kind_rank(kind: str) -> int:
    return KIND_ORDER.index(kind) if kind in KIND_ORDER else len(KIND_ORDER)


def owned_view(manifest: Manifest, like: Manifest) -> dict[str, Any]:
    """What of ``manifest`` the agent sets, judged by the keys and labels of the desired manifest ``like``."""
    metadata = manifest.get("metadata") or {}
    labels = labels_of(manifest)
    annotations = metadata.get("annotations") or {}
    return {
        "apiVersion": manifest.get("apiVersion"),
        "namespace": metadata.get("namespace"),
        "labels": {key: labels.get(key) for key in labels_of(like)},
        "annotations": {key: annotations.get(key) for key in OWNED_ANNOTATIONS},
        **{key: manifest.get(key) for key in like if key not in _METADATA_KEYS},
    }


def differs(desired: Manifest, existing: Manifest) -> bool:
    return owned_view(desired, desired) != owned_view(existing, desired)


def plan(desired: Iterable[Manifest], existing: Mapping[str, Mapping[str, Manifest]]) -> SyncPlan:
    """``existing`` maps kind → name → manifest of the owned resources of each kind."""
    result = SyncPlan()
    wanted: dict[str, set[str]] = {}
    for manifest in sorted(desired, key=lambda item: _kind_rank(item["kind"])):
        kind, name = manifest["kind"], manifest["metadata"]["name"]
        wanted.setdefault(kind, set()).add(name)
        current = existing.get(kind, {}).get(name)
        if current is None:
            result.creates.append(manifest)
        elif differs(manifest, current):
            result.updates.append(manifest)
    for kind in sorted(existing, key=_kind_rank):
        kept = wanted.get(kind, set())
        result.deletes.extend((kind, name) for name in sorted(existing[kind]) if name not in kept)
    return result
