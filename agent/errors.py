"""The agent's exceptions: one root, a ``reason`` for a status or a log, and the Director's code if any."""

from __future__ import annotations


class AgentError(Exception):
    """Root of every error the agent raises on purpose."""

    def __init__(self, reason: str, *, code: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.code = code


class DirectorError(AgentError):
    """A call to the Director failed: unreachable, timed out, refused, or answered with GraphQL errors.

    ``code`` is the first ``extensions.code`` of the answer's errors (e.g. ``FORBIDDEN``,
    ``CERTIFICATE_REVOKED``), or None when there was no GraphQL answer.
    """


class SyncFailed(DirectorError):
    """Fetching the applications failed; nothing was applied (the ``SynchronizationFailed`` state)."""


class SinkError(AgentError):
    """A sink could not read or write a resource."""


class ApplyFailed(AgentError):
    """The sink failed midway through a sync (the ``ResourceApplicationFailed`` state).

    ``applied`` lists what was written before the failure as ``"<verb> <Kind>/<name>"``, ``failed`` the write
    that failed in the same form (None when reading the sink failed before any write).
    """

    def __init__(
        self,
        reason: str,
        *,
        applied: list[str] | None = None,
        failed: str | None = None,
        code: str | None = None,
    ) -> None:
        super().__init__(reason, code=code)
        self.applied = list(applied or [])
        self.failed = failed


class ResourceConflict(SinkError):
    """A resource of the wanted name exists but is not the agent's; it is left as it is."""
