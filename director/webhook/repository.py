from __future__ import annotations

from director.models import Webhook
from director.repository import TenantScopedRepository


class WebhookRepository(TenantScopedRepository[Webhook]):
    model = Webhook
