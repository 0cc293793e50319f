"""The Director as the agent sees it: GraphQL over mTLS with the runtime's client certificate.

``fetch_applications`` pages ``applicationsForRuntime`` until ``hasNextPage`` is false and returns the whole
list or raises ``SyncFailed``: never a part of it. A page with errors, a ``totalCount`` that changes between
pages, a page that says more follow without a new cursor or without an application, a count that does not add
up, or a nested list (bundles, API or event definitions) longer than one page all count as a partial answer.
A Director that keeps saying more pages follow is given ``totalCount / page size + 1`` pages, then SyncFailed.

Change-aware polling: the Director's answer to a runtime certificate may carry an ``ETag``; the client sends
the ETag of the last complete fetch as ``If-None-Match`` on the first page, and a ``304 Not Modified`` there
means the whole view is unchanged (``fetch_applications`` returns None; ``last_result`` still holds it). A
Director that sends no ETag is simply asked in full every time.
"""

from __future__ import annotations

import json
import re
import ssl
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import structlog

from agent.errors import DirectorError, SyncFailed
from agent.queries import (
    APPLICATIONS_FOR_RUNTIME,
    MARK_CONNECTED,
    REQUEST_APPLICATION_TOKEN,
    RUNTIME_LABELS,
    RUNTIME_STATUS,
    SET_RUNTIME_LABEL,
    WATCHERS,
)
from agent.watchers import Watcher, parse_watchers

log = structlog.get_logger("agent.director")

PAGE_SIZE = 200
# What a GraphQL server says of a field its schema lacks (gqlgen quotes it with ", graphql-core with ').
_NO_WATCHERS_FIELD = re.compile(r"""Cannot query field ["']watchers["'] on type ["']Query["']""")
WATCHERS_UNSUPPORTED_SECONDS = 3600.0
"""How long a Director without the watchers field (Compass's) is not asked again: an upgrade shows within it."""
_JSON = "application/json; charset=utf-8"


@dataclass(frozen=True)
class FetchResult:
    applications: list[dict[str, Any]]
    runtime_labels: dict[str, Any]
    etag: str | None


def mtls_context(cert_file: Path, key_file: Path, ca_file: Path) -> ssl.SSLContext:
    """The runtime's side of the mTLS connection to the Director: its certificate and key as the files hold them
    now, and only the Connector's CA trusted for the server."""
    context = ssl.create_default_context(cafile=str(ca_file))
    context.load_cert_chain(str(cert_file), str(key_file))
    return context


