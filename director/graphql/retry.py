"""Director mutations run again from scratch when PostgreSQL aborted their transaction (``kernel.transactions``)."""

from __future__ import annotations

from typing import Any

from strawberry import Info
from strawberry.extensions import FieldExtension
from strawberry.extensions.field_extension import AsyncExtensionResolver
from strawberry.types.base import StrawberryObjectDefinition

from kernel.transactions import run_again_on_conflict


class RetryTransactionConflicts(FieldExtension):
    """Runs a mutation resolver again, from scratch, when PostgreSQL aborted its transaction
    (``run_again_on_conflict``, ``Settings.transaction_attempts`` runs at most)."""

    async def resolve_async(self, next_: AsyncExtensionResolver, source: Any, info: Info, **kwargs: Any) -> Any:
        return await run_again_on_conflict(
            lambda: next_(source, info, **kwargs),
            attempts=info.context.settings.transaction_attempts,
            what=info.field_name,
            restart=info.context.restart,
        )


def retry_transaction_conflicts(mutation: type) -> type:
    """Puts ``RetryTransactionConflicts`` on every field of ``mutation``, innermost, so access checks run once."""
    definition: StrawberryObjectDefinition = mutation.__strawberry_definition__  # type: ignore[attr-defined]
    for field in definition.fields:
        field.extensions.insert(0, RetryTransactionConflicts())
    return mutation
