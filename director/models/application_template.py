from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import String, Text
from sqlalchemy.orm import Mapped, mapped_column

from kernel.models import Base, IdMixin, PortableJSON, utcnow


class ApplicationTemplate(IdMixin, Base):
    """Global, as in Compass: every tenant reads the same templates; what one registers from a template is an
    application of its own tenant."""

    __tablename__ = "application_templates"

    name: Mapped[str] = mapped_column(String(100), index=True)
    description: Mapped[str | None] = mapped_column(Text)
    application_namespace: Mapped[str | None] = mapped_column(String(256))
    # The ApplicationJSONInput as a JSON object with Compass's field names; ``{{placeholder}}`` in its strings.
    application_input: Mapped[dict[str, Any]] = mapped_column(PortableJSON)
    # [{name, description, jsonPath, optional}], in the order given.
    placeholders: Mapped[list[dict[str, Any]]] = mapped_column(PortableJSON, default=list)
    access_level: Mapped[str] = mapped_column(String(16), default="GLOBAL")
    # The template's labels as one object, like formation templates': they are global and filtered in memory.
    labels: Mapped[dict[str, Any]] = mapped_column(PortableJSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
