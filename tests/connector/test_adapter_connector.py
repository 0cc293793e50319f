"""The Connectivity Adapter's connector endpoints (DATAPLANE.md D.3.2) as the seed tutorial walks them, over real
HTTP and TLS sockets, with an openssl-made key and CSR: token → info → certificate → management/info over mTLS →
renewal → revocation. Runs on every backend the Connector tests run on."""

from __future__ import annotations

import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

from cryptography import x509

from tests.connector.support import (
    JSON_TYPE,
    REGISTER_RUNTIME,
    Connected,
    Harness,
    HarnessFactory,
    assert_error,
    credentials_of,
    csr_b64,
    needs_openssl,
    openssl_csr,
    register_application,
    register_events_runtime,
    rsa_key,
    unb64,
)
from tests.connector.test_proxy_header import PROXY, xfcc
from tests.support import Operator

INFO = "/v1/applications/signingRequests/info"
CERTIFICATES = "/v1/applications/certificates"
MANAGEMENT_INFO = "/v1/applications/management/info"
RENEWALS = "/v1/applications/certificates/renewals"
REVOCATIONS = "/v1/applications/certificates/revocations"
HEALTH = "/v1/health"
SUBJECT = "O=Org,OU=OrgUnit,L=Locality,ST=State,C=PL,CN=%s"
LEGACY_TOKEN = "mutation ($id: ID!) { result: requestOneTimeTokenForApplication(id: $id) { token legacyConnectorURL } }"


async def legacy_token(operator: Operator, application_id: str) -> dict[str, str]:
    return dict((await operator.query(LEGACY_TOKEN, {"id": application_id}))["result"])


@needs_openssl
async def test_an_application_connects_renews_and_revokes_as_the_tutorial_does(
    connector: Harness, tmp_path: Path
) -> None:
    # given: an application and its one-time token, whose legacyConnectorURL is the info endpoint
    operator = await connector.operator()
    name = f"Shop {uuid.uuid4().hex[:6]}"
    application_id = await register_application(operator, name)
    issued = await legacy_token(operator, application_id)
    http, mtls = connector.server.http_url, connector.server.https_url
    assert issued["legacyConnectorURL"] == f"{http}{INFO}?token={issued['token']}"

    # when: the application GETs the legacyConnectorURL
    info = await connector.http.get(issued["legacyConnectorURL"])

    # then: where to send the CSR (with a new token), its subject, and the certificate-secured URLs
    assert (info.status_code, info.headers["content-type"]) == (200, JSON_TYPE)
    body = info.json()
    client_id = body["certificate"]["subject"].rsplit("CN=", 1)[1]
    new_token = body["csrUrl"].split("?token=", 1)[1]
    normalized = "mp-" + name.lower().replace(" ", "-")
    assert new_token not in ("", issued["token"])
    assert info.text == (
        f'{{"csrUrl":"{http}{CERTIFICATES}?token={new_token}",'
        f'"api":{{"eventsInfoUrl":"","eventsUrl":"","metadataUrl":"{mtls}/{normalized}/v1/metadata/services",'
        f'"infoUrl":"{mtls}{MANAGEMENT_INFO}","certificatesUrl":"{http}{CERTIFICATES}"}},'
        f'"certificate":{{"subject":"{SUBJECT % client_id}","extensions":"","key-algorithm":"rsa2048"}}}}'
    )

    # when: it POSTs an openssl CSR for that subject to csrUrl
    signed = await connector.http.post(body["csrUrl"], json={"csr": openssl_csr(tmp_path, body["certificate"]["subject"], "first")})

    # then: 201 with the chain, the client certificate and the CA
    assert (signed.status_code, signed.headers["content-type"]) == (201, JSON_TYPE)
    assert list(signed.json()) == ["crt", "clientCrt", "caCrt"]
    client_certificate, ca_certificate = x509.load_pem_x509_certificates(unb64(signed.json()["crt"]))
    assert x509.load_pem_x509_certificates(unb64(signed.json()["clientCrt"])) == [client_certificate]
    assert x509.load_pem_x509_certificates(unb64(signed.json()["caCrt"])) == [ca_certificate]
    credentials = credentials_of(tmp_path, signed.json()["crt"])

    # when: management/info over mTLS with that certificate
    client = connector.mtls(credentials)
    management = await client.get(body["api"]["infoUrl"])

    # then
    assert (management.status_code, management.headers["content-type"]) == (200, JSON_TYPE)
    assert management.text == (
        f'{{"clientIdentity":{{"application":"{normalized}"}},'
        f'"urls":{{"eventsInfoUrl":"","eventsUrl":"","metadataUrl":"{mtls}/{normalized}/v1/metadata/services",'
        f'"renewCertUrl":"{mtls}{RENEWALS}","revokeCertUrl":"{mtls}{REVOCATIONS}"}},'
        f'"certificate":{{"subject":"{SUBJECT % client_id}","extensions":"","key-algorithm":"rsa2048"}}}}'
    )

    # when: it renews with a new CSR, then revokes the renewed certificate with it
    renewal_csr = openssl_csr(tmp_path, body["certificate"]["subject"], "renewal")
    renewed = await client.post(management.json()["urls"]["renewCertUrl"], json={"csr": renewal_csr})
    assert renewed.status_code == 201
    renewed_client = connector.mtls(credentials_of(tmp_path, renewed.json()["crt"]))
    revoked = await renewed_client.post(management.json()["urls"]["revokeCertUrl"])

    # then: a new serial; revocation is 201 with an empty JSON body; the revoked certificate is refused next time
    [renewed_certificate, _] = x509.load_pem_x509_certificates(unb64(renewed.json()["crt"]))
    assert renewed_certificate.serial_number != client_certificate.serial_number
    assert (revoked.status_code, revoked.headers["content-type"], revoked.content) == (201, JSON_TYPE, b"")
    assert_error(
        await renewed_client.get(MANAGEMENT_INFO),
        403,
        "invalid token or certificate: the certificate is revoked and cannot be renewed",
    )
    assert (await client.get(MANAGEMENT_INFO)).status_code == 200