class DirectorClient:
    """Args:
    director_url: the Director's mTLS URL (``managementPlaneInfo.directorURL``).
    cert_file, key_file: the runtime's certificate chain and private key (PEM).
    ca_file: the CA the Director's server certificate must chain to (the Connector's ``caCertificate``).
    page_size: ``first`` of each page (1–200).
    transport: an httpx transport in place of the network (tests of answers a real server cannot give).
    """

    def __init__(
        self,
        director_url: str,
        *,
        cert_file: Path,
        key_file: Path,
        ca_file: Path,
        timeout: float = 30.0,
        request_id_prefix: str = "agent",
        page_size: int = PAGE_SIZE,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        if not 1 <= page_size <= PAGE_SIZE:
            raise ValueError(f"page_size must be 1 to {PAGE_SIZE}, not {page_size}")
        self.director_url = director_url
        self._files = (cert_file, key_file, ca_file)
        self._timeout = timeout
        self._prefix = request_id_prefix
        self._page_size = page_size
        self._transport = transport
        self._http = self._client()
        self._etag: str | None = None
        self._last: FetchResult | None = None
        self._last_runtime: str | None = None
        # The last watchers answer and its ETag (a 304 stands for it); when the field was last found missing.
        self._watchers: tuple[str | None, list[Watcher]] = (None, [])
        self._watchers_missing_at: float | None = None

    def _client(self) -> httpx.AsyncClient:
        if self._transport is not None:
            return httpx.AsyncClient(transport=self._transport, timeout=self._timeout)
        return httpx.AsyncClient(verify=mtls_context(*self._files), timeout=self._timeout, trust_env=False)

    @property
    def last_result(self) -> FetchResult | None:
        """The last complete fetch: what a 304 stands for."""
        return self._last

    async def reload_certificate(self) -> None:
        """Uses the certificate and key files as they are now (after a renewal); keeps the last ETag."""
        old, self._http = self._http, self._client()
        await old.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    # --- operations -----------------------------------------------------------------------------------------

    async def fetch_applications(self, runtime_id: str) -> FetchResult | None:  # noqa: C901, PLR0912 - each check on a page refuses it with its own message
        """All pages of ``applicationsForRuntime``, or None when the Director answered 304 Not Modified."""
        applications: list[dict[str, Any]] = []
        labels: dict[str, Any] = {}
        etag: str | None = None
        total: int | None = None
        after: str | None = None
        cursors: set[str] = set()
        page_number = 0
        while True:
            page_number += 1
            headers: dict[str, str] = {}
            if page_number == 1 and self._etag is not None and self._last_runtime == runtime_id:
                headers["If-None-Match"] = self._etag
            variables = {"runtimeID": runtime_id, "first": self._page_size, "after": after}
            response = await self._post(APPLICATIONS_FOR_RUNTIME, variables, headers, SyncFailed)
            if response.status_code == httpx.codes.NOT_MODIFIED:
                if not headers:
                    raise SyncFailed(f"the Director answered 304 to the unconditional page {page_number}")
                log.debug("applications_unchanged", runtime_id=runtime_id)
                return None
            data = self._data(response, SyncFailed)
            if page_number == 1:
                etag = response.headers.get("ETag")
                runtime = data.get("runtime")
                if not isinstance(runtime, dict):
                    raise SyncFailed(f"the Director shows no runtime {runtime_id} to this certificate")
                labels = dict(runtime.get("labels") or {})
            page = _page(data.get("result"), f"page {page_number} of applicationsForRuntime")
            if total is None:
                total = page["totalCount"]
            elif page["totalCount"] != total:
                raise SyncFailed(
                    f"the applications changed while paging (totalCount {total}, then {page['totalCount']} "
                    f"on page {page_number})"
                )
            for application in page["data"]:
                _check_nested(application)
            applications.extend(page["data"])
            if not page["pageInfo"]["hasNextPage"]:
                break
            cursor = page["pageInfo"].get("endCursor")
            if not cursor or cursor in cursors:
                raise SyncFailed(f"page {page_number} says more pages follow but gives no new cursor")
            if not page["data"]:
                raise SyncFailed(f"page {page_number} says more pages follow but holds no application")
            if page_number >= total // self._page_size + 1:
                raise SyncFailed(
                    f"the Director still says more pages follow after {page_number} pages of "
                    f"{self._page_size}, which hold all of the {total} applications it counts: gave up"
                )
            cursors.add(cursor)
            after = cursor
        ids = [str(application.get("id")) for application in applications]
        if len(applications) != total or len(set(ids)) != len(ids):
            raise SyncFailed(
                f"the pages hold {len(set(ids))} distinct applications where the Director counted {total}"
            )
        result = FetchResult(applications, labels, etag)
        self._last, self._etag, self._last_runtime = result, etag, runtime_id
        return result

    async def runtime_labels(self, runtime_id: str) -> dict[str, Any]:
        response = await self._post(RUNTIME_LABELS, {"runtimeID": runtime_id}, {}, DirectorError)
        data = self._data(response, DirectorError)
        runtime = data.get("result")
        if not isinstance(runtime, dict):
            raise DirectorError(f"the Director shows no runtime {runtime_id} to this certificate")
        return dict(runtime.get("labels") or {})

    async def set_runtime_label(self, runtime_id: str, key: str, value: object) -> None:
        variables = {"runtimeID": runtime_id, "key": key, "value": value}
        self._data(await self._post(SET_RUNTIME_LABEL, variables, {}, DirectorError), DirectorError)

    async def mark_connected(self, runtime_id: str) -> bool:
        """Sets the runtime's status condition to CONNECTED, as Compass's agent does; False if it already was."""
        response = await self._post(RUNTIME_STATUS, {"runtimeID": runtime_id}, {}, DirectorError)
        runtime = self._data(response, DirectorError).get("result")
        if not isinstance(runtime, dict):
            raise DirectorError(f"the Director shows no runtime {runtime_id} to this certificate")
        if (runtime.get("status") or {}).get("condition") == "CONNECTED":
            return False
        variables = {"runtimeID": runtime_id, "name": runtime["name"], "description": runtime.get("description")}
        self._data(await self._post(MARK_CONNECTED, variables, {}, DirectorError), DirectorError)
        return True

    async def request_application_token(self, application_id: str) -> dict[str, Any]:
        """A one-time token of an application in this runtime's formations (``token``, ``connectorURL``,
        ``legacyConnectorURL``, ``expiresAt``); DirectorError (code ``FORBIDDEN``) for any other application."""
        variables = {"applicationID": application_id}
        response = await self._post(REQUEST_APPLICATION_TOKEN, variables, {}, DirectorError)
        token = self._data(response, DirectorError).get("result")
        if not isinstance(token, dict):
            raise DirectorError("the Director answered no token")
        return token

    async def watchers(self) -> list[Watcher] | None:
        """The watchers whose webhooks this runtime keeps; None from a Director without the field (Compass's).

        Asked with the last ETag, so that an unchanged list costs the Director no statement (a 304); a Director
        without the field is asked again only after ``WATCHERS_UNSUPPORTED_SECONDS``."""
        missing_at = self._watchers_missing_at
        if missing_at is not None and time.monotonic() - missing_at < WATCHERS_UNSUPPORTED_SECONDS:
            return None
        etag, last = self._watchers
        headers = {"If-None-Match": etag} if etag is not None else {}
        # Compass's Director answers 422 (a validation error): not worth a warning.
        response = await self._post(WATCHERS, {}, headers, DirectorError, quiet=(httpx.codes.UNPROCESSABLE_ENTITY,))
        if response.status_code == httpx.codes.NOT_MODIFIED and etag is not None:
            return last
        try:
            body = response.json()
        except ValueError:
            body = None
        errors = body.get("errors") if isinstance(body, dict) else None
        if errors and any(isinstance(item, dict) and _NO_WATCHERS_FIELD.search(str(item.get("message"))) for item in errors):
            self._watchers_missing_at = time.monotonic()
            return None
        self._watchers_missing_at = None
        result = self._data(response, DirectorError).get("result")
        if not isinstance(result, list):
            raise DirectorError("the Director's watchers are not a list")
        watchers = parse_watchers(result)
        self._watchers = (response.headers.get("ETag"), watchers)
        return watchers

    # --- HTTP and GraphQL -----------------------------------------------------------------------------------

    async def _post(
        self,
        document: str,
        variables: dict[str, Any],
        headers: dict[str, str],
        error: type[DirectorError],
        *,
        quiet: tuple[int, ...] = (),
    ) -> httpx.Response:
        request_id = f"{self._prefix}-{uuid.uuid4()}"
        body = json.dumps({"query": document, "variables": variables}).encode("utf-8")
        try:
            response = await self._http.post(
                self.director_url,
                content=body,
                headers={"Content-Type": _JSON, "x-request-id": request_id, **headers},
            )
        except httpx.TimeoutException as exc:
            log.warning("director_timeout", request_id=request_id, error=repr(exc))
            raise error(f"the Director did not answer within {self._timeout:g} s") from exc
        except httpx.HTTPError as exc:
            log.warning("director_unreachable", request_id=request_id, error=repr(exc))
            raise error(f"the Director is unreachable: {exc!r}") from exc
        if response.status_code not in (httpx.codes.OK, httpx.codes.NOT_MODIFIED, *quiet):
            log.warning("director_http_error", request_id=request_id, status=response.status_code)
        return response

    @staticmethod
    def _data(response: httpx.Response, error: type[DirectorError]) -> dict[str, Any]:
        try:
            body = response.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            raise error(f"the Director answered HTTP {response.status_code} without a GraphQL body")
        errors = body.get("errors")
        if errors:
            first = errors[0] if isinstance(errors[0], dict) else {}
            code = (first.get("extensions") or {}).get("code")
            messages = "; ".join(str(item.get("message")) for item in errors if isinstance(item, dict))
            raise error(f"the Director answered with errors: {messages}", code=code)
        data = body.get("data")
        if response.status_code != httpx.codes.OK or not isinstance(data, dict):
            raise error(f"the Director answered HTTP {response.status_code} without data")
        return data


def _page(value: Any, what: str) -> dict[str, Any]:
    """``value`` if it has the shape of a page (data list, pageInfo, totalCount), else SyncFailed."""
    if (
        not isinstance(value, dict)
        or not isinstance(value.get("data"), list)
        or not isinstance(value.get("pageInfo"), dict)
        or not isinstance(value["pageInfo"].get("hasNextPage"), bool)
        or not isinstance(value.get("totalCount"), int)
        or not all(isinstance(item, dict) for item in value["data"])
    ):
        raise SyncFailed(f"{what} is malformed")
    return value


def _complete(value: Any, what: str) -> list[dict[str, Any]]:
    page = _page(value, what)
    if page["pageInfo"]["hasNextPage"] or len(page["data"]) != page["totalCount"]:
        raise SyncFailed(
            f"{what} has {page['totalCount']} items but the answer holds {len(page['data'])} "
            "(more than one page)"
        )
    return list(page["data"])


def _check_nested(application: dict[str, Any]) -> None:
    name = application.get("id")
    for bundle in _complete(application.get("bundles"), f"the bundles of application {name}"):
        _complete(bundle.get("apiDefinitions"), f"the API definitions of bundle {bundle.get('id')}")
        _complete(bundle.get("eventDefinitions"), f"the event definitions of bundle {bundle.get('id')}")
