from __future__ import annotations

import strawberry


@strawberry.type(description="Where the application sends its events: its default runtime's event ingress.")
class ApplicationEventingConfiguration:
    default_url: str = strawberry.field(name="defaultURL")


@strawberry.type(description="Where the runtime's event ingress listens (its runtime_eventServiceUrl label).")
class RuntimeEventingConfiguration:
    default_url: str = strawberry.field(name="defaultURL")
