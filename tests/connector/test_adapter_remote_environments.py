"""The oldest form of the REST API (the seed's "Application Connector", Remote Environment era; DATAPLANE.md D.1)
as its tutorial walks it with curl and openssl, over real HTTP and TLS sockets: an operator asks for a token, the
application GETs the info URL, POSTs its CSR to ``csrUrl`` and calls with the certificate. A remote environment is
an application, known by its normalized name. Also the ``EventsHost``/``MetadataHost`` request headers of the
info endpoints. Runs on every backend the Connector tests run on."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any, NamedTuple

import pytest
from cryptography import x509

from tests.connector.support import (
    JSON_TYPE,
    Connected,
    Harness,
    assert_error,
    common_name,
    credentials_of,
    csr_b64,
    needs_openssl,
    openssl_csr,
    register_application,
    register_events_runtime,
    rsa_key,
    unb64,
)
from tests.support import Operator

PREFIX = "/v1/remoteenvironments"
SIGNING_REQUEST_INFO = "/v1/applications/signingRequests/info"
MANAGEMENT_INFO = "/v1/applications/management/info"
SUBJECT = "O=Org,OU=OrgUnit,L=Locality,ST=State,C=PL,CN=%s"
SYSTEM_AUTH = "query ($id: ID!) { result: systemAuth(id: $id) { id } }"
NOT_VALID_HERE = "invalid token or certificate: the token is not valid here"
# The runtime knows applications by their normalized names: the events URL's path is the remote environment's.
NORMALIZED = {"isNormalized": "true"}
NO_JWT = "send Authorization: Bearer <JWT> (see `compass token`)"


class Registered(NamedTuple):
    application_id: str
    name: str


async def registered(operator: Operator, labels: dict[str, list[str]] | None = None) -> Registered:
    """An application registered as ``Orders <n>``: its remote environment is ``mp-orders-<n>``."""
    suffix = uuid.uuid4().hex[:6]
    return Registered(await register_application(operator, f"Orders {suffix}", labels), f"mp-orders-{suffix}")


async def remote_environment(operator: Operator) -> str:
    return (await registered(operator)).name


async def request_token(connector: Harness, operator: Operator, name: str) -> dict[str, str]:
    """``curl -X POST -H "Authorization: Bearer $TOKEN" .../v1/remoteenvironments/<name>/tokens``."""
    response = await connector.http.post(
        f"{PREFIX}/{name}/tokens", headers={"Authorization": f"Bearer {operator.token}"}
    )
    assert response.status_code == 201, response.text
    return dict(response.json())


async def read_info(connector: Harness, operator: Operator, name: str) -> dict[str, Any]:
    """A new token for ``name``, and its info URL read."""
    return dict((await connector.http.get((await request_token(connector, operator, name))["url"])).json())


async def info_of(connector: Harness) -> dict[str, str]:
    """The info of a new remote environment: ``csrUrl`` and the subject to sign."""
    operator = await connector.operator()
    info = await read_info(connector, operator, await remote_environment(operator))
    return {"csrUrl": info["csrUrl"], "subject": info["certificate"]["subject"]}


# --- the tutorial ----------------------------------------------------------------------------------------


@needs_openssl
async def test_a_remote_environment_connects_as_the_seed_tutorial_does(connector: Harness, tmp_path: Path) -> None:
    # given: an operator's tenant with the application
    operator = await connector.operator()
    name = await remote_environment(operator)
    http, mtls = connector.server.http_url, connector.server.https_url

    # when: the operator POSTs to the tokens endpoint with its JWT
    tokens = await connector.http.post(
        f"{PREFIX}/{name}/tokens", headers={"Authorization": f"Bearer {operator.token}"}
    )

    # then: 201 with the info URL and its token
    assert (tokens.status_code, tokens.headers["content-type"]) == (201, JSON_TYPE)
    token = tokens.json()["token"]
    assert tokens.text == f'{{"url":"{http}{PREFIX}/{name}/info?token={token}","token":"{token}"}}'

    # when: the application GETs the url
    info = await connector.http.get(tokens.json()["url"])

    # then: where to send the CSR (with a new token), the URLs of the APIs and the subject of its certificate
    assert (info.status_code, info.headers["content-type"]) == (200, JSON_TYPE)
    body = info.json()
    client_id = body["certificate"]["subject"].rsplit("CN=", 1)[1]
    new_token = body["csrUrl"].split("?token=", 1)[1]
    assert new_token not in ("", token)
    assert info.text == (
        f'{{"csrUrl":"{http}{PREFIX}/{name}/client-certs?token={new_token}",'
        f'"api":{{"metadataUrl":"{mtls}/{name}/v1/metadata/services","eventsUrl":"",'
        f'"certificatesUrl":"{http}{PREFIX}/{name}"}},'
        f'"certificate":{{"subject":"{SUBJECT % client_id}","extensions":"","key-algorithm":"rsa2048"}}}}'
    )

    # when: it POSTs an openssl CSR for that subject to csrUrl
    csr = openssl_csr(tmp_path, body["certificate"]["subject"], "generated")
    signed = await connector.http.post(body["csrUrl"], json={"csr": csr})

    # then: 201 with crt alone: the client certificate then the CA's, the first signed by the second
    assert (signed.status_code, signed.headers["content-type"]) == (201, JSON_TYPE)
    assert list(signed.json()) == ["crt"]
    client_certificate, ca_certificate = x509.load_pem_x509_certificates(unb64(signed.json()["crt"]))
    assert ca_certificate == x509.load_pem_x509_certificate(connector.ca.ca_pem.encode())
    client_certificate.verify_directly_issued_by(ca_certificate)
    assert common_name(client_certificate) == client_id

    # when: it calls with the certificate over mTLS
    management = await connector.mtls(credentials_of(tmp_path, signed.json()["crt"])).get(MANAGEMENT_INFO)

    # then: it is the application of the remote environment
    assert management.status_code == 200
    assert management.json()["clientIdentity"] == {"application": name}
    assert management.json()["urls"]["metadataUrl"] == body["api"]["metadataUrl"]


async def test_a_used_info_url_is_refused_with_403(connector: Harness) -> None:
    operator = await connector.operator()
    url = (await request_token(connector, operator, await remote_environment(operator)))["url"]
    assert (await connector.http.get(url)).status_code == 200

    again = await connector.http.get(url)

    assert_error(again, 403, "invalid token or certificate: the token was already used: tokens are single use")


async def test_an_info_call_without_a_token_is_refused_with_403(connector: Harness) -> None:
    operator = await connector.operator()

    refused = await connector.http.get(f"{PREFIX}/{await remote_environment(operator)}/info")

    assert_error(refused, 403, "invalid token or certificate")


async def test_the_events_url_is_the_applications_eventing_url(connector: Harness) -> None:
    # given: the application in a formation with a runtime whose agent announced its event ingress
    operator = await connector.operator()
    name = (await registered(operator, {"scenarios": ["DEFAULT"]})).name
    await register_events_runtime(operator, "https://events.kyma.local", NORMALIZED)

    # when
    info = await read_info(connector, operator, name)

    # then
    assert info["api"]["eventsUrl"] == f"https://events.kyma.local/{name}/v1/events"


# --- the tokens endpoint: the operator ---------------------------------------------------------------------


async def test_tokens_without_a_jwt_are_refused_with_401(connector: Harness) -> None:
    operator = await connector.operator()
    name = await remote_environment(operator)

    refused = await connector.http.post(f"{PREFIX}/{name}/tokens")

    assert_error(refused, 401, NO_JWT)
    assert refused.headers["www-authenticate"] == "Bearer"


async def test_tokens_with_a_bad_jwt_are_refused_with_401(connector: Harness) -> None:
    operator = await connector.operator()
    name = await remote_environment(operator)

    refused = await connector.http.post(f"{PREFIX}/{name}/tokens", headers={"Authorization": "Bearer not-a-jwt"})

    assert_error(refused, 401, "the bearer token is not a JWT")


async def test_tokens_need_the_scope_of_request_one_time_token_for_application(connector: Harness) -> None:
    owner = await connector.operator()
    name = await remote_environment(owner)
    reader = await connector.operator(owner.tenant_id, scopes=["application:read", "runtime:write"])

    refused = await connector.http.post(
        f"{PREFIX}/{name}/tokens", headers={"Authorization": f"Bearer {reader.token}"}
    )

    assert_error(refused, 403, "missing scope 'application:write'")


async def test_an_unknown_remote_environment_is_404_with_how_to_register_one(connector: Harness) -> None:
    operator = await connector.operator()

    refused = await connector.http.post(
        f"{PREFIX}/Billing/tokens", headers={"Authorization": f"Bearer {operator.token}"}
    )

    assert_error(
        refused,
        404,
        "remote environment 'Billing' not found in your tenant: a remote environment is an application, named as "
        "the Director normalizes its name (an application registered as 'Billing' is 'mp-billing'); register "
        "one with the Director's registerApplication mutation",
    )


async def test_an_operator_of_another_tenant_gets_no_token_for_the_application(connector: Harness) -> None:
    tenant_a, tenant_b = await connector.operator(), await connector.operator()
    name = await remote_environment(tenant_a)

    refused = await connector.http.post(
        f"{PREFIX}/{name}/tokens", headers={"Authorization": f"Bearer {tenant_b.token}"}
    )

    assert refused.status_code == 404
    assert refused.json()["error"].startswith(f"remote environment '{name}' not found in your tenant")


# --- the token belongs to its remote environment ---------------------------------------------------------


async def test_a_token_for_another_remote_environment_is_refused_with_403_and_stays_unspent(
    connector: Harness,
) -> None:
    operator = await connector.operator()
    name, other = await remote_environment(operator), await remote_environment(operator)
    token = (await request_token(connector, operator, name))["token"]

    refused = await connector.http.get(f"{PREFIX}/{other}/info", params={"token": token})

    assert_error(
        refused, 403,
        f"{NOT_VALID_HERE}: it is not one of remote environment '{other}'",
    )
    assert (await connector.http.get(f"{PREFIX}/{name}/info", params={"token": token})).status_code == 200


async def test_a_signing_token_for_another_remote_environment_is_refused_with_403_and_stays_unspent(
    connector: Harness,
) -> None:
    operator = await connector.operator()
    name, other = await remote_environment(operator), await remote_environment(operator)
    info = await read_info(connector, operator, name)
    signing_token = info["csrUrl"].split("?token=", 1)[1]
    csr = csr_b64(rsa_key(), info["certificate"]["subject"])

    refused = await connector.http.post(
        f"{PREFIX}/{other}/client-certs", params={"token": signing_token}, json={"csr": csr}
    )

    assert_error(
        refused, 403,
        f"{NOT_VALID_HERE}: it is not one of remote environment '{other}'",
    )
    assert (await connector.http.post(info["csrUrl"], json={"csr": csr})).status_code == 201


async def test_a_token_is_for_the_remote_environment_of_the_operators_own_tenant(connector: Harness) -> None:
    # given: two tenants, each with an application of the same name
    tenant_a, tenant_b = await connector.operator(), await connector.operator()
    suffix = uuid.uuid4().hex[:6]
    for operator in (tenant_a, tenant_b):
        await register_application(operator, f"Orders {suffix}")

    # when: B's operator asks for a token and the application reads the info URL
    info = await read_info(connector, tenant_b, f"mp-orders-{suffix}")

    # then: the client is one of B's application, unknown in A
    client_id = info["certificate"]["subject"].rsplit("CN=", 1)[1]
    assert (await tenant_b.query(SYSTEM_AUTH, {"id": client_id}))["result"] == {"id": client_id}
    assert (await tenant_a.query(SYSTEM_AUTH, {"id": client_id}))["result"] is None


# --- bad input -------------------------------------------------------------------------------------------


async def test_a_body_that_is_not_json_is_refused_with_400(connector: Harness) -> None:
    info = await info_of(connector)

    refused = await connector.http.post(info["csrUrl"], content=b"{not json")

    assert refused.status_code == 400
    assert refused.headers["content-type"] == JSON_TYPE
    assert refused.json()["error"].startswith(
        "Failed to read certificate request: error while unmarshalling request body: "
    )


async def test_a_bad_csr_is_refused_with_400_and_the_signing_token_stays_unspent(connector: Harness) -> None:
    info = await info_of(connector)

    refused = await connector.http.post(info["csrUrl"], json={"csr": "not a CSR"})

    assert refused.status_code == 400
    assert refused.json()["code"] == 400
    assert refused.json()["error"].startswith("Failed to sign CSR: ")
    good = csr_b64(rsa_key(), info["subject"])
    assert (await connector.http.post(info["csrUrl"], json={"csr": good})).status_code == 201


# --- EventsHost and MetadataHost -------------------------------------------------------------------------


async def events_application(connector: Harness) -> tuple[Operator, Registered]:
    """An application whose events go to a runtime's ingress at https://events.kyma.local:8080."""
    operator = await connector.operator()
    application = await registered(operator, {"scenarios": ["DEFAULT"]})
    await register_events_runtime(operator, "https://events.kyma.local:8080", NORMALIZED)
    return operator, application


