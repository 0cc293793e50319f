"""Watchers (what each runtime's admission webhook reports) and the watch events runtimes deliver.

Global watchers are the built-in ones (``director.watcher.builtin``) and those the platform operator adds with
``compass watchers create --global``; a tenant's operators add and delete the tenant's own. Every runtime of a
tenant reads the global watchers and its tenant's, and renders them into its webhook configuration.

A watch event is stored in one transaction with the pruning of its runtime's oldest events and the tags its
module's consumers name (``director.watcher.consumers``); it changes no runtime's view (no revision is bumped).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from director.polling.invalidation import changes
from director.watcher.builtin import BUILT_IN, BUILT_IN_IDS
from director.watcher.consumers import Consumers
from director.watcher.inputs import MAX_WATCH_EVENTS_PAGE, WatcherInput, WatchEventInput
from director.watcher.models import LABEL_LENGTH, SUBDOMAIN_LENGTH, Watcher, WatchEvent
from director.watcher.repository import WatcherRepository, WatchEventRepository
from kernel.changes import note
from kernel.errors import CompassError, ConflictError, InvalidInputError, NotFoundError
from kernel.models import utcnow

MAX_LABELS = 32
# A DNS label (RFC 1123), as Kubernetes names a module's service or a webhook's first segment.
_DNS_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
# Kubernetes' label syntax (apimachinery's IsQualifiedName, IsValidLabelValue): the API server refuses a whole
# webhook configuration over one bad selector, which would take every watcher of the runtime with it.
_LABEL_NAME = re.compile(r"[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?")
_DNS_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")


class WatcherLimitError(CompassError):
    code = "WATCHER_LIMIT_REACHED"
    http_status = 409


class GlobalWatcherError(CompassError):
    """A global watcher (built in, or the platform operator's) is deleted only by the platform operator."""

    code = "GLOBAL_WATCHER"
    http_status = 403


def _dns_label(value: str, what: str) -> str:
    if len(value) > LABEL_LENGTH or not _DNS_LABEL.fullmatch(value):
        raise InvalidInputError(
            f"{what} must be 1 to {LABEL_LENGTH} lower case letters, digits and -, starting and ending with a "
            f"letter or digit (got {value!r})"
        )
    return value


def _text(value: str, what: str, max_length: int, *, empty: bool = False) -> str:
    if (not value and not empty) or len(value) > max_length or any(character.isspace() for character in value):
        allowed = f"0 to {max_length}" if empty else f"1 to {max_length}"
        raise InvalidInputError(f"{what} must be {allowed} characters without spaces (got {value!r})")
    return value


def _labels(labels: dict[str, str] | None) -> dict[str, str] | None:
    """The object selector's matchLabels: string keys to string values, as Kubernetes takes them."""
    if labels is None:
        return None
    if len(labels) > MAX_LABELS:
        raise InvalidInputError(f"labelsToWatch may hold at most {MAX_LABELS} labels")
    for key, value in labels.items():
        if not isinstance(value, str):
            raise InvalidInputError(f"labelsToWatch must map strings to strings: {key!r} maps to {value!r}")
        prefix, slash, name = key.rpartition("/")
        prefixed_well = not slash or (len(prefix) <= SUBDOMAIN_LENGTH and _DNS_SUBDOMAIN.fullmatch(prefix))
        if not _LABEL_NAME.fullmatch(name) or not prefixed_well:
            raise InvalidInputError(
                f"a label key must be a Kubernetes label name, optionally prefixed by a DNS subdomain and / "
                f"(got {key!r})"
            )
        if value and not _LABEL_NAME.fullmatch(value):
            raise InvalidInputError(
                f"a label value must be empty or at most {LABEL_LENGTH} letters, digits, -, _ and ., starting and "
                f"ending with a letter or digit (got {value!r})"
            )
    return dict(labels)


async def _in_views_of(session: AsyncSession, repository: WatcherRepository, tenant_id: str | None) -> None:
    """Runtimes read their watchers in their (cached) view: a tenant's watcher changes every view of the tenant, a
    global one every tenant's."""
    if tenant_id is not None:
        await changes(session).tenant()
        return
    changes(session).outside_views()
    changes(session).other_tenants(await repository.tenant_ids())


def watch_events_page(first: int) -> int:
    if not 1 <= first <= MAX_WATCH_EVENTS_PAGE:
        raise InvalidInputError(f"first must be 1 to {MAX_WATCH_EVENTS_PAGE}")
    return first


class WatcherService:
    """``tenant_id`` None acts on the global watchers (the platform operator's CLI); a tenant's operators act on
    their tenant's, and read the global ones too."""

    async def visible(self, session: AsyncSession, tenant_id: str | None) -> list[Watcher]:
        """The built-in watchers, the other global ones, and the tenant's."""
        return [*BUILT_IN, *await WatcherRepository(session).visible_to(tenant_id)]

    async def create(
        self, session: AsyncSession, tenant_id: str | None, data: WatcherInput, *, limit: int
    ) -> Watcher:
        """``limit``: the owner's watchers at most (``COMPASS_MAX_WATCHERS``)."""
        repository = WatcherRepository(session)
        await _in_views_of(session, repository, tenant_id)
        name = _dns_label(data.name, "name")
        if name in BUILT_IN_IDS or await repository.name_taken(tenant_id, name):
            raise ConflictError(f"a watcher named {name!r} exists already")
        # Counted after the views were changed above: that write holds the tenant's row (every tenant's, for a
        # global watcher) until the commit, so two creations at once cannot both pass the count.
        if await repository.count(tenant_id) >= limit:
            owner = "global" if tenant_id is None else "this tenant's"
            raise WatcherLimitError(f"{owner} watchers number {limit} already (COMPASS_MAX_WATCHERS): delete one")
        watcher = Watcher(
            tenant_id=tenant_id,
            name=name,
            module=_dns_label(data.module, "module"),
            group=_text(data.group, "group", SUBDOMAIN_LENGTH, empty=True),
            version=_text(data.version, "version", LABEL_LENGTH),
            resource=_text(data.resource, "resource", SUBDOMAIN_LENGTH),
            labels=_labels(data.labels),
            field=data.field.value,
        )
        return await repository.add(watcher)

    async def delete(self, session: AsyncSession, tenant_id: str | None, watcher_id: str) -> Watcher:
        repository = WatcherRepository(session)
        await _in_views_of(session, repository, tenant_id)
        if watcher_id in BUILT_IN_IDS:
            raise GlobalWatcherError(f"watcher {watcher_id} is built in: it cannot be deleted")
        watcher = await repository.get(tenant_id, watcher_id)
        if watcher is None:
            if tenant_id is not None and await repository.is_global(watcher_id):
                raise GlobalWatcherError(
                    f"watcher {watcher_id} is global: the platform operator deletes it (`compass watchers delete`)"
                )
            raise NotFoundError(f"watcher {watcher_id} does not exist")
        await repository.delete(watcher)
        return watcher

    async def record(
        self,
        session: AsyncSession,
        tenant_id: str,
        runtime_id: str,
        data: WatchEventInput,
        *,
        kept: int,
        consumers: Consumers,
    ) -> WatchEvent:
        """Stores the runtime's event, keeps its ``kept`` newest, and names what the module's consumers say the
        event changes; all in the caller's transaction."""
        changes(session).outside_views()
        event = WatchEvent(
            tenant_id=tenant_id,
            runtime_id=runtime_id,
            module=_dns_label(data.module, "module"),
            namespace=_text(data.namespace, "watched.Namespace", LABEL_LENGTH, empty=True),
            name=_text(data.name, "watched.Name", SUBDOMAIN_LENGTH),
            group=_text(data.group, "watchedGvk.group", SUBDOMAIN_LENGTH, empty=True),
            version=_text(data.version, "watchedGvk.version", LABEL_LENGTH),
            kind=_text(data.kind, "watchedGvk.kind", LABEL_LENGTH),
            received_at=utcnow(),
        )
        repository = WatchEventRepository(session)
        await repository.add(event)
        await repository.keep_newest(runtime_id, kept)
        note(session, *consumers.tags(event))
        return event

    async def events(
        self, session: AsyncSession, tenant_id: str | None, runtime_ids: Sequence[str], first: int
    ) -> dict[str, list[WatchEvent]]:
        """The ``first`` newest events of each runtime, newest first (any tenant's when ``tenant_id`` is None:
        the operator's CLI)."""
        return await WatchEventRepository(session).newest(tenant_id, runtime_ids, watch_events_page(first))


watcher = WatcherService()
