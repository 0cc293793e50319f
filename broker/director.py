"""The Director as the broker calls it: GraphQL over mTLS with the runtime's certificate (the agent's files, read by
``dataplane.control_plane``), for the runtime's own bundle instance auths.

A GraphQL error is a refusal (``DirectorRefused``, with the Director's ``extensions.code`` and message: the
parameters do not match the bundle's schema, the bundle is no longer in the runtime's formations); anything that
keeps the Director from answering (the agent has not connected, no connection, a 5xx, an answer that is not
GraphQL) is ``DirectorUnavailable``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from dataplane.control_plane import ControlPlane, ControlPlaneClient, ControlPlaneCredentials

REQUEST_TIMEOUT_SECONDS = 30.0
_STATUS = "id status { condition reason message }"
REQUEST_CREATION = (
    "mutation ($bundleID: ID!, $in: BundleInstanceAuthRequestInput!) "
    f"{{ result: requestBundleInstanceAuthCreation(bundleID: $bundleID, in: $in) {{ {_STATUS} }} }}"
)
INSTANCE_AUTH = f"query ($id: ID!) {{ result: bundleInstanceAuth(id: $id) {{ {_STATUS} }} }}"
# What a binding hands to a workload: the credential and the request parameters (Kyma's application broker asks
# for the same fields).
_AUTH = (
    "auth { credential { __typename "
    "... on BasicCredentialData { username password } "
    "... on OAuthCredentialData { clientId clientSecret url } "
    "... on CertificateOAuthCredentialData { clientId certificate url } } "
    "additionalHeaders additionalQueryParams requestAuth { csrf { tokenEndpointURL } } }"
)
INSTANCE_CREDENTIALS = f"query ($id: ID!) {{ result: bundleInstanceAuth(id: $id) {{ {_STATUS} {_AUTH} }} }}"
REQUEST_DELETION = (
    f"mutation ($id: ID!) {{ result: requestBundleInstanceAuthDeletion(authID: $id) {{ {_STATUS} }} }}"
)
# The runtime's own instance auths of one bundle, with their context (a runtime sees only those requested for it):
# what finds the instance auth of a request whose answer was lost. Paged over the runtime's applications.
RUNTIME_INSTANCE_AUTHS = (
    "query ($runtimeID: ID!, $bundleID: ID!, $after: PageCursor) "
    "{ result: applicationsForRuntime(runtimeID: $runtimeID, first: 200, after: $after) "
    f"{{ data {{ id bundle(id: $bundleID) {{ instanceAuths {{ {_STATUS} context }} }} }} "
    "pageInfo { endCursor hasNextPage } } }"
)


class DirectorUnavailable(Exception):
    """The Director could not be asked, or did not answer; the message says why. ``maybe_done``: the request may
    have reached the Director, which may have acted on it (a lost answer, not a refused connection)."""

    def __init__(self, message: str, *, maybe_done: bool = True) -> None:
        super().__init__(message)
        self.maybe_done = maybe_done


class DirectorRefused(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class InstanceAuth:
    id: str
    condition: str  # PENDING, SUCCEEDED, FAILED or UNUSED
    message: str
    # The Director's ``Auth`` (asked for by ``instance_credentials`` only); None while there is none.
    auth: Mapping[str, Any] | None = None


class Director:
    def __init__(self, credentials: ControlPlaneCredentials) -> None:
        self._connection = ControlPlaneClient(credentials, REQUEST_TIMEOUT_SECONDS)

    async def request_instance_auth(
        self, bundle_id: str, *, context: dict[str, Any], input_params: Any
    ) -> InstanceAuth:
        # The Director's JSON scalar is JSON text.
        given = {
            "context": json.dumps(context, sort_keys=True),
            "inputParams": json.dumps(input_params, sort_keys=True) if input_params is not None else None,
        }
        result = await self._call(REQUEST_CREATION, {"bundleID": bundle_id, "in": given})
        return _instance_auth(result)

    async def instance_auth(self, auth_id: str) -> InstanceAuth | None:
        """None when the Director has none of that id (for this runtime)."""
        return await self._read(INSTANCE_AUTH, auth_id)

    async def instance_credentials(self, auth_id: str) -> InstanceAuth | None:
        """As ``instance_auth``, with the credentials as they are now (a renewal included)."""
        return await self._read(INSTANCE_CREDENTIALS, auth_id)

    async def instance_auths_of(
        self, application_id: str, bundle_id: str, context: Mapping[str, Any]
    ) -> list[InstanceAuth]:
        """The runtime's instance auths of the application's bundle whose context is ``context`` (those of a
        request whose answer was lost); none when the application is no longer in the runtime's formations."""
        runtime_id = (await self._connection_now())[0].runtime_id
        if runtime_id is None:
            raise DirectorUnavailable("the agent's management-plane.json names no runtime ID")
        after: str | None = None
        while True:
            page = await self._call(
                RUNTIME_INSTANCE_AUTHS, {"runtimeID": runtime_id, "bundleID": bundle_id, "after": after}
            )
            try:
                for application in page["data"]:
                    if application["id"] == application_id:
                        auths = (application["bundle"] or {}).get("instanceAuths") or []
                        return [_instance_auth(auth) for auth in auths if _context(auth) == context]
                if not page["pageInfo"]["hasNextPage"]:
                    return []
                after = page["pageInfo"]["endCursor"]
            except (KeyError, TypeError):
                raise DirectorUnavailable("the Director's answer has no page of applications") from None

    async def delete_instance_auth(self, auth_id: str) -> None:
        """Done when the Director deleted it (or marked it UNUSED for the application to revoke) or has none."""
        try:
            await self._call(REQUEST_DELETION, {"id": auth_id})
        except DirectorRefused as refusal:
            if refusal.code not in {"NOT_FOUND", "FORBIDDEN"}:
                raise

    async def _read(self, document: str, auth_id: str) -> InstanceAuth | None:
        try:
            result = await self._call(document, {"id": auth_id})
        except DirectorRefused as refusal:
            if refusal.code in {"NOT_FOUND", "FORBIDDEN"}:
                return None
            raise
        return _instance_auth(result) if result is not None else None

    async def aclose(self) -> None:
        await self._connection.aclose()

    async def _connection_now(self) -> tuple[ControlPlane, httpx.AsyncClient]:
        connection = await self._connection.current()
        if connection is None:
            raise DirectorUnavailable(
                f"the runtime's credentials cannot be used: {self._connection.credentials.problem}",
                maybe_done=False,
            )
        return connection

    async def _call(self, document: str, variables: dict[str, Any]) -> Any:
        plane, http = await self._connection_now()
        if plane.director_url is None:
            raise DirectorUnavailable(
                "the agent's management-plane.json names no Director URL", maybe_done=False
            )
        try:
            response = await http.post(plane.director_url, json={"query": document, "variables": variables})
        except (httpx.HTTPError, OSError) as error:  # ssl.SSLError is an OSError
            raise DirectorUnavailable(
                f"the Director cannot be reached: {error or type(error).__name__}",
                # Not sent: no connection was made (a TLS handshake refused included).
                maybe_done=not isinstance(
                    error, (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
                ),
            ) from None
        try:
            answer = response.json()
        except ValueError:
            answer = None
        if not isinstance(answer, dict) or ("data" not in answer and "errors" not in answer):
            raise DirectorUnavailable(
                f"the Director answered {response.status_code} without a GraphQL answer"
            )
        errors = answer.get("errors") or []
        if errors:
            first = errors[0] if isinstance(errors[0], dict) else {}
            code = str((first.get("extensions") or {}).get("code") or "UNKNOWN")
            raise DirectorRefused(code, str(first.get("message") or "the Director refused"))
        return (answer.get("data") or {}).get("result")


def _context(auth: Any) -> Any:
    """An instance auth's context: the Director's JSON scalar is JSON text."""
    context = auth.get("context") if isinstance(auth, Mapping) else None
    if isinstance(context, str):
        try:
            return json.loads(context)
        except ValueError:
            return None
    return context


def _instance_auth(result: Any) -> InstanceAuth:
    try:
        auth = result.get("auth")
        return InstanceAuth(
            str(result["id"]),
            str(result["status"]["condition"]),
            str(result["status"]["message"]),
            auth if isinstance(auth, Mapping) else None,
        )
    except (AttributeError, KeyError, TypeError):
        raise DirectorUnavailable("the Director's answer has no instance auth status") from None
