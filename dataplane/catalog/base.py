"""What a catalog is, whichever source feeds it."""

from __future__ import annotations

from typing import Protocol

from dataplane.catalog.model import Application, ApplicationMapping, SecretData


class CatalogError(Exception):
    """The source could not be read (a file unreadable, the API server unreachable): not "there is none"."""


class Catalog(Protocol):
    """Applications by name and Secrets by name (in the one namespace the agent writes them to).

    Lookups are synchronous and cheap: the directory catalog checks a file's identity per lookup (one ``stat``)
    and re-reads only a changed file, the Kubernetes catalog answers from what its watch keeps in memory. So a
    change the agent writes is seen by the next lookup (Kubernetes: once its watch event arrived).
    """

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    @property
    def ready(self) -> bool:
        """True once lookups answer from the whole source (Kubernetes: the first list is in)."""
        ...

    def application(self, name: str) -> Application | None:
        """None when there is none of that name (or the name cannot be a resource name); CatalogError when
        the source cannot tell."""
        ...

    def secret(self, name: str) -> SecretData | None: ...


class ApplicationMappings(Protocol):
    """The ApplicationMappings of every namespace: which Applications are offered where (the broker's catalog)."""

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    @property
    def ready(self) -> bool: ...

    def in_namespace(self, namespace: str) -> tuple[ApplicationMapping, ...]:
        """The namespace's mappings by name; ``CatalogError`` when the source cannot tell."""
        ...
