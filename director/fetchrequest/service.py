"""Specs and documents fetched from a URL (Compass's fetch requests).

The fetch is network I/O of unknown length, so it never runs inside a unit of work (a held transaction, and on
SQLite the one write lock, would stall every other writer meanwhile). ``prefetch`` runs first, on the input
alone: it fetches every spec or document that comes with a fetch request and without data, and attaches the
outcome to its ``FetchRequestInput`` (``fetched``). The write then stores the outcome like any other input
(``record``, ``data_of``). A refetch reads the fetch request in a read session, fetches, and writes the outcome
in a unit of work that first checks that the fetch request is still the one fetched.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Iterator, Sequence
from enum import Enum
from typing import Any, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from director.bundle.auth import auth_record
from director.bundle.inputs import FetchedSpec, FetchMode, FetchRequestInput, FetchRequestStatusCondition
from director.fetchrequest.fetcher import FetchPolicy, fetch_spec
from director.fetchrequest.repository import FetchRequestRepository
from director.models import FetchRequest
from director.validation import optional_text, require_url
from kernel.errors import InvalidInputError
from kernel.models import utcnow
from kernel.settings import Settings

T = TypeVar("T")
# Compass's limit of the fetch request's URL and filter.
MAX_LENGTH = 256
# Fetches of one input that run at once (a bundle may bring up to 100 specs).
CONCURRENT_FETCHES = 8


class Owner(Enum):
    """What a fetch request belongs to: the value is its column in ``fetch_requests``."""

    API_DEFINITION = "api_definition_id"
    EVENT_DEFINITION = "event_definition_id"
    DOCUMENT = "document_id"


@dataclasses.dataclass(frozen=True)
class _Checked:
    url: str
    auth: dict[str, Any] | None
    mode: FetchMode
    filter: str | None


def _checked(request: FetchRequestInput) -> _Checked:
    """Compass's validation of ``FetchRequestInput``: a URL and a filter of at most 256 characters."""
    url = require_url(request.url, "fetchRequest.url")
    if len(url) > MAX_LENGTH:
        raise InvalidInputError(f"fetchRequest.url must be at most {MAX_LENGTH} characters")
    if request.filter == "":
        raise InvalidInputError("fetchRequest.filter must not be empty")
    return _Checked(
        url=url,
        auth=auth_record(request.auth, "fetchRequest.auth"),
        mode=request.mode or FetchMode.SINGLE,
        filter=optional_text(request.filter, "fetchRequest.filter", max_length=MAX_LENGTH),
    )


async def _fetch(
    policy: FetchPolicy, url: str, auth: dict[str, Any] | None, mode: str, spec_filter: str | None
) -> FetchedSpec:
    """Compass fetches in SINGLE mode without a filter only; the others stay INITIAL, saying why."""
    if mode != FetchMode.SINGLE.value:
        return FetchedSpec(
            FetchRequestStatusCondition.INITIAL, utcnow(), message=f"Unsupported fetch mode: {mode}"
        )
    if spec_filter is not None:
        message = "Filter for Fetch Request was provided, currently it's unsupported"
        return FetchedSpec(FetchRequestStatusCondition.INITIAL, utcnow(), message=message)
    return await fetch_spec(policy, url, auth)


def _pending(value: object) -> Iterator[FetchRequestInput]:
    """The fetch requests in ``value`` (any service input) of specs and documents that come without data."""
    if isinstance(value, FetchRequestInput):
        return
    if isinstance(value, tuple | list):
        for item in value:
            yield from _pending(item)
    elif dataclasses.is_dataclass(value) and not isinstance(value, type):
        request = getattr(value, "fetch_request", None)
        if (
            isinstance(request, FetchRequestInput)
            and getattr(value, "data", None) is None
            and request.fetched is None
        ):
            yield request
        for field in dataclasses.fields(value):
            yield from _pending(getattr(value, field.name))


def _attached(value: T, outcomes: dict[int, FetchedSpec]) -> T:
    """``value`` with each fetched request's outcome attached; unchanged parts are the same objects."""
    if isinstance(value, FetchRequestInput):
        outcome = outcomes.get(id(value))
        return dataclasses.replace(value, fetched=outcome) if outcome is not None else value
    if isinstance(value, tuple | list):
        items = [_attached(item, outcomes) for item in value]
        changed = any(new is not old for new, old in zip(items, value, strict=True))
        return type(value)(items) if changed else value
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        fields = {field.name: getattr(value, field.name) for field in dataclasses.fields(value) if field.init}
        changes = {name: new for name, old in fields.items() if (new := _attached(old, outcomes)) is not old}
        return dataclasses.replace(value, **changes) if changes else value
    return value


