"""What registerIntegrationSystem and updateIntegrationSystem accept."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class IntegrationSystemInput:
    name: str
    description: str | None = None