async def test_the_token_may_come_in_the_connector_token_header(connector: Harness) -> None:
    operator = await connector.operator()
    token = await connector.application_token(operator, await connector.register_application(operator))

    info = await connector.http.get(INFO, headers={"Connector-Token": token})

    assert info.status_code == 200
    signing_token = info.json()["csrUrl"].split("?token=", 1)[1]
    csr = csr_b64(rsa_key(), info.json()["certificate"]["subject"])
    signed = await connector.http.post(CERTIFICATES, json={"csr": csr}, headers={"Connector-Token": signing_token})
    assert signed.status_code == 201


async def test_a_used_token_is_refused_with_403(connector: Harness) -> None:
    operator = await connector.operator()
    token = await connector.application_token(operator, await connector.register_application(operator))
    assert (await connector.http.get(INFO, params={"token": token})).status_code == 200

    again = await connector.http.get(INFO, params={"token": token})

    assert_error(again, 403, "invalid token or certificate: the token was already used: tokens are single use")


async def test_an_expired_token_is_refused_with_403(connector: Harness) -> None:
    operator = await connector.operator()
    token = await connector.application_token(operator, await connector.register_application(operator))
    connector.clock.advance(timedelta(seconds=connector.settings.application_token_ttl_seconds + 1))

    late = await connector.http.get(INFO, params={"token": token})

    assert_error(
        late, 403, "invalid token or certificate: the token has expired: request a new one-time token from the Director"
    )


async def test_no_token_nor_certificate_is_refused_with_403(connector: Harness) -> None:
    for response in (
        await connector.http.get(INFO),
        await connector.http.post(CERTIFICATES, json={"csr": "x"}),
        await connector.mtls().get(MANAGEMENT_INFO),
        await connector.mtls().post(RENEWALS, json={"csr": "x"}),
        await connector.mtls().post(REVOCATIONS),
    ):
        assert_error(response, 403, "invalid token or certificate")


async def test_a_runtimes_token_is_refused_and_stays_unspent(connector: Harness) -> None:
    operator = await connector.operator()
    token = await connector.runtime_token(operator, await connector.register_runtime(operator))

    refused = await connector.http.get(INFO, params={"token": token})

    assert_error(
        refused, 403,
        "invalid token or certificate: the token is not valid here: request a new one-time token from the Director",
    )
    assert "token" in await connector.configuration(token)


