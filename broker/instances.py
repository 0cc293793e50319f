"""The service instances the broker provisioned, one JSON file each under ``BROKER_STATE_DIR`` (written through a
temporary file, fsynced and renamed: a crash leaves the old content or the new), all read at start, so they
survive a restart. A file is named by the SHA-256 of the instance's id: a platform chooses ids freely."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any, Literal

from dataplane.files import write_private_file

State = Literal["in progress", "succeeded", "failed"]
_PREFIX, _SUFFIX = "instance-", ".json"


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


class InstanceStore:
    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._instances: dict[str, Instance] = {}

    def load(self) -> None:
        """Every instance file (``OSError`` when the directory cannot be made or read, ``ValueError`` naming a
        file that is not an instance)."""
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        for name in sorted(os.listdir(self.directory)):
            if not (name.startswith(_PREFIX) and name.endswith(_SUFFIX)):
                continue
            path = self.directory / name
            try:
                instance = Instance(**json.loads(path.read_bytes()))
            except (ValueError, TypeError) as error:
                raise ValueError(f"{path} is not a service instance: {error}") from None
            self._instances[instance.id] = instance

    def get(self, instance_id: str) -> Instance | None:
        return self._instances.get(instance_id)

    async def put(self, instance: Instance) -> None:
        """On disk, then in memory."""
        content = json.dumps(asdict(instance), sort_keys=True).encode()
        await asyncio.to_thread(write_private_file, self._path(instance.id), content)
        self._instances[instance.id] = instance

    async def remove(self, instance_id: str) -> None:
        await asyncio.to_thread(self._path(instance_id).unlink, missing_ok=True)
        self._instances.pop(instance_id, None)

    def _path(self, instance_id: str) -> Path:
        return self.directory / f"{_PREFIX}{hashlib.sha256(instance_id.encode()).hexdigest()}{_SUFFIX}"
