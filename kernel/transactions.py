"""A write (a Director mutation, the write a read triggers, a REST API write) that PostgreSQL aborted to break a
deadlock or a serialization conflict runs again.

The lock order of ``director.polling.revision`` keeps Director writes from deadlocking one another; this is the net
under it, for what an order cannot rule out. A write is one transaction (``DirectorContext.writing``,
``compass.adapter.transactions``), and an aborted transaction left nothing behind, so running it again from
scratch, on a fresh transaction, is safe by construction. It happens a bounded number of times, after a short random wait; then the caller gets
``TRANSACTION_CONFLICT``, which says that the same request may succeed when sent again.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from typing import Final, TypeVar

import structlog
from sqlalchemy.exc import DBAPIError

from kernel.errors import CompassError
from kernel.observability.metrics import TRANSACTION_RETRIES_TOTAL

log = structlog.get_logger("compass.transactions")
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
