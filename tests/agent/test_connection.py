"""The agent's connection: credential store, token → certificate, renewal with jitter, revocation, backoff.

The store, the renewal times and the backoff are checked on their own; connecting, renewing and revocation
against a real server over HTTP and mTLS.
"""

from __future__ import annotations

import base64
import random
import ssl
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import NameOID

import agent.connection
from agent.connection import (
    BACKOFF_CAP_SECONDS,
    Backoff,
    ConnectionManager,
    csr_for,
    renewal_offset,
    renewal_time,
    subject_name,
)
from agent.connector_client import (
    CertificateRefused,
    CertificateRevoked,
    ConnectorClient,
    ConnectorRefused,
    Unreachable,
)
from agent.errors import AgentError
from agent.loop import Agent, Outcome
from agent.settings import AgentSettings
from agent.sinks.directory import DirectorySink
from agent.state import CertificateMismatch, Credentials, CredentialStore, generate_key, key_to_pem
from agent.status import CompassConnection, ConnectionState
from testing.ports import free_port
from tests.agent.support import Landscape

SUBJECT = "O=Org,OU=OrgUnit,L=Locality,ST=State,C=PL,CN=client-1"


def certificate_for(key: ec.EllipticCurvePrivateKey, *, days: int = 90) -> bytes:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "client-1")])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + timedelta(days=days))
        .sign(key, hashes.SHA256())
    )
    return certificate.public_bytes(Encoding.PEM)


def credentials(key: ec.EllipticCurvePrivateKey | None = None, *, certified: Any = None) -> Credentials:
    key = key or ec.generate_private_key(ec.SECP256R1())
    chain = certificate_for(certified or key)
    return Credentials(key_to_pem(key), chain, chain)


def manager(landscape: Landscape) -> ConnectionManager:
    return ConnectionManager(
        landscape.settings(),
        landscape.credentials(),
        clock=landscape.clock,
        reload_settings=landscape.settings,
    )


# --- the credential store -----------------------------------------------------------------------------------


def test_stored_credentials_are_files_of_mode_0600_in_a_directory_of_mode_0700(tmp_path: Path) -> None:
    # given
    store = CredentialStore(tmp_path / "state")

    # when
    store.save(credentials())

    # then
    assert stat.S_IMODE(store.directory.stat().st_mode) == 0o700
    for path in (store.key_file, store.chain_file, store.ca_file):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert sorted(item.name for item in store.directory.iterdir()) == ["ca.crt", "client.crt", "client.key"]


def test_saved_credentials_load_as_they_were(tmp_path: Path) -> None:
    store = CredentialStore(tmp_path)
    saved = credentials()

    store.save(saved)

    assert store.load() == saved


def test_a_certificate_for_another_key_is_refused_and_the_old_one_kept(tmp_path: Path) -> None:
    # given
    store = CredentialStore(tmp_path)
    old = credentials()
    store.save(old)
    foreign = credentials(certified=ec.generate_private_key(ec.SECP256R1()))

    # when
    with pytest.raises(CertificateMismatch):
        store.save(foreign)

    # then
    assert store.load() == old


def test_a_key_beside_the_certificate_of_another_loads_as_no_credentials(tmp_path: Path) -> None:
    store = CredentialStore(tmp_path)
    store.save(credentials())

    store.key_file.write_bytes(key_to_pem(ec.generate_private_key(ec.SECP256R1())))

    assert store.load() is None


def test_discarded_credentials_are_gone(tmp_path: Path) -> None:
    store = CredentialStore(tmp_path)
    store.save(credentials())

    store.discard()

    assert store.load() is None
    assert list(tmp_path.iterdir()) == []


def test_keys_are_rsa_4096_by_default_and_ec_p256_when_asked() -> None:
    rsa_key = generate_key("rsa4096")
    ec_key = generate_key("ec-p256")

    assert isinstance(rsa_key, rsa.RSAPrivateKey) and rsa_key.key_size == 4096
    assert isinstance(ec_key, ec.EllipticCurvePrivateKey) and ec_key.curve.name == "secp256r1"


