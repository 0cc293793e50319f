"""The integration dependency domain's own inputs: what the GraphQL layer converts its inputs into."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from director.bundle.inputs import VersionInput


@dataclass(frozen=True)
class AspectAPIDefinitionInput:
    ord_id: str


@dataclass(frozen=True)
class AspectEventDefinitionSubsetInput:
    event_type: str | None = None


@dataclass(frozen=True)
class AspectEventDefinitionInput:
    ord_id: str
    subset: tuple[AspectEventDefinitionSubsetInput | None, ...] | None = None


@dataclass(frozen=True)
class AspectInput:
    name: str
    description: str | None = None
    mandatory: bool | None = None
    api_resources: tuple[AspectAPIDefinitionInput, ...] | None = None
    event_resources: tuple[AspectEventDefinitionInput, ...] | None = None


@dataclass(frozen=True)
class IntegrationDependencyInput:
    """``labels`` maps keys to JSON values, kept on the dependency (not as Director labels)."""

    name: str
    ord_id: str
    description: str | None = None
    part_of_package: str | None = None
    visibility: str | None = None
    release_status: str | None = None
    mandatory: bool | None = None
    aspects: tuple[AspectInput, ...] | None = None
    version: VersionInput | None = None
    labels: dict[str, Any] | None = None
