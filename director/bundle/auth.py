"""Instance auth as stored: a JSON document in the shape Compass answers with."""

from __future__ import annotations

from typing import Any

from director.bundle.inputs import AuthInput, CredentialDataInput
from director.validation import require_name, require_url, string_lists
from kernel.errors import InvalidInputError


def _credential(credential: CredentialDataInput | None, field: str) -> dict[str, Any] | None:
    if credential is None:
        return None
    basic, oauth = credential.basic, credential.oauth
    if basic is not None and oauth is None:
        return {
            "basic": {
                "username": require_name(basic.username, f"{field}.basic.username"),
                "password": basic.password,
            }
        }
    if oauth is not None and basic is None:
        return {
            "oauth": {
                "clientId": require_name(oauth.client_id, f"{field}.oauth.clientId"),
                "clientSecret": oauth.client_secret,
                "url": require_url(oauth.url, f"{field}.oauth.url"),
            }
        }
    raise InvalidInputError(f"{field} must hold exactly one of basic or oauth")


def _parameters(record: dict[str, Any], objects: Any, serialized: str | None, name: str, field: str) -> None:
    if objects is not None and serialized is not None:
        raise InvalidInputError(f"give either {field}.{name} or {field}.{name}Serialized, not both")
    source = serialized if serialized is not None else objects
    if source is not None:
        record[name] = string_lists(source, f"{field}.{name}")


def auth_record(auth: AuthInput | None, field: str = "defaultInstanceAuth") -> dict[str, Any] | None:
    if auth is None:
        return None
    record: dict[str, Any] = {"credential": _credential(auth.credential, f"{field}.credential")}
    _parameters(record, auth.additional_headers, auth.additional_headers_serialized, "additionalHeaders", field)
    _parameters(
        record, auth.additional_query_params, auth.additional_query_params_serialized, "additionalQueryParams", field
    )
    if auth.request_auth is not None and auth.request_auth.csrf is not None:
        csrf = auth.request_auth.csrf
        csrf_record: dict[str, Any] = {
            "tokenEndpointURL": require_url(csrf.token_endpoint_url, f"{field}.requestAuth.csrf.tokenEndpointURL"),
            "credential": _credential(csrf.credential, f"{field}.requestAuth.csrf.credential"),
        }
        _parameters(csrf_record, None, csrf.additional_headers_serialized, "additionalHeaders", f"{field}.requestAuth.csrf")
        _parameters(
            csrf_record,
            None,
            csrf.additional_query_params_serialized,
            "additionalQueryParams",
            f"{field}.requestAuth.csrf",
        )
        record["requestAuth"] = {"csrf": csrf_record}
    return record