async def connected(connector: Harness) -> tuple[Connected, str]:
    """A connected application of ``events_application``, and its remote environment's name."""
    operator, application = await events_application(connector)
    token = await connector.application_token(operator, application.application_id)
    return await connector.connect(application.application_id, token), application.name


OVERRIDE = {"EventsHost": "gateway.example.com", "MetadataHost": "registry.example.com:8443"}


async def test_the_host_headers_override_the_hosts_of_the_signing_request_info(connector: Harness) -> None:
    operator, (application_id, name) = await events_application(connector)
    token = await connector.application_token(operator, application_id)

    info = await connector.http.get(SIGNING_REQUEST_INFO, params={"token": token}, headers=OVERRIDE)

    assert info.status_code == 200
    api = info.json()["api"]
    assert api["eventsUrl"] == f"https://gateway.example.com/{name}/v1/events"
    assert api["eventsInfoUrl"] == f"https://gateway.example.com/{name}/v1/events/subscribed"
    assert api["metadataUrl"] == f"https://registry.example.com:8443/{name}/v1/metadata/services"


async def test_the_host_headers_override_the_hosts_of_the_management_info(connector: Harness) -> None:
    application, name = await connected(connector)

    management = await connector.mtls(application.credentials).get(MANAGEMENT_INFO, headers=OVERRIDE)

    assert management.status_code == 200
    urls = management.json()["urls"]
    assert urls["eventsUrl"] == f"https://gateway.example.com/{name}/v1/events"
    assert urls["metadataUrl"] == f"https://registry.example.com:8443/{name}/v1/metadata/services"


