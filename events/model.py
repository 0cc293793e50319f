"""An event as the ingress stores and delivers it: a CloudEvent 1.0 (attributes, extensions, data as bytes).

Both ingress formats end here (legacy JSON is converted, CloudEvents are taken as they are), so the log, the
delivery and the sinks see one shape. ``to_json``/``from_json`` are the stored form.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Event:
    id: str
    source: str
    type: str
    specversion: str = "1.0"
    time: str | None = None
    datacontenttype: str | None = None
    dataschema: str | None = None
    subject: str | None = None
    extensions: Mapping[str, str] = field(default_factory=dict)
    data: bytes = b""

    def to_json(self) -> bytes:
        document: dict[str, Any] = {
            "id": self.id,
            "source": self.source,
            "type": self.type,
            "specversion": self.specversion,
            "extensions": dict(self.extensions),
            "data": base64.b64encode(self.data).decode("ascii"),
        }
        for name in ("time", "datacontenttype", "dataschema", "subject"):
            value = getattr(self, name)
            if value is not None:
                document[name] = value
        return json.dumps(document, separators=(",", ":"), sort_keys=True).encode()

    @classmethod
    def from_json(cls, raw: bytes) -> Event:
        document = json.loads(raw)
        return cls(
            id=document["id"],
            source=document["source"],
            type=document["type"],
            specversion=document.get("specversion", "1.0"),
            time=document.get("time"),
            datacontenttype=document.get("datacontenttype"),
            dataschema=document.get("dataschema"),
            subject=document.get("subject"),
            extensions=dict(document.get("extensions") or {}),
            data=base64.b64decode(document.get("data") or ""),
        )


@dataclass(frozen=True)
class StoredEvent:
    """An event at its place in the log: ``sequence`` grows by one per stored event, from 1."""

    sequence: int
    event: Event
    stored_at: float  # seconds since the epoch, when it was acknowledged


@dataclass(frozen=True)
class DeadLetter:
    subscription: str
    sequence: int
    event: Event
    attempts: int
    reason: str  # the last failure: the sink's status or the transport error
    dead_at: float
