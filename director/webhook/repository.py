from __future__ import annotations

from director.models import Webhook
from kernel.repository import TenantScopedRepository


class WebhookRepository(TenantScopedRepository[Webhook]):
    model = Webhook
    noun = "webhook"