class FetchRequestService:
    async def prefetch(self, settings: Settings, data: T) -> T:
        """``data`` with every spec or document that has a fetch request and no data fetched (before the unit of
        work that writes it opens). The fetch requests are checked first: a bad one refuses the input unfetched."""
        pending = list(_pending(data))
        if not pending:
            return data
        checked = [_checked(request) for request in pending]
        policy = FetchPolicy.of(settings)
        limit = asyncio.Semaphore(CONCURRENT_FETCHES)

        async def fetch(request: _Checked) -> FetchedSpec:
            async with limit:
                return await _fetch(policy, request.url, request.auth, request.mode.value, request.filter)

        outcomes = await asyncio.gather(*(fetch(request) for request in checked))
        return _attached(
            data, {id(request): outcome for request, outcome in zip(pending, outcomes, strict=True)}
        )

    async def refetch(self, settings: Settings, request: FetchRequest) -> FetchedSpec:
        return await _fetch(FetchPolicy.of(settings), request.url, request.auth, request.mode, request.filter)

    @staticmethod
    def data_of(data: str | None, request: FetchRequestInput | None) -> str | None:
        """A spec's or document's data: given, or fetched (none when the fetch failed or did not run)."""
        if data is not None or request is None or request.fetched is None:
            return data
        return request.fetched.data

    async def record(
        self,
        session: AsyncSession,
        tenant_id: str,
        owner: Owner,
        owner_id: str,
        request: FetchRequestInput | None,
        *,
        replacing: bool = True,
    ) -> None:
        """The owner's fetch request replaced by ``request`` (none: removed), with the outcome of its fetch, or
        INITIAL when it was not fetched; ``replacing=False`` for a new owner, which has none yet."""
        repository = FetchRequestRepository(session)
        if replacing:
            await repository.delete_of_owner(tenant_id, owner.value, owner_id)
        if request is None:
            return
        checked = _checked(request)
        outcome = request.fetched or FetchedSpec(FetchRequestStatusCondition.INITIAL, utcnow())
        row = FetchRequest(
            tenant_id=tenant_id,
            url=checked.url,
            auth=checked.auth,
            mode=checked.mode.value,
            filter=checked.filter,
            status_condition=outcome.condition.value,
            status_message=outcome.message,
            status_timestamp=outcome.timestamp,
        )
        setattr(row, owner.value, owner_id)
        await repository.add(row)

    async def of_owner(
        self, session: AsyncSession, tenant_id: str, owner: Owner, owner_id: str
    ) -> FetchRequest | None:
        return await FetchRequestRepository(session).of_owner(tenant_id, owner.value, owner_id)

    async def store_refetched(
        self,
        session: AsyncSession,
        tenant_id: str,
        owner: Owner,
        owner_id: str,
        *,
        request_id: str,
        fetched: FetchedSpec,
    ) -> bool:
        """The outcome of a refetch recorded, if the owner's fetch request is still the one fetched (an update
        meanwhile replaced it, and stored its own fetch)."""
        current = await self.of_owner(session, tenant_id, owner, owner_id)
        if current is None or current.id != request_id:
            return False
        current.status_condition = fetched.condition.value
        current.status_message = fetched.message
        current.status_timestamp = fetched.timestamp
        await session.flush()
        return True

    # Batch reads for the DataLoaders.

    async def by_api_definitions(
        self, session: AsyncSession, tenant_id: str, ids: Sequence[str]
    ) -> dict[str, FetchRequest]:
        return await FetchRequestRepository(session).by_owners(tenant_id, Owner.API_DEFINITION.value, ids)

    async def by_event_definitions(
        self, session: AsyncSession, tenant_id: str, ids: Sequence[str]
    ) -> dict[str, FetchRequest]:
        return await FetchRequestRepository(session).by_owners(tenant_id, Owner.EVENT_DEFINITION.value, ids)

    async def by_documents(
        self, session: AsyncSession, tenant_id: str, ids: Sequence[str]
    ) -> dict[str, FetchRequest]:
        return await FetchRequestRepository(session).by_owners(tenant_id, Owner.DOCUMENT.value, ids)


fetch_request = FetchRequestService()
