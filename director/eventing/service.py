"""Eventing configuration, as Compass has it (``internal/domain/eventing/service.go``): where an application sends
its events, namely the event ingress of its default runtime.

The default runtime is the one labelled ``<applicationID>_defaultEventing``, if it still shares a formation with
the application; else the oldest runtime that does, which is then labelled (so a runtime joining later does not
take over). Reading the configuration may therefore write: ``for_applications`` reads and says what is
``pending``, ``settle`` writes it in a unit of work of its own.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlsplit

from sqlalchemy.ext.asyncio import AsyncSession

from director.application.repository import ApplicationRepository
from director.eventing.labels import RUNTIME_EVENTING_URL_LABEL, default_eventing_label
from director.eventing.repository import EventingRepository
from director.label.repository import LabelledKind, LabelRepository
from director.models import SCENARIOS, Application
from director.normalization import IS_NORMALIZED_LABEL, normalize_name
from director.polling.invalidation import changes
from director.runtime.repository import RuntimeRepository
from kernel.errors import CompassError, ConflictError, InvalidInputError

EMPTY_URL = ""
# Compass: ``https://<host of runtime_eventServiceUrl>/<appName>/v1/events`` (``model.ApplicationEventingURLScheme``).
APPLICATION_EVENTS_PATH = "/v1/events"
# Characters Go's url.URL.String() leaves unescaped in a path segment.
_PATH_SAFE = "$&+,:;=@"
_RUNTIME_LABELS = (RUNTIME_EVENTING_URL_LABEL, IS_NORMALIZED_LABEL)


class InvalidEventingLabelError(CompassError):
    """A label eventing reads holds something it cannot use (set by hand); the message names it."""

    code = "INVALID_EVENTING_LABEL"
    http_status = 500


@dataclass(frozen=True)
class ApplicationEventing:
    default_url: str
    # The labels do not yet say what the answer was computed from: ``settle`` writes them.
    pending: bool = False


@dataclass(frozen=True)
class _Choice:
    runtime_id: str | None  # the default runtime, or None: no runtime shares a formation
    label: str | None = None  # a runtime to label as the default
    unlabel: str | None = None  # a labelled runtime that no longer shares a formation

    @property
    def pending(self) -> bool:
        return self.label is not None or self.unlabel is not None


def _touched(chosen: Mapping[str, _Choice]) -> set[str]:
    return {runtime for choice in chosen.values() for runtime in (choice.label, choice.unlabel) if runtime}


def _url_label(runtime_id: str, labels: Mapping[str, Any]) -> str:
    value = labels.get(RUNTIME_EVENTING_URL_LABEL, EMPTY_URL)
    if not isinstance(value, str):
        raise InvalidEventingLabelError(f"label {RUNTIME_EVENTING_URL_LABEL!r} of runtime {runtime_id} is not a string")
    return value


def runtime_default_url(runtime_id: str, labels: Mapping[str, Any]) -> str:
    """``Runtime.eventingConfiguration.defaultURL``: its ``runtime_eventServiceUrl`` label, "" without one."""
    return _url_label(runtime_id, labels)


def application_url(runtime_url: str, application_name: str) -> str:
    """The runtime's URL with the path ``/<name>/v1/events``; "" when the URL names no host. As Compass, the scheme
    is https and only host and port are kept."""
    try:
        host = urlsplit(runtime_url).netloc.rpartition("@")[2]
    except ValueError:
        host = ""
    if not host:
        return EMPTY_URL
    return f"https://{host}/{quote(application_name, safe=_PATH_SAFE)}{APPLICATION_EVENTS_PATH}"


def _application_name(application: Application, runtime_labels: Mapping[str, Any], *, system_number: bool) -> str:
    """The name the runtime knows the application by: normalized when the runtime's ``isNormalized`` label is
    "true", as ``applicationsForRuntime`` names it; Compass's read adds ``-<systemNumber>``, its set and delete
    do not."""
    name = normalize_name(application.name) if runtime_labels.get(IS_NORMALIZED_LABEL) == "true" else application.name
    if system_number and application.system_number is not None:
        name += "-" + application.system_number
    return name


async def _formations(
    repository: EventingRepository, tenant_id: str, application_ids: Sequence[str]
) -> dict[str, set[str]]:
    """The formations of each application (its ``scenarios`` label); absent for one in none."""
    scenarios = await repository.label_values(tenant_id, LabelledKind.APPLICATION, application_ids, (SCENARIOS,))
    return {
        application_id: {name for name in value if isinstance(name, str)}
        for application_id, labels in scenarios.items()
        if isinstance(value := labels.get(SCENARIOS), list)
    }


class EventingService:
    async def _choose(self, session: AsyncSession, tenant_id: str, application_ids: Sequence[str]) -> dict[str, _Choice]:
        repository = EventingRepository(session)
        formations = await _formations(repository, tenant_id, application_ids)
        holders = await repository.default_runtimes(tenant_id, application_ids)
        wanted = sorted(set().union(*formations.values()))
        candidates = await repository.runtimes_in_formations(tenant_id, wanted) if wanted else []
        chosen: dict[str, _Choice] = {}
        for application_id in application_ids:
            held = holders.get(application_id, [])
            if len(held) > 1:
                raise ConflictError(
                    f"runtimes {', '.join(held)} are all labelled {default_eventing_label(application_id)!r}; "
                    "delete the label from all but one"
                )
            own = formations.get(application_id, set())
            sharing = [runtime_id for runtime_id, names in candidates if own.intersection(names)]
            if held and held[0] in sharing:
                chosen[application_id] = _Choice(held[0])
            elif sharing:
                chosen[application_id] = _Choice(sharing[0], label=sharing[0], unlabel=held[0] if held else None)
            else:
                chosen[application_id] = _Choice(None, unlabel=held[0] if held else None)
        return chosen

    async def _urls(
        self,
        session: AsyncSession,
        tenant_id: str,
        runtime_of: Mapping[str, str | None],
        *,
        system_number: bool,
    ) -> dict[str, str]:
        """``{application id: defaultURL}`` when each application's default is ``runtime_of[id]``."""
        runtime_ids = {runtime_id for runtime_id in runtime_of.values() if runtime_id is not None}
        applications = await ApplicationRepository(session).by_ids(tenant_id, list(runtime_of))
        labels = await EventingRepository(session).label_values(
            tenant_id, LabelledKind.RUNTIME, runtime_ids, _RUNTIME_LABELS
        )
        urls: dict[str, str] = {}
        for application_id, runtime_id in runtime_of.items():
            application = applications.get(application_id)
            if runtime_id is None or application is None:
                urls[application_id] = EMPTY_URL
                continue
            runtime_labels = labels.get(runtime_id, {})
            name = _application_name(application, runtime_labels, system_number=system_number)
            urls[application_id] = application_url(_url_label(runtime_id, runtime_labels), name)
        return urls

    async def for_applications(
        self, session: AsyncSession, tenant_id: str, application_ids: Sequence[str]
    ) -> dict[str, ApplicationEventing]:
        """``Application.eventingConfiguration`` of many applications (Compass's ``GetForApplication``), read
        only: what the labels do not say yet is ``pending``, for ``settle``."""
        chosen = await self._choose(session, tenant_id, application_ids)
        urls = await self._urls(
            session, tenant_id, {key: choice.runtime_id for key, choice in chosen.items()}, system_number=True
        )
        return {key: ApplicationEventing(urls[key], pending=choice.pending) for key, choice in chosen.items()}

    async def settle(
        self, session: AsyncSession, tenant_id: str, application_ids: Sequence[str]
    ) -> dict[str, ApplicationEventing]:
        """Labels the default runtimes ``for_applications`` chose, and unlabels those that left the applications'
        formations. The runtimes are locked before the final read, so a concurrent write is seen, not undone."""
        locked: set[str] = set()
        chosen = await self._choose(session, tenant_id, application_ids)
        # Each round only adds runtimes to lock, so this ends; another write rarely forces a second round.
        while not (touched := _touched(chosen)) <= locked:
            for runtime_id in sorted(touched - locked):
                await changes(session).runtime(runtime_id)
            locked |= touched
            chosen = await self._choose(session, tenant_id, application_ids)
        labels = LabelRepository(session)
        for application_id, choice in chosen.items():
            key = default_eventing_label(application_id)
            if choice.unlabel is not None:
                await self._unlabel(labels, tenant_id, choice.unlabel, key)
            if choice.label is not None:
                await labels.set(tenant_id, LabelledKind.RUNTIME, choice.label, key, "true")
        urls = await self._urls(
            session, tenant_id, {key: choice.runtime_id for key, choice in chosen.items()}, system_number=True
        )
        return {key: ApplicationEventing(url) for key, url in urls.items()}

    async def _unlabel(self, labels: LabelRepository, tenant_id: str, runtime_id: str, key: str) -> None:
        label = await labels.get(tenant_id, LabelledKind.RUNTIME, runtime_id, key)
        if label is not None:
            await labels.delete(label)

    async def set_for_application(
        self, session: AsyncSession, tenant_id: str, application_id: str, runtime_id: str
    ) -> str:
        """Compass's ``SetForApplication``: the runtime, which must share a formation with the application,
        becomes its default; the previous default loses the label. Answers the new defaultURL."""
        await changes(session).application(Application, application_id)
        await ApplicationRepository(session).get_or_raise(tenant_id, application_id)
        await RuntimeRepository(session).get_or_raise(tenant_id, runtime_id)
        repository = EventingRepository(session)
        own = (await _formations(repository, tenant_id, [application_id])).get(application_id, set())
        sharing = await repository.runtimes_in_formations(tenant_id, sorted(own)) if own else []
        if runtime_id not in {member for member, _ in sharing}:
            raise InvalidInputError(
                f"runtime {runtime_id} shares no formation with application {application_id}; "
                "assign both to one formation first"
            )
        labels = LabelRepository(session)
        key = default_eventing_label(application_id)
        for holder in (await EventingRepository(session).default_runtimes(tenant_id, [application_id])).get(
            application_id, []
        ):
            if holder != runtime_id:
                await changes(session).runtime(holder)
                await self._unlabel(labels, tenant_id, holder, key)
        await changes(session).runtime(runtime_id)
        await labels.set(tenant_id, LabelledKind.RUNTIME, runtime_id, key, "true")
        return (await self._urls(session, tenant_id, {application_id: runtime_id}, system_number=False))[application_id]

    async def delete_for_application(self, session: AsyncSession, tenant_id: str, application_id: str) -> str:
        """Compass's ``UnsetForApplication``: removes the label; answers the defaultURL of the runtime that was the
        default (as a delete answers what it deleted), "" when none was."""
        await changes(session).application(Application, application_id)
        await ApplicationRepository(session).get_or_raise(tenant_id, application_id)
        holders = (await EventingRepository(session).default_runtimes(tenant_id, [application_id])).get(
            application_id, []
        )
        labels = LabelRepository(session)
        for holder in holders:
            await changes(session).runtime(holder)
            await self._unlabel(labels, tenant_id, holder, default_eventing_label(application_id))
        previous = holders[0] if holders else None
        return (await self._urls(session, tenant_id, {application_id: previous}, system_number=False))[application_id]


eventing = EventingService()
