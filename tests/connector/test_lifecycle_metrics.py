"""Prometheus counts the lifecycle the audit table records: tokens, certificates, and what will expire soon."""

from __future__ import annotations

from connector.ca import CertificateAuthority
from connector.service import ConnectorService
from kernel.db import Database
from kernel.observability.metrics import REGISTRY
from kernel.settings import Settings
from tests.connector.support import REVOKE, Harness


def _value(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


async def test_a_connection_counts_a_token_issued_and_redeemed_and_a_certificate_issued(connector: Harness) -> None:
    # given
    before = {
        "issued": _value("compass_tokens_total", event="issued"),
        "redeemed": _value("compass_tokens_total", event="redeemed"),
        "certificates": _value("compass_certificates_total", event="issued"),
    }

    # when
    await connector.connect_runtime(await connector.operator())

    # then
    assert _value("compass_tokens_total", event="issued") == before["issued"] + 1
    assert _value("compass_tokens_total", event="redeemed") == before["redeemed"] + 1
    assert _value("compass_certificates_total", event="issued") == before["certificates"] + 1


async def test_a_revocation_is_counted(connector: Harness) -> None:
    runtime = await connector.connect_runtime(await connector.operator())
    before = _value("compass_certificates_total", event="revoked")

    await connector.connector(REVOKE, client=connector.mtls(runtime.credentials))

    assert _value("compass_certificates_total", event="revoked") == before + 1


async def test_upkeep_counts_certificates_that_should_be_renewed(
    connector: Harness, database: Database, settings: Settings, compass_ca: CertificateAuthority
) -> None:
    # given: a fresh certificate, and upkeep whose clock stands past 70% of its validity
    runtime = await connector.connect_runtime(await connector.operator())
    certificate = runtime.credentials.certificate
    validity = certificate.not_valid_after_utc - certificate.not_valid_before_utc
    later = certificate.not_valid_before_utc + validity * 0.8
    upkeep = ConnectorService(database, compass_ca, settings, clock=lambda: later)

    # when
    await upkeep.maintain()

    # then
    assert _value("compass_certificates_expiring_soon") >= 1
