"""What a TokenRequest is to the agent, and what a store of them does."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Hashable
from dataclasses import dataclass
from typing import Any, Protocol

from agent.sinks.base import APPLICATION_API_VERSION, Manifest

TOKEN_REQUEST_KIND = "TokenRequest"
TOKEN_REQUEST_API_VERSION = APPLICATION_API_VERSION  # applicationconnector.kyma-project.io/v1alpha1
TOKEN_REQUEST_PLURAL = "tokenrequests"
DEFAULT_NAMESPACE = "default"  # of a TokenRequest file without one, as kubectl would create it

STATE_OK = "OK"
STATE_ERROR = "Error"  # Kyma's TokenRequestStateERR


@dataclass(frozen=True)
class TokenRequest:
    """One TokenRequest as the store read it: ``manifest`` is the whole object (its ``status`` and, in
    Kubernetes, its resourceVersion and uid included), ``origin`` what else the store needs to write it back
    only if it is still this version (the directory store's file path and bytes), ``version`` what changes
    whenever the object does (uid and resourceVersion; the file's bytes)."""

    namespace: str
    name: str
    manifest: Manifest
    version: Hashable
    origin: Any = None

    @property
    def status(self) -> dict[str, Any]:
        status = self.manifest.get("status")
        return status if isinstance(status, dict) else {}

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.name}"


class TokenRequestStore(Protocol):
    async def current(self) -> list[TokenRequest]:
        """Every TokenRequest there is now."""
        ...

    async def write_status(self, request: TokenRequest, status: dict[str, Any]) -> bool:
        """Replaces the request's ``status`` (nothing else), durably; False when the request changed or went
        since it was read (it is looked at again at the next reconcile)."""
        ...

    async def mapped(self, request: TokenRequest) -> bool:
        """Whether the request's namespace has an ApplicationMapping of the application it names (the broker's
        rule: the namespace may use the application); ``AgentError`` when that cannot be told."""
        ...

    async def delete(self, request: TokenRequest) -> None:
        """Removes the request if it is still the version read; a missing one is not an error."""
        ...

    def changes(self) -> AsyncGenerator[None]:
        """Yields at once, then whenever TokenRequests may have been created or changed."""
        ...

    async def aclose(self) -> None: ...