async def test_a_runtimes_signing_token_is_refused_and_stays_unspent(connector: Harness) -> None:
    operator = await connector.operator()
    token = await connector.runtime_token(operator, await connector.register_runtime(operator))
    announcement = await connector.announce(token)
    csr = csr_b64(rsa_key(), announcement.subject)

    refused = await connector.http.post(CERTIFICATES, params={"token": announcement.signing_token}, json={"csr": csr})

    assert_error(
        refused, 403, "invalid token or certificate: the token is not valid here: only tokens of APPLICATION clients are"
    )
    assert (await connector.sign(announcement, csr)).result["certificateChain"]


async def test_a_runtimes_certificate_is_refused_on_every_certificate_endpoint(connector: Harness) -> None:
    runtime = await connector.connect_runtime(await connector.operator())
    client = connector.mtls(runtime.credentials)

    for response in (
        await client.get(MANAGEMENT_INFO),
        await client.post(RENEWALS, json={"csr": csr_b64(rsa_key(), runtime.subject)}),
        await client.post(REVOCATIONS),
    ):
        assert_error(response, 403, "invalid token or certificate")
    assert (await client.post("/director/graphql", json={"query": "{ viewer { id } }"})).status_code == 200


async def test_a_csr_for_another_subject_is_refused_with_400_and_the_token_stays_unspent(connector: Harness) -> None:
    operator = await connector.operator()
    token = await connector.application_token(operator, await connector.register_application(operator))
    info = (await connector.http.get(INFO, params={"token": token})).json()
    wrong = csr_b64(rsa_key(), SUBJECT % "someone-else")

    refused = await connector.http.post(info["csrUrl"], json={"csr": wrong})

    assert refused.status_code == 400
    assert refused.json()["code"] == 400
    assert refused.json()["error"].startswith("Failed to sign CSR: ")
    good = csr_b64(rsa_key(), info["certificate"]["subject"])
    assert (await connector.http.post(info["csrUrl"], json={"csr": good})).status_code == 201


async def test_a_body_that_is_not_json_is_refused_with_400(connector: Harness) -> None:
    operator = await connector.operator()
    token = await connector.application_token(operator, await connector.register_application(operator))
    info = (await connector.http.get(INFO, params={"token": token})).json()

    refused = await connector.http.post(info["csrUrl"], content=b"{not json")

    assert refused.status_code == 400
    assert refused.json()["error"].startswith(
        "Failed to read certificate request: error while unmarshalling request body: "
    )


async def test_the_events_urls_are_the_applications_default_eventing_url(connector: Harness) -> None:
    # given: an application in a formation with a runtime whose agent announced its event ingress
    operator = await connector.operator()
    name = f"shop-{uuid.uuid4().hex[:6]}"
    application_id = await register_application(operator, name, {"scenarios": ["DEFAULT"]})
    labels = {"scenarios": ["DEFAULT"], "runtime_eventServiceUrl": "https://events.kyma.local", "isNormalized": "false"}
    await operator.query(REGISTER_RUNTIME, {"in": {"name": f"rt-{uuid.uuid4().hex[:6]}", "labels": labels}})
    token = await connector.application_token(operator, application_id)

    # when
    info = (await connector.http.get(INFO, params={"token": token})).json()

    # then
    assert info["api"]["eventsUrl"] == f"https://events.kyma.local/{name}/v1/events"
    assert info["api"]["eventsInfoUrl"] == f"https://events.kyma.local/{name}/v1/events/subscribed"


async def test_the_certificate_may_come_from_a_trusted_proxy(connector_with: HarnessFactory) -> None:
    behind_proxy = await connector_with(trusted_proxies=[PROXY])
    application = await behind_proxy.connect_application(await behind_proxy.operator())
    header = {"X-Forwarded-Client-Cert": xfcc(application.credentials.certificate)}

    management = await behind_proxy.http.get(MANAGEMENT_INFO, headers=header)

    assert management.status_code == 200
    assert management.json()["certificate"]["subject"] == application.subject


