"""Revocation by the holder (`revokeCertificate`) or an operator, what a revoked certificate can do, the CRL.

By default a revoked certificate authenticates nothing; with ``revoked_certificates="renewal-only"`` (older
Compass) it still reaches the Director, but it never gets another certificate, by no path.
"""

from __future__ import annotations

from datetime import timedelta

from cryptography import x509

from tests.connector.support import (
    CONFIGURATION,
    REVOKE,
    Connected,
    Harness,
    HarnessFactory,
    csr_b64,
    ec_key,
    serial_hex,
    sign_document,
    unb64,
)

RUNTIME = 'query { result: runtime(id: "%s") { id } }'
VIEWER = "query { result: viewer { id type } }"
REVOKE_RUNTIME_CERTIFICATES = "mutation ($id: ID!) { result: revokeRuntimeCertificates(id: $id) }"
APPLICATIONS_FOR_RUNTIME = 'query { result: applicationsForRuntime(runtimeID: "%s") { totalCount } }'


async def revoked_runtime(connector: Harness) -> Connected:
    runtime = await connector.connect_runtime(await connector.operator())
    assert (await connector.connector(REVOKE, client=connector.mtls(runtime.credentials))).result is True
    return runtime


async def crl(connector: Harness) -> x509.CertificateRevocationList:
    response = await connector.http.get("/connector/crl")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/x-pem-file"
    return x509.load_pem_x509_crl(response.content)


def listed(revocation_list: x509.CertificateRevocationList, connected: Connected) -> bool:
    serial = connected.credentials.certificate.serial_number
    return revocation_list.get_revoked_certificate_by_serial_number(serial) is not None


async def test_revoked_certificate_is_refused_everywhere_by_default(connector: Harness) -> None:
    # given
    runtime = await revoked_runtime(connector)
    client = connector.mtls(runtime.credentials)

    # when
    answers = [
        await connector.director(client, VIEWER),
        await connector.director(client, RUNTIME % runtime.object_id),
        await connector.connector(CONFIGURATION, client=client),
        await connector.connector(sign_document(csr_b64(ec_key(), runtime.subject)), client=client),
        await connector.connector(REVOKE, client=client),
    ]

    # then
    assert [answer.codes for answer in answers] == [["CERTIFICATE_REVOKED"]] * 5
    assert {answer.status for answer in answers} == {403}
    assert all(answer.body["data"] is None for answer in answers)


async def test_revocation_is_recorded_with_serial_and_time(connector: Harness) -> None:
    # given
    runtime = await revoked_runtime(connector)

    # when
    record = await connector.certificate_record(runtime.credentials.serial)

    # then
    assert record is not None and record.revoked_at is not None
    [event] = await connector.audit("certificate_revoked", serial=runtime.credentials.serial)
    assert (event.client_id, event.remote_addr) == (runtime.client_id, "127.0.0.1")


async def test_revocation_leaves_the_clients_other_certificates_valid(connector: Harness) -> None:
    # given: a runtime with a renewed certificate; the first one is revoked
    runtime = await connector.connect_runtime(await connector.operator())
    key = ec_key()
    renewed = connector.credentials((await connector.renew(runtime.credentials, key)).result, key)
    await connector.connector(REVOKE, client=connector.mtls(runtime.credentials))

    # when
    answer = await connector.director(connector.mtls(renewed), RUNTIME % runtime.object_id)

    # then
    assert answer.result == {"id": runtime.object_id}


async def test_renewal_only_mode_lets_a_revoked_certificate_call_the_director(
    connector_with: HarnessFactory,
) -> None:
    # given
    connector = await connector_with(revoked_certificates="renewal-only")
    runtime = await revoked_runtime(connector)

    # when
    answer = await connector.director(connector.mtls(runtime.credentials), VIEWER)

    # then
    assert answer.result == {"id": runtime.object_id, "type": "RUNTIME"}


async def test_renewal_only_mode_refuses_renewal_of_a_revoked_certificate(
    connector_with: HarnessFactory,
) -> None:
    # given
    connector = await connector_with(revoked_certificates="renewal-only")
    runtime = await revoked_runtime(connector)
    client = connector.mtls(runtime.credentials)

    # when
    configuration = await connector.connector(CONFIGURATION, client=client)
    signing = await connector.connector(sign_document(csr_b64(ec_key(), runtime.subject)), client=client)

    # then
    assert configuration.codes == signing.codes == ["CERTIFICATE_REVOKED"]


async def test_renewal_only_mode_hands_a_revoked_certificate_no_signing_token(
    connector_with: HarnessFactory,
) -> None:
    """Else the token from `configuration` would buy a fresh certificate over plain HTTP."""
    # given
    connector = await connector_with(revoked_certificates="renewal-only")
    runtime = await revoked_runtime(connector)

    # when
    configuration = await connector.connector(CONFIGURATION, client=connector.mtls(runtime.credentials))

    # then
    assert configuration.codes == ["CERTIFICATE_REVOKED"]
    assert configuration.body["data"] is None


