"""The service instances the broker provisioned, kept under ``BROKER_STATE_DIR`` (``broker.records``)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal

from broker.records import RecordStore

State = Literal["in progress", "succeeded", "failed"]


@dataclass(frozen=True)
class Instance:
    id: str
    namespace: str
    service_id: str
    plan_id: str
    parameters: Any
    operation: str
    state: State
    # The Director's bundle instance auth, once it answered the request for it.
    auth_id: str | None = None
    description: str | None = None

    def same_request(self, namespace: str, service_id: str, plan_id: str, parameters: Any) -> bool:
        """What OSB calls identical attributes: a repeated provision is answered as the first was."""
        return (self.namespace, self.service_id, self.plan_id, self.parameters) == (
            namespace,
            service_id,
            plan_id,
            parameters,
        )

    def settled(self, state: State, description: str) -> Instance:
        return replace(self, state=state, description=description)


class InstanceStore(RecordStore[Instance]):
    def __init__(self, directory: Path) -> None:
        super().__init__(directory, Instance, "instance-")
