"""The bindings the broker made, kept under ``BROKER_STATE_DIR`` beside the instances (``broker.records``): the
credentials handed to the workload are kept with them, so a repeated bind and a fetch answer what the first bind
answered."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from broker.records import RecordStore


@dataclass(frozen=True)
class Binding:
    id: str
    namespace: str
    instance_id: str
    service_id: str
    plan_id: str
    credentials: dict[str, Any]

    def same_request(self, namespace: str, instance_id: str, service_id: str, plan_id: str) -> bool:
        """OSB's identical attributes (a binding takes no parameters)."""
        return (self.namespace, self.instance_id, self.service_id, self.plan_id) == (
            namespace,
            instance_id,
            service_id,
            plan_id,
        )


class BindingStore(RecordStore[Binding]):
    def __init__(self, directory: Path) -> None:
        super().__init__(directory, Binding, "binding-")