# --- CSRs ---------------------------------------------------------------------------------------------------


def test_the_csr_carries_the_announced_subject_attribute_by_attribute_in_order() -> None:
    key = ec.generate_private_key(ec.SECP256R1())

    csr = x509.load_pem_x509_csr(csr_for(key, SUBJECT))

    assert [(attribute.oid, attribute.value) for attribute in csr.subject] == [
        (NameOID.ORGANIZATION_NAME, "Org"),
        (NameOID.ORGANIZATIONAL_UNIT_NAME, "OrgUnit"),
        (NameOID.LOCALITY_NAME, "Locality"),
        (NameOID.STATE_OR_PROVINCE_NAME, "State"),
        (NameOID.COUNTRY_NAME, "PL"),
        (NameOID.COMMON_NAME, "client-1"),
    ]
    assert csr.is_signature_valid


def test_a_subject_with_an_unknown_attribute_is_refused() -> None:
    with pytest.raises(ConnectorRefused, match="subject"):
        subject_name("O=Org,EMAIL=a@b.c,CN=client-1")


# --- renewal times and backoff ------------------------------------------------------------------------------


def test_renewal_comes_after_the_threshold_by_at_most_ten_percent_of_the_validity() -> None:
    held = credentials()
    validity = held.not_after - held.not_before

    times = [renewal_time(held, threshold=0.3, runtime_id=f"runtime-{index}") for index in range(200)]

    assert all(held.not_after - validity * 0.3 <= time <= held.not_after - validity * 0.2 for time in times)


def test_a_fleet_connected_at_once_renews_spread_over_the_ten_percent() -> None:
    held = credentials()
    validity = held.not_after - held.not_before

    times = sorted(renewal_time(held, threshold=0.3, runtime_id=f"runtime-{index}") for index in range(200))

    assert times[-1] - times[0] > validity * 0.09
    assert len(set(times)) == 200


def test_the_renewal_time_of_one_certificate_is_the_same_at_every_check() -> None:
    held = credentials()

    assert renewal_time(held, threshold=0.3, runtime_id="runtime-1") == renewal_time(
        held, threshold=0.3, runtime_id="runtime-1"
    )


def test_a_small_threshold_is_lowered_by_at_most_a_third() -> None:
    offsets = [renewal_offset(f"runtime-{index}", "serial", 0.06) for index in range(200)]

    assert all(0 <= offset < 0.02 for offset in offsets)


def test_the_backoff_doubles_up_to_its_cap() -> None:
    backoff = Backoff(base=15.0)
    rng = random.Random(3)

    delays = [backoff.next_delay(rng) for _ in range(8)]

    expected = [15.0, 30.0, 60.0, 120.0, 240.0, 300.0, 300.0, 300.0]
    assert all(0.8 * want <= got <= 1.2 * want for got, want in zip(delays, expected, strict=True))
    assert max(delays) <= 1.2 * BACKOFF_CAP_SECONDS


async def test_the_agent_backs_off_while_connecting_fails_and_resets_after(tmp_path: Path) -> None:
    # given
    settings = AgentSettings.load(
        connector_url="http://127.0.0.1:1/", runtime_id="runtime-1", state_dir=tmp_path, sync_period=10
    )
    agent = Agent(settings, sink=DirectorySink(tmp_path / "manifests"), rng=random.Random(5))
    failed = Outcome(CompassConnection(state=ConnectionState.CONNECTION_FAILED))
    synchronized = Outcome(CompassConnection(state=ConnectionState.SYNCHRONIZED))

    # when
    backing_off = [agent.next_delay(failed) for _ in range(4)]
    after = agent.next_delay(synchronized)
    again = agent.next_delay(failed)

    # then
    assert all(0.8 * 10 * 2**index <= delay <= 1.2 * 10 * 2**index for index, delay in enumerate(backing_off))
    assert 8.0 <= after <= 12.0
    assert 8.0 <= again <= 12.0


# --- connecting with a token --------------------------------------------------------------------------------


