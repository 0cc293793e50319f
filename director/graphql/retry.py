"""A Director mutation (or the write a read triggers) that PostgreSQL aborted to break a deadlock or a
serialization conflict runs again.

The lock order of ``director.polling.revision`` keeps Director writes from deadlocking one another; this is the net
under it, for what an order cannot rule out. A mutation is one transaction (``DirectorContext.writing``), and an
aborted transaction left nothing behind, so running the resolver again from scratch, on a fresh transaction, is
safe by construction. It happens a bounded number of times, after a short random wait; then the caller gets
``TRANSACTION_CONFLICT``, which says that the same request may succeed when sent again.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from typing import Any, Final, TypeVar

import structlog
from sqlalchemy.exc import DBAPIError
from strawberry import Info
from strawberry.extensions import FieldExtension
from strawberry.extensions.field_extension import AsyncExtensionResolver
from strawberry.types.base import StrawberryObjectDefinition

from kernel.errors import CompassError
from kernel.observability.metrics import TRANSACTION_RETRIES_TOTAL

log = structlog.get_logger("compass.graphql")
T = TypeVar("T")

#: PostgreSQL's SQLSTATEs of an aborted transaction that may succeed when run again.
_RETRYABLE: Final = {"40001": "serialization", "40P01": "deadlock"}
FIRST_WAIT_SECONDS: Final = 0.01
MAX_WAIT_SECONDS: Final = 0.2


class TransactionConflictError(CompassError):
    code = "TRANSACTION_CONFLICT"
    http_status = 409


def conflict_reason(error: BaseException) -> str | None:
    """``deadlock`` or ``serialization`` when ``error`` is PostgreSQL aborting the transaction for that, else None."""
    if not isinstance(error, DBAPIError):
        return None
    return _RETRYABLE.get(str(getattr(error.orig, "sqlstate", None)))


async def run_again_on_conflict(
    run: Callable[[], Awaitable[T]],
    *,
    attempts: int,
    what: str,
    restart: Callable[[], Awaitable[None]] | None = None,
) -> T:
    """``run()``, one transaction, again from scratch (after ``restart()``) while PostgreSQL aborts it as a
    deadlock victim or for a serialization failure: at most ``attempts`` runs, with a jittered exponential wait
    between them; then ``TRANSACTION_CONFLICT``. ``what`` names the write in the logs."""
    attempt = 1
    while True:
        try:
            return await run()
        except DBAPIError as error:
            reason = conflict_reason(error)
            if reason is None:
                raise
            if attempt >= attempts:
                log.warning("transaction_conflict", field=what, reason=reason, attempts=attempts)
                raise TransactionConflictError(
                    f"the write was rolled back {attempts} time(s) to break a {reason} with concurrent writes; "
                    "send it again"
                ) from error
            TRANSACTION_RETRIES_TOTAL.labels(reason=reason).inc()
            log.info("transaction_retried", field=what, reason=reason, attempt=attempt)
        if restart is not None:
            await restart()
        # Full jitter: writers that collided must not collide again in step.
        await asyncio.sleep(random.uniform(0, min(MAX_WAIT_SECONDS, FIRST_WAIT_SECONDS * 2**attempt)))  # noqa: S311
        attempt += 1


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
