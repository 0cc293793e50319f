"""A Subscription as Kyma's ``eventing.kyma-project.io/v1alpha2`` describes it, and which events it matches.

Matching (Kyma's JetStream backend, ``getJetStreamSubject``; docs: "Subscription" custom resource):

- ``typeMatching: standard`` (the default, as Kyma's defaulting webhook sets it): the source and the types are
  cleaned the way the ingress cleans them (events/types.py: the source keeps ASCII letters and digits, a type
  loses whitespace, ``>`` and ``*``) and the
  event's type must be ``<prefix>.<clean source>.<clean type>``; so ``order.created.v1`` from ``shop`` matches
  ``sap.kyma.custom.shop.order.created.v1``. ``source: ""`` (beyond Kyma, where it is required) matches that
  type from any application.
- ``typeMatching: exact``: the event's type must equal one of the types as written. A non-empty source must
  equal the event's source as written (EventMesh's reading; Kyma's JetStream backend ignores it there).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any
from urllib.parse import urlsplit

from events.model import Event
from events.types import clean_application, clean_type

GROUP = "eventing.kyma-project.io"
API_VERSION = f"{GROUP}/v1alpha2"
KIND = "Subscription"
DEFAULT_NAMESPACE = "default"
DEFAULT_TYPE_PREFIX = "sap.kyma.custom"


class UnusableSubscription(ValueError):
    """A Subscription manifest that cannot be used; the message names the field."""


class TypeMatching(StrEnum):
    STANDARD = "standard"
    EXACT = "exact"


Matcher = Callable[[Event], bool]


@dataclass(frozen=True)
class Subscription:
    namespace: str
    name: str
    sink: str
    source: str
    types: tuple[str, ...]
    type_matching: TypeMatching = TypeMatching.STANDARD

    @property
    def identity(self) -> str:
        """``namespace/name``: what its cursor and dead letters are kept under."""
        return f"{self.namespace}/{self.name}"

    def matcher(self, prefix: str = DEFAULT_TYPE_PREFIX) -> Matcher:
        """A test for events, built once: the full types it accepts are computed here, not per event."""
        if self.type_matching is TypeMatching.EXACT:
            exact = frozenset(self.types)
            source = self.source
            return lambda event: event.type in exact and (not source or event.source == source)
        cleaned = frozenset(clean_type(wanted) for wanted in self.types)
        if self.source:
            full = frozenset(f"{prefix}.{clean_application(self.source)}.{wanted}" for wanted in cleaned)
            return lambda event: event.type in full
        head = f"{prefix}."

        def from_any_source(event: Event) -> bool:
            if not event.type.startswith(head):
                return False
            application, _, rest = event.type[len(head) :].partition(".")
            return bool(application) and rest in cleaned

        return from_any_source


def subscription_from_manifest(manifest: Mapping[str, Any]) -> Subscription:
    if manifest.get("apiVersion") != API_VERSION:
        raise UnusableSubscription(f"apiVersion is not {API_VERSION}")
    metadata = _mapping(manifest.get("metadata"), "metadata")
    name = _text(metadata, "name", "metadata")
    if not name:
        raise UnusableSubscription("metadata.name is missing")
    spec = _mapping(manifest.get("spec"), "spec")
    sink = _text(spec, "sink", "spec")
    if urlsplit(sink).scheme not in {"http", "https"} or not urlsplit(sink).netloc:
        raise UnusableSubscription("spec.sink is not an http or https URL")
    types = spec.get("types")
    if not isinstance(types, list) or not types or not all(isinstance(item, str) and item for item in types):
        raise UnusableSubscription("spec.types is not a non-empty list of strings")
    matching = _text(spec, "typeMatching", "spec") or TypeMatching.STANDARD
    if matching not in set(TypeMatching):
        raise UnusableSubscription("spec.typeMatching is neither standard nor exact")
    return Subscription(
        namespace=_text(metadata, "namespace", "metadata") or DEFAULT_NAMESPACE,
        name=name,
        sink=sink,
        source=_text(spec, "source", "spec"),
        types=tuple(types),
        type_matching=TypeMatching(matching),
    )


def describes_subscription(document: object) -> bool:
    """A Subscription of Kyma's group, whichever version (an older one is then refused as unusable)."""
    return (
        isinstance(document, Mapping)
        and document.get("kind") == KIND
        and str(document.get("apiVersion", "")).startswith(f"{GROUP}/")
    )


def _mapping(value: object, where: str) -> Mapping[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise UnusableSubscription(f"{where} is not a mapping")
    return value


def _text(mapping: Mapping[str, Any], key: str, where: str) -> str:
    value = mapping.get(key)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise UnusableSubscription(f"{where}.{key} is not a string")
    return value