async def test_the_host_headers_override_the_hosts_of_the_remote_environment_info(connector: Harness) -> None:
    operator, (_, name) = await events_application(connector)
    url = (await request_token(connector, operator, name))["url"]

    info = await connector.http.get(url, headers={"eventshost": "gateway.example.com:9443"})

    assert info.status_code == 200
    api = info.json()["api"]
    assert api["eventsUrl"] == f"https://gateway.example.com:9443/{name}/v1/events"
    assert api["metadataUrl"] == f"{connector.server.https_url}/{name}/v1/metadata/services"


async def test_the_events_host_gives_an_events_url_to_an_application_without_a_runtime(connector: Harness) -> None:
    operator = await connector.operator()
    name = await remote_environment(operator)
    url = (await request_token(connector, operator, name))["url"]

    info = await connector.http.get(url, headers={"EventsHost": "gateway.example.com"})

    assert info.json()["api"]["eventsUrl"] == f"https://gateway.example.com/{name}/v1/events"


@pytest.mark.parametrize(
    "value",
    [
        "",
        "evil.example.com/steal?",
        "https://evil.example.com",
        "user@evil.example.com",
        "evil.example.com:99999",
        "evil.example.com:0",
        "evil.example.com:",
        "-evil.example.com",
        "evil..example.com",
        "[::1",
        "[not-an-address]:443",
        "evil.example.com#",
        "evil example.com",
    ],
)
async def test_a_host_header_that_is_not_a_host_and_port_is_refused_with_400(connector: Harness, value: str) -> None:
    application, _ = await connected(connector)

    refused = await connector.mtls(application.credentials).get(MANAGEMENT_INFO, headers={"MetadataHost": value})

    assert_error(refused, 400, f"the MetadataHost header must be a host or host:port, not {value!r}")


@pytest.mark.parametrize("value", ["[::1]:8443", "10.0.0.1", "gateway.example.com.", "xn--bcher-kva.example"])
async def test_host_headers_may_be_addresses_and_dns_names(connector: Harness, value: str) -> None:
    operator, (_, name) = await events_application(connector)
    url = (await request_token(connector, operator, name))["url"]

    info = await connector.http.get(url, headers={"MetadataHost": value})

    assert info.json()["api"]["metadataUrl"] == f"https://{value}/{name}/v1/metadata/services"


async def test_a_bad_host_header_leaves_the_token_unspent(connector: Harness) -> None:
    operator = await connector.operator()
    url = (await request_token(connector, operator, await remote_environment(operator)))["url"]

    refused = await connector.http.get(url, headers={"EventsHost": "evil.example.com/x"})

    assert_error(refused, 400, "the EventsHost header must be a host or host:port, not 'evil.example.com/x'")
    assert (await connector.http.get(url)).status_code == 200
