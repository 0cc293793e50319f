"""The event the watcher sends to the control plane: one watched object's change.

``body`` is the control plane's v2 wire format (Kyma's runtime-watcher listener: ``watched`` is a Go
``NamespacedName``, hence the capitalised keys); ``to_json`` is the spool's record, which also keeps the module the
event is posted for (it is in the URL, not the body).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields
from typing import Any


class DamagedRecord(ValueError):
    """A spool record that is not a complete event."""


@dataclass(frozen=True)
class WatchEvent:
    module: str
    namespace: str
    name: str
    group: str
    version: str
    kind: str

    def body(self) -> bytes:
        """The JSON posted to ``/v2/<module>/event``, compact."""
        return _compact(
            {
                "watched": {"Namespace": self.namespace, "Name": self.name},
                "watchedGvk": {"group": self.group, "version": self.version, "kind": self.kind},
            }
        )

    def to_json(self) -> bytes:
        return _compact(asdict(self))

    @classmethod
    def from_json(cls, data: bytes) -> WatchEvent:
        """Raises ``ValueError`` (``DamagedRecord`` or a JSON error) for a record that is not a complete event."""
        record = json.loads(data)
        if not isinstance(record, dict):
            raise DamagedRecord("a watch event record must be a JSON object")
        values: dict[str, Any] = {}
        for field in fields(cls):
            value = record.get(field.name)
            if not isinstance(value, str):
                raise DamagedRecord(f"a watch event record needs the string field {field.name!r}")
            values[field.name] = value
        return cls(**values)


def _compact(value: object) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()
