"""The global watchers every runtime has: what the agent owns, reported so that a hand-made change to it is
repaired at once (the consumer in ``director.watcher.consumers``). They live in code, not in the database, so
they cannot be deleted; their ids are fixed."""

from __future__ import annotations

from datetime import UTC, datetime

from director.watcher.inputs import WatchedField
from director.watcher.models import Watcher

AGENT_MODULE = "compass-runtime-agent"
# The label the agent puts on every Application it writes (agent/sinks/base.py's OWNERSHIP_LABEL).
AGENT_OWNED = {"applicationconnector.kyma-project.io/managed-by": AGENT_MODULE}
_SINCE = datetime(2026, 12, 7, tzinfo=UTC)


def _built_in(name: str, group: str, resource: str, labels: dict[str, str] | None) -> Watcher:
    return Watcher(
        id=name,
        tenant_id=None,
        name=name,
        module=AGENT_MODULE,
        group=group,
        version="v1alpha1",
        resource=resource,
        labels=labels,
        field=WatchedField.SPEC.value,
        created_at=_SINCE,
    )


BUILT_IN: tuple[Watcher, ...] = (
    _built_in("compass-runtime-agent-applications", "applicationconnector.kyma-project.io", "applications", AGENT_OWNED),
    _built_in("compass-runtime-agent-compassconnections", "compass.kyma-project.io", "compassconnections", None),
)
BUILT_IN_IDS = frozenset(watcher.id for watcher in BUILT_IN)