async def test_connecting_stores_the_certificate_and_records_connected(landscape: Landscape) -> None:
    # when
    maintenance = await manager(landscape).ensure(None)

    # then
    assert maintenance.connected and maintenance.connection is not None
    stored = landscape.credentials().load()
    assert stored is not None and stored.matches()
    record = maintenance.record
    assert record.state is ConnectionState.CONNECTED
    assert record.director_url == landscape.compass.settings.mtls_director_url
    assert record.connector_url == landscape.compass.settings.certificate_secured_connector_url
    certificate = record.connection_status.certificate_status
    assert (certificate.not_before, certificate.not_after) == (stored.not_before, stored.not_after)
    assert record.connection_status.established == certificate.acquired


async def test_the_private_key_never_leaves_the_agent(
    landscape: Landscape, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given
    bodies: list[bytes] = []
    send = httpx.AsyncClient.send

    async def recording_send(
        self: httpx.AsyncClient, request: httpx.Request, **kwargs: Any
    ) -> httpx.Response:
        bodies.append(request.content)
        return await send(self, request, **kwargs)

    monkeypatch.setattr(httpx.AsyncClient, "send", recording_send)

    # when
    await manager(landscape).ensure(None)

    # then
    key_pem = landscape.credentials().key_file.read_bytes()
    key_body = b"".join(line for line in key_pem.splitlines() if not line.startswith(b"-----"))
    assert len(bodies) == 2
    for body in bodies:
        assert key_body not in body
        assert base64.b64encode(key_pem) not in body
        assert b"PRIVATE KEY" not in body


async def test_every_connector_call_carries_its_own_request_id(
    landscape: Landscape, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given
    request_ids: list[str | None] = []
    send = httpx.AsyncClient.send

    async def recording_send(
        self: httpx.AsyncClient, request: httpx.Request, **kwargs: Any
    ) -> httpx.Response:
        request_ids.append(request.headers.get("x-request-id"))
        return await send(self, request, **kwargs)

    monkeypatch.setattr(httpx.AsyncClient, "send", recording_send)

    # when
    await manager(landscape).ensure(None)

    # then
    assert len(request_ids) == 2 and all(request_ids)
    assert len(set(request_ids)) == 2


async def test_an_invalid_token_is_connection_failed_with_its_code(landscape: Landscape) -> None:
    # given
    landscape.write_config(TOKEN="not-a-token")

    # when
    maintenance = await manager(landscape).ensure(None)

    # then
    assert maintenance.connection is None
    assert maintenance.record.state is ConnectionState.CONNECTION_FAILED
    assert (maintenance.record.connection_status.error or "").startswith("INVALID_TOKEN")
    assert landscape.credentials().load() is None


async def test_without_a_token_the_connection_fails_and_says_so(landscape: Landscape) -> None:
    (landscape.config_dir / "TOKEN").unlink()

    maintenance = await manager(landscape).ensure(None)

    assert maintenance.record.state is ConnectionState.CONNECTION_FAILED
    assert "no TOKEN" in (maintenance.record.connection_status.error or "")


async def test_an_unreachable_connector_is_connection_failed(landscape: Landscape) -> None:
    landscape.write_config(CONNECTOR_URL=f"http://127.0.0.1:{free_port()}/connector/graphql")

    maintenance = await manager(landscape).ensure(None)

    assert maintenance.record.state is ConnectionState.CONNECTION_FAILED
    assert (maintenance.record.connection_status.error or "").startswith("unreachable")


async def test_a_record_in_connection_failed_connects_again_with_the_token(landscape: Landscape) -> None:
    # given: a first attempt failed, then the operator put a valid token in place
    subject = manager(landscape)
    token = (landscape.config_dir / "TOKEN").read_text()
    landscape.write_config(TOKEN="not-a-token")
    failed = await subject.ensure(None)
    landscape.write_config(TOKEN=token.strip())

    # when
    maintenance = await subject.ensure(failed.record)

    # then
    assert maintenance.connected
    assert maintenance.record.state is ConnectionState.CONNECTED
    assert maintenance.record.connection_status.error is None


# --- renewal ------------------------------------------------------------------------------------------------


async def connected(landscape: Landscape) -> tuple[ConnectionManager, CompassConnection, Credentials]:
    subject = manager(landscape)
    record = (await subject.ensure(None)).record
    held = landscape.credentials().load()
    assert held is not None
    return subject, record, held


async def test_a_certificate_before_its_renewal_time_is_kept(landscape: Landscape) -> None:
    subject, record, held = await connected(landscape)
    landscape.clock.advance((held.not_after - held.not_before) * 0.69)

    maintenance = await subject.ensure(record)

    assert not maintenance.renewed
    assert maintenance.connection is not None and maintenance.connection.credentials == held


async def test_a_certificate_past_its_renewal_time_is_renewed_over_mtls(landscape: Landscape) -> None:
    # given
    subject, record, held = await connected(landscape)
    landscape.clock.advance((held.not_after - held.not_before) * 0.8)
    moved = landscape.clock()

    # when
    maintenance = await subject.ensure(record)

    # then
    assert maintenance.renewed
    renewed = landscape.credentials().load()
    assert renewed is not None and renewed.serial != held.serial
    assert renewed.certificate.subject == held.certificate.subject
    renewed_at = maintenance.record.connection_status.renewed
    assert renewed_at is not None and renewed_at >= moved  # the agent's clock, not the wall clock
    assert maintenance.record.state is ConnectionState.CONNECTED


async def test_refresh_credentials_now_renews_at_once_and_is_reset(landscape: Landscape) -> None:
    subject, record, _ = await connected(landscape)
    record.refresh_credentials_now = True

    maintenance = await subject.ensure(record)

    assert maintenance.renewed
    assert maintenance.record.refresh_credentials_now is False


async def test_a_renewed_certificate_for_another_key_is_refused_and_the_current_one_kept(
    landscape: Landscape, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given: the CSR sent is for a key other than the one the agent stores
    subject, record, held = await connected(landscape)
    monkeypatch.setattr(agent.connection, "csr_for", lambda key, name: csr_for(generate_key("ec-p256"), name))

    # when
    maintenance = await subject.ensure(record, force_renewal=True)

    # then
    assert maintenance.record.state is ConnectionState.CONNECTION_MAINTENANCE_FAILED
    assert "does not certify" in (maintenance.record.connection_status.error or "")
    assert landscape.credentials().load() == held
    assert maintenance.connection is not None and maintenance.connection.credentials == held


async def test_a_failed_renewal_keeps_using_the_current_certificate(landscape: Landscape) -> None:
    subject, record, held = await connected(landscape)
    record.connector_url = f"https://127.0.0.1:{free_port()}/connector/graphql"

    maintenance = await subject.ensure(record, force_renewal=True)

    assert maintenance.record.state is ConnectionState.CONNECTION_MAINTENANCE_FAILED
    assert (maintenance.record.connection_status.error or "").startswith("renewal failed: unreachable")
    assert maintenance.connection is not None and maintenance.connection.credentials == held


# --- revocation and expiry ----------------------------------------------------------------------------------


async def revoke_own_certificate(landscape: Landscape, record: CompassConnection, held: Credentials) -> None:
    store = landscape.credentials()
    files = {"chain_file": str(store.chain_file), "key_file": str(store.key_file)}
    url = record.connector_url or ""
    async with ConnectorClient.for_certificate(url, held, timeout=10, **files) as client:
        assert await client.revoke()


async def test_a_revoked_certificate_is_given_up_at_renewal(landscape: Landscape) -> None:
    # given
    subject, record, held = await connected(landscape)
    await revoke_own_certificate(landscape, record, held)

    # when
    maintenance = await subject.ensure(record, force_renewal=True)

    # then
    assert maintenance.connection is None
    assert maintenance.record.state is ConnectionState.CONNECTION_MAINTENANCE_FAILED
    error = maintenance.record.connection_status.error or ""
    assert held.serial in error and "CERTIFICATE_REVOKED" in error
    assert landscape.credentials().load() is None


async def test_after_a_failed_sync_a_revocation_is_found_by_asking_the_connector(
    landscape: Landscape,
) -> None:
    # given: a sync failure that does not say why
    subject, record, held = await connected(landscape)
    maintenance = await subject.ensure(record)
    assert maintenance.connection is not None
    await revoke_own_certificate(landscape, record, held)

    # when
    checked = await subject.check_certificate(record, maintenance.connection, AgentError("the sync failed"))

    # then
    assert checked.connection is None
    assert checked.record.state is ConnectionState.CONNECTION_MAINTENANCE_FAILED
    assert landscape.credentials().load() is None


async def test_after_a_failed_sync_a_good_certificate_is_kept(landscape: Landscape) -> None:
    subject, record, held = await connected(landscape)
    maintenance = await subject.ensure(record)
    assert maintenance.connection is not None

    timed_out = AgentError("the Director timed out")
    checked = await subject.check_certificate(record, maintenance.connection, timed_out)

    assert checked.connection is not None
    assert landscape.credentials().load() == held


async def test_an_expired_certificate_makes_the_agent_connect_with_its_token(landscape: Landscape) -> None:
    # given
    subject, record, held = await connected(landscape)
    await landscape.issue_token()
    landscape.clock.advance(held.not_after - held.not_before + timedelta(seconds=1))

    # when
    maintenance = await subject.ensure(record)

    # then
    assert maintenance.connected
    current = landscape.credentials().load()
    assert current is not None and current.serial != held.serial


async def test_a_refusal_that_is_not_a_revocation_is_reported_and_the_certificate_kept(
    landscape: Landscape, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given: something in between refuses the certificate at the handshake
    subject, record, held = await connected(landscape)
    maintenance = await subject.ensure(record)
    assert maintenance.connection is not None
    monkeypatch.setattr(httpx.AsyncClient, "post", refusing_post("SSLV3_ALERT_BAD_CERTIFICATE"))

    # when
    checked = await subject.check_certificate(record, maintenance.connection, AgentError("the sync failed"))

    # then
    assert checked.record.state is ConnectionState.CONNECTION_MAINTENANCE_FAILED
    assert "refused" in (checked.record.connection_status.error or "")
    assert checked.connection is not None
    assert landscape.credentials().load() == held


async def test_a_missing_record_with_credentials_connects_again_with_the_token(landscape: Landscape) -> None:
    subject, _, held = await connected(landscape)
    await landscape.issue_token()

    maintenance = await subject.ensure(None)

    assert maintenance.connected
    renewed = landscape.credentials().load()
    assert renewed is not None and renewed.serial != held.serial


# --- refusals during the TLS handshake (a proxy that checks the CRL) ----------------------------------------


def refusing_post(alert: str) -> Any:
    async def post(self: httpx.AsyncClient, url: str, **kwargs: Any) -> httpx.Response:
        cause = ssl.SSLError(1, f"[SSL: {alert}] {alert.lower().replace('_', ' ')} (_ssl.c:2580)")
        raise httpx.ConnectError(str(cause)) from cause

    return post


@pytest.mark.parametrize(
    ("alert", "refusal"),
    [
        ("SSLV3_ALERT_CERTIFICATE_REVOKED", CertificateRevoked),
        ("SSLV3_ALERT_CERTIFICATE_EXPIRED", CertificateRefused),
        ("SSLV3_ALERT_BAD_CERTIFICATE", CertificateRefused),
        ("WRONG_VERSION_NUMBER", Unreachable),
    ],
)
async def test_a_tls_alert_about_the_certificate_is_a_refusal_of_it(
    alert: str, refusal: type[Exception], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given
    store = CredentialStore(tmp_path)
    held = credentials()
    store.save(held)
    monkeypatch.setattr(httpx.AsyncClient, "post", refusing_post(alert))
    files = {"chain_file": str(store.chain_file), "key_file": str(store.key_file)}

    # when / then
    async with ConnectorClient.for_certificate("https://127.0.0.1:1/", held, timeout=1, **files) as client:
        with pytest.raises(refusal):
            await client.configuration()
