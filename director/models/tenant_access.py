from __future__ import annotations

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from kernel.models import Base

# Compass's TenantAccessObjectType: the objects a tenant can be given access to.
RESOURCE_TYPES = ("APPLICATION", "RUNTIME", "RUNTIME_CONTEXT")


class TenantAccess(Base):
    """A tenant's access to an object of another tenant: Compass's ``tenant_applications``, ``tenant_runtimes``
    and ``tenant_runtime_contexts`` in one table.

    As in Compass, a grant to a tenant reaches its parents too: one row per tenant on the way up, each naming as
    ``source`` the tenant the grant was given to, so that revoking it removes exactly the rows it made.
    """

    __tablename__ = "tenant_access"
    __table_args__ = (Index("ix_tenant_access_resource", "resource_type", "resource_id"),)

    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), primary_key=True)
    resource_type: Mapped[str] = mapped_column(String(32), primary_key=True)
    resource_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    source: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), primary_key=True)
    # An owner may change and delete the object; any grant lets the tenant read it.
    owner: Mapped[bool] = mapped_column(default=False)
