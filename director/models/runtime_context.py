from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from kernel.models import Base, IdMixin, TenantOwned, utcnow

# Compass's column sizes (its key is also checked against ^[a-zA-Z0-9_]*$).
KEY_MAX_LENGTH = 512
VALUE_MAX_LENGTH = 512


class RuntimeContext(IdMixin, TenantOwned, Base):
    """A context of one runtime (Compass: e.g. a subscription, key ``subscription``, value the consumer tenant);
    it can be assigned to formations itself, its ``scenarios`` label being the stored truth as for runtimes."""

    __tablename__ = "runtime_contexts"

    runtime_id: Mapped[str] = mapped_column(ForeignKey("runtimes.id", ondelete="CASCADE"), index=True)
    key: Mapped[str] = mapped_column(String(KEY_MAX_LENGTH))
    value: Mapped[str] = mapped_column(String(VALUE_MAX_LENGTH))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
