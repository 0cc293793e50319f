"""Instance auth as stored: a JSON document in the shape Compass answers with."""

from __future__ import annotations

from typing import Any

from director.bundle.inputs import AuthInput, CredentialDataInput
from director.validation import optional_text, require_name, require_url, string_lists
from kernel.errors import InvalidInputError

# A PEM certificate chain or a long secret fits; more is a mistake or an attack.
MAX_SECRET_LENGTH = 65_536


def _credential(credential: CredentialDataInput | None, field: str) -> dict[str, Any] | None:
    """Compass's rule: exactly one kind of credential (basic, oauth or certificateOAuth)."""
    if credential is None:
        return None
    basic, oauth, certificate = credential.basic, credential.oauth, credential.certificate_oauth
    if sum(kind is not None for kind in (basic, oauth, certificate)) != 1:
        raise InvalidInputError(f"{field} must hold exactly one of basic, oauth or certificateOAuth")
    if basic is not None:
        return {
            "basic": {
                "username": require_name(basic.username, f"{field}.basic.username"),
                "password": _required(basic.password, f"{field}.basic.password"),
            }
        }
    if oauth is not None:
        return {
            "oauth": {
                "clientId": require_name(oauth.client_id, f"{field}.oauth.clientId"),
                "clientSecret": _required(oauth.client_secret, f"{field}.oauth.clientSecret"),
                "url": require_url(oauth.url, f"{field}.oauth.url"),
            }
        }
    assert certificate is not None  # noqa: S101 - the count above leaves only this kind
    return {
        "certificateOAuth": {
            "clientId": require_name(certificate.client_id, f"{field}.certificateOAuth.clientId"),
            "certificate": _required(certificate.certificate, f"{field}.certificateOAuth.certificate"),
            "url": require_url(certificate.url, f"{field}.certificateOAuth.url"),
        }
    }


def _required(value: str, field: str) -> str:
    if not value:
        raise InvalidInputError(f"{field} is required")
    return optional_text(value, field, max_length=MAX_SECRET_LENGTH) or value


def _parameters(record: dict[str, Any], objects: Any, serialized: str | None, name: str, field: str) -> None:
    if objects is not None and serialized is not None:
        raise InvalidInputError(f"give either {field}.{name} or {field}.{name}Serialized, not both")
    source = serialized if serialized is not None else objects
    if source is not None:
        record[name] = string_lists(source, f"{field}.{name}")


def auth_record(auth: AuthInput | None, field: str = "defaultInstanceAuth") -> dict[str, Any] | None:
    """The auth of a bundle, webhook or instance auth. As in Compass (whose converter for these drops them),
    ``oneTimeToken`` and ``certCommonName`` are accepted and not kept: they describe a system auth's own
    credentials, not credentials for calling an API."""
    if auth is None:
        return None
    record: dict[str, Any] = {"credential": _credential(auth.credential, f"{field}.credential")}
    if auth.access_strategy is not None:
        record["accessStrategy"] = optional_text(auth.access_strategy, f"{field}.accessStrategy", max_length=256)
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
        _parameters(
            csrf_record,
            csrf.additional_headers,
            csrf.additional_headers_serialized,
            "additionalHeaders",
            f"{field}.requestAuth.csrf",
        )
        _parameters(
            csrf_record,
            csrf.additional_query_params,
            csrf.additional_query_params_serialized,
            "additionalQueryParams",
            f"{field}.requestAuth.csrf",
        )
        record["requestAuth"] = {"csrf": csrf_record}
    return record