async def test_health_answers_200_with_an_empty_body_on_both_listeners_without_credentials(
    connector: Harness,
) -> None:
    for client in (connector.http, connector.mtls()):
        health = await client.get(HEALTH)

        assert (health.status_code, health.content) == (200, b"")


async def connected_application(
    connector: Harness, operator: Operator, name: str, labels: dict[str, Any] | None = None
) -> Connected:
    application_id = await register_application(operator, name, labels)
    return await connector.connect(
        application_id, await connector.application_token(operator, application_id)
    )


async def test_management_info_names_the_callers_application_and_its_own_tenants_eventing_url(
    connector: Harness,
) -> None:
    # given: two tenants, each with an application of the same name in a formation of the same name; tenant B's
    # runtime is the older one and even claims to be A's default eventing runtime
    tenant_a, tenant_b = await connector.operator(), await connector.operator()
    name = f"shop-{uuid.uuid4().hex[:6]}"
    application_a = await register_application(tenant_a, name, {"scenarios": ["DEFAULT"]})
    application_b = await connected_application(connector, tenant_b, name, {"scenarios": ["DEFAULT"]})
    await register_events_runtime(
        tenant_b, "https://events.b.local", {f"{application_a}_defaultEventing": "true"}
    )
    await register_events_runtime(tenant_a, "https://events.a.local")
    token_a = await connector.application_token(tenant_a, application_a)
    application_a_connected = await connector.connect(application_a, token_a)

    for application, events_host in (
        (application_a_connected, "events.a.local"),
        (application_b, "events.b.local"),
    ):
        # when
        management = await connector.mtls(application.credentials).get(MANAGEMENT_INFO)

        # then: its own name, subject and the event ingress of its own tenant's runtime
        assert management.status_code == 200
        assert management.json()["clientIdentity"] == {"application": f"mp-{name}"}
        assert management.json()["certificate"]["subject"] == SUBJECT % application.client_id
        assert management.json()["urls"]["eventsUrl"] == f"https://{events_host}/{name}/v1/events"


async def test_a_token_yields_its_own_application_and_never_another_tenants_runtime(
    connector: Harness,
) -> None:
    # given: tenant A's application has no runtime; tenant B's runtime shares a formation of the same name
    tenant_a, tenant_b = await connector.operator(), await connector.operator()
    name_a, name_b = f"shop-a-{uuid.uuid4().hex[:6]}", f"shop-b-{uuid.uuid4().hex[:6]}"
    application_a = await register_application(tenant_a, name_a, {"scenarios": ["DEFAULT"]})
    application_b = await connected_application(connector, tenant_b, name_b, {"scenarios": ["DEFAULT"]})
    await register_events_runtime(
        tenant_b, "https://events.b.local", {f"{application_a}_defaultEventing": "true"}
    )
    token = await connector.application_token(tenant_a, application_a)

    # when
    info = (await connector.http.get(INFO, params={"token": token})).json()

    # then: A's name, a client id that is not B's, and no eventing URL at all
    assert info["api"]["metadataUrl"] == f"{connector.server.https_url}/mp-{name_a}/v1/metadata/services"
    assert info["certificate"]["subject"] != application_b.subject
    assert (info["api"]["eventsUrl"], info["api"]["eventsInfoUrl"]) == ("", "")


async def test_revoking_a_certificate_leaves_another_tenants_application_connected(
    connector: Harness,
) -> None:
    application_a = await connector.connect_application(await connector.operator())
    application_b = await connector.connect_application(await connector.operator())

    revoked = await connector.mtls(application_a.credentials).post(REVOCATIONS)

    assert revoked.status_code == 201
    assert (await connector.mtls(application_a.credentials).get(MANAGEMENT_INFO)).status_code == 403
    assert (await connector.mtls(application_b.credentials).get(MANAGEMENT_INFO)).status_code == 200


async def test_a_certificate_is_not_renewed_for_another_applications_subject(connector: Harness) -> None:
    application_a = await connector.connect_application(await connector.operator())
    application_b = await connector.connect_application(await connector.operator())

    refused = await connector.mtls(application_a.credentials).post(
        RENEWALS, json={"csr": csr_b64(rsa_key(), application_b.subject)}
    )

    assert refused.status_code == 400
    assert refused.json()["error"].startswith("Failed to sign CSR: ")
