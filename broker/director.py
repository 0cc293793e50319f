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

from dataplane.control_plane import ControlPlaneClient, ControlPlaneCredentials

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


class DirectorUnavailable(Exception):
    """The Director could not be asked, or did not answer; the message says why."""


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

    async def _call(self, document: str, variables: dict[str, Any]) -> Any:
        connection = await self._connection.current()
        if connection is None:
            raise DirectorUnavailable(
                f"the runtime's credentials cannot be used: {self._connection.credentials.problem}"
            )
        plane, http = connection
        if plane.director_url is None:
            raise DirectorUnavailable("the agent's management-plane.json names no Director URL")
        try:
            response = await http.post(plane.director_url, json={"query": document, "variables": variables})
        except (httpx.HTTPError, OSError) as error:  # ssl.SSLError is an OSError
            raise DirectorUnavailable(
                f"the Director cannot be reached: {error or type(error).__name__}"
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
