"""Who acts on a module's watch events, in the process that received them (Kyma's listener hands each event to
the one component that registered for its module).

A consumer acts in two places: ``tags`` are named in the transaction that stores the event (``kernel.changes``),
so every process hears of them at the commit, through the same notifications that drop kept answers and wake
runtimes' change streams; ``received`` runs after the commit, in the receiving process only. A consumer's
failure is logged: the runtime's watcher was already answered, and its event is stored.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Protocol

import structlog

from director.watcher.builtin import AGENT_MODULE
from director.watcher.models import WatchEvent
from kernel.changes import runtime_view

log = structlog.get_logger("director.watcher")


class Consumer(Protocol):
    def tags(self, event: WatchEvent) -> Iterable[str]:
        """What the event changes, named in the transaction that stores it."""
        ...

    async def received(self, event: WatchEvent) -> None:
        """After the commit, in the process that received the event."""
        ...


class RuntimeAgentResync:
    """Events about what a runtime's agent owns make that agent sync now. The runtime's view is named changed
    without bumping its revision: its open change stream (``director.polling.push``) says ``changed``, the agent
    syncs with If-None-Match, gets 304, and still compares its sink with the answer it holds and repairs it
    (agent/sync.py). An agent without a stream repairs at its next period."""

    def tags(self, event: WatchEvent) -> Iterable[str]:
        return (runtime_view(event.runtime_id),)

    async def received(self, event: WatchEvent) -> None:
        log.info(
            "runtime_resync_requested",
            runtime_id=event.runtime_id,
            kind=event.kind,
            namespace=event.namespace,
            name=event.name,
        )


class Consumers:
    """The registry: module -> its consumers."""

    def __init__(self, registered: Mapping[str, Sequence[Consumer]]) -> None:
        self._by_module = {module: tuple(consumers) for module, consumers in registered.items()}

    def of(self, module: str) -> tuple[Consumer, ...]:
        return self._by_module.get(module, ())

    @property
    def modules(self) -> frozenset[str]:
        return frozenset(self._by_module)

    def tags(self, event: WatchEvent) -> set[str]:
        return {tag for consumer in self.of(event.module) for tag in consumer.tags(event)}

    async def dispatch(self, event: WatchEvent) -> None:
        for consumer in self.of(event.module):
            try:
                await consumer.received(event)
            except Exception:  # one consumer's failure neither reaches the runtime nor stops the others
                log.exception("watch_event_consumer_failed", module=event.module, consumer=type(consumer).__name__)


def built_in_consumers() -> Consumers:
    return Consumers({AGENT_MODULE: [RuntimeAgentResync()]})