async def test_signing_token_from_before_the_revocation_buys_nothing(connector: Harness) -> None:
    # given: a renewal started (signing token in hand), then the certificate is revoked
    runtime = await connector.connect_runtime(await connector.operator())
    client = connector.mtls(runtime.credentials)
    signing_token = (await connector.connector(CONFIGURATION, client=client)).result["token"]["token"]
    await connector.connector(REVOKE, client=client)

    # when: the token is used over plain HTTP
    answer = await connector.connector(sign_document(csr_b64(ec_key(), runtime.subject)), token=signing_token)

    # then
    assert answer.codes == ["TOKEN_EXPIRED"]


async def test_crl_lists_the_revoked_serial_signed_by_the_ca(connector: Harness) -> None:
    # given
    revoked = await revoked_runtime(connector)
    valid = await connector.connect_runtime(await connector.operator())

    # when
    revocation_list = await crl(connector)

    # then
    assert revocation_list.is_signature_valid(connector.ca.certificate.public_key())  # type: ignore[arg-type]
    assert revocation_list.issuer == connector.ca.certificate.subject
    assert listed(revocation_list, revoked)
    assert not listed(revocation_list, valid)


async def test_expired_certificates_leave_the_revocation_store(connector: Harness) -> None:
    # given: a revoked certificate, and a moment after it expired
    runtime = await revoked_runtime(connector)
    assert listed(await crl(connector), runtime)
    connector.clock.advance(timedelta(days=91))

    # when
    revocation_list = await crl(connector)

    # then
    assert not listed(revocation_list, runtime)
    assert await connector.certificate_record(runtime.credentials.serial) is None


async def test_operator_revokes_every_certificate_of_a_runtime(connector: Harness) -> None:
    # given: a runtime with two certificates, and another runtime of the same tenant
    operator = await connector.operator()
    runtime = await connector.connect_runtime(operator)
    renewal = await connector.renew(runtime.credentials)
    renewed = x509.load_pem_x509_certificate(unb64(renewal.result["clientCertificate"]))
    other = await connector.connect_runtime(operator)

    # when
    serials = (await operator.query(REVOKE_RUNTIME_CERTIFICATES, {"id": runtime.object_id}))["result"]

    # then
    assert sorted(serials) == sorted([runtime.credentials.serial, serial_hex(renewed)])
    refused = await connector.director(connector.mtls(runtime.credentials), RUNTIME % runtime.object_id)
    assert refused.codes == ["CERTIFICATE_REVOKED"]
    still = await connector.director(connector.mtls(other.credentials), RUNTIME % other.object_id)
    assert still.result == {"id": other.object_id}
    assert listed(await crl(connector), runtime)


async def test_unregistering_a_runtime_revokes_its_certificates_and_keeps_them_in_the_crl(
    connector: Harness,
) -> None:
    # given
    operator = await connector.operator()
    runtime = await connector.connect_runtime(operator)

    # when
    await operator.query("mutation ($id: ID!) { result: unregisterRuntime(id: $id) { id } }", {"id": runtime.object_id})

    # then: refused here, and listed for proxies that check the CRL themselves
    refused = await connector.director(connector.mtls(runtime.credentials), VIEWER)
    assert refused.codes in (["CERTIFICATE_REVOKED"], ["UNAUTHENTICATED"])
    assert listed(await crl(connector), runtime)


async def test_certificate_lifecycle_is_audited(connector: Harness) -> None:
    # given: issued, renewed, revoked, then refused a renewal
    runtime = await connector.connect_runtime(await connector.operator())
    renewed = await connector.renew(runtime.credentials)
    client = connector.mtls(runtime.credentials)
    await connector.connector(REVOKE, client=client)

    # when
    refused = await connector.connector(CONFIGURATION, client=client)

    # then
    assert refused.codes == ["CERTIFICATE_REVOKED"]
    renewed_serial = serial_hex(x509.load_pem_x509_certificate(unb64(renewed.result["clientCertificate"])))
    names = ("certificate_issued", "certificate_renewed", "certificate_revoked", "certificate_refused")
    events = {name: await connector.audit(name, client_id=runtime.client_id) for name in names}
    assert [event.serial for event in events["certificate_issued"]] == [runtime.credentials.serial]
    [renewal] = events["certificate_renewed"]
    assert renewal.serial == renewed_serial
    assert (renewal.detail or {}).get("renewed_from") == runtime.credentials.serial
    assert [event.serial for event in events["certificate_revoked"]] == [runtime.credentials.serial]
    [refusal] = events["certificate_refused"]
    assert refusal.serial == runtime.credentials.serial
    assert refusal.reason is not None and refusal.reason.startswith("CERTIFICATE_REVOKED: ")
