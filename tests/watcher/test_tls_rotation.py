"""The webhook's certificates: made by the watcher, reused across restarts, renewed and rotated while serving so that
a client holding the published bundle never sees a failed handshake.

The rules are checked on the files at chosen moments (``WebhookTLS.ensure(now)``); the rotation of a running
`compass-watcher serve` with lifetimes of seconds."""

from __future__ import annotations

import ssl
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.exceptions import InvalidSignature

from testing.waiting import wait_until_blocking
from testing.watcher import SERVICE_HOST
from tests.watcher.conftest import StartWatcher
from watcher.tls import WebhookTLS

T0 = datetime(2026, 1, 1, tzinfo=UTC)
CA_LIFETIME = timedelta(days=30)
CERTIFICATE_LIFETIME = timedelta(days=3)
OVERLAP = timedelta(hours=1)
ROTATION_STARTS = T0 + CA_LIFETIME * 2 / 3  # a third of the CA's life left
HOSTNAMES = [SERVICE_HOST, f"{SERVICE_HOST}.cluster.local", "localhost", "127.0.0.1", "::1"]


def webhook_tls(directory: Path) -> WebhookTLS:
    return WebhookTLS(
        directory,
        HOSTNAMES,
        ca_lifetime=CA_LIFETIME,
        certificate_lifetime=CERTIFICATE_LIFETIME,
        overlap=OVERLAP,
    )


def bundle(directory: Path) -> list[x509.Certificate]:
    return x509.load_pem_x509_certificates((directory / "ca.crt").read_bytes())


def serving(directory: Path) -> x509.Certificate:
    """The leaf of tls.crt (which goes on with its CA)."""
    return x509.load_pem_x509_certificates((directory / "tls.crt").read_bytes())[0]


def verifies(certificate: x509.Certificate, trusted: list[x509.Certificate]) -> bool:
    """Whether one of ``trusted`` signed ``certificate`` (what a client's chain check comes to here)."""
    for ca in trusted:
        try:
            certificate.verify_directly_issued_by(ca)
        except (InvalidSignature, ValueError, TypeError):  # another signer, another issuer name
            continue
        return True
    return False


class TestFiles:
    def test_the_first_start_makes_a_ca_and_a_serving_certificate_for_the_webhook_s_names(
        self, tmp_path: Path
    ) -> None:
        directory = tmp_path / "tls"

        webhook_tls(directory).ensure(T0)

        [ca] = bundle(directory)
        certificate = serving(directory)
        assert verifies(certificate, [ca])
        names = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        assert set(names.get_values_for_type(x509.DNSName)) == {
            SERVICE_HOST,
            f"{SERVICE_HOST}.cluster.local",
            "localhost",
        }
        assert {str(address) for address in names.get_values_for_type(x509.IPAddress)} == {"127.0.0.1", "::1"}
        assert certificate.not_valid_after_utc == T0 + CERTIFICATE_LIFETIME

    def test_the_files_are_private(self, tmp_path: Path) -> None:
        directory = tmp_path / "tls"

        webhook_tls(directory).ensure(T0)

        assert directory.stat().st_mode & 0o777 == 0o700
        modes = {path.name: path.stat().st_mode & 0o777 for path in directory.iterdir()}
        assert modes == {"ca.crt": 0o600, "ca.key": 0o600, "tls.crt": 0o600, "tls.key": 0o600}

    def test_a_restart_reuses_valid_files(self, tmp_path: Path) -> None:
        directory = tmp_path / "tls"
        webhook_tls(directory).ensure(T0)
        before = {path.name: path.read_bytes() for path in directory.iterdir()}

        webhook_tls(directory).ensure(T0 + timedelta(days=1))

        assert {path.name: path.read_bytes() for path in directory.iterdir()} == before

    def test_an_unreadable_bundle_is_replaced_by_a_new_ca(self, tmp_path: Path) -> None:
        directory = tmp_path / "tls"
        webhook_tls(directory).ensure(T0)
        (directory / "ca.crt").write_text("not a certificate")

        webhook_tls(directory).ensure(T0)

        [ca] = bundle(directory)
        assert verifies(serving(directory), [ca])

    def test_an_expired_ca_is_replaced(self, tmp_path: Path) -> None:
        directory = tmp_path / "tls"
        webhook_tls(directory).ensure(T0)
        [old] = bundle(directory)

        webhook_tls(directory).ensure(T0 + CA_LIFETIME + timedelta(seconds=1))

        [new] = bundle(directory)
        assert new != old
        assert verifies(serving(directory), [new])


class TestRenewal:
    def test_the_serving_certificate_is_kept_until_a_third_of_its_life_is_left(self, tmp_path: Path) -> None:
        directory = tmp_path / "tls"
        tls = webhook_tls(directory)
        tls.ensure(T0)
        first = serving(directory)

        tls.ensure(T0 + CERTIFICATE_LIFETIME * 2 / 3 - timedelta(seconds=1))

        assert serving(directory) == first

    def test_then_it_is_renewed_by_the_same_ca(self, tmp_path: Path) -> None:
        directory = tmp_path / "tls"
        tls = webhook_tls(directory)
        tls.ensure(T0)
        first, ca = serving(directory), bundle(directory)

        tls.ensure(T0 + CERTIFICATE_LIFETIME * 2 / 3)

        assert serving(directory) != first
        assert bundle(directory) == ca
        assert verifies(serving(directory), ca)


class TestCARotation:
    def test_a_next_ca_is_published_beside_the_current_one_which_still_signs(self, tmp_path: Path) -> None:
        directory = tmp_path / "tls"
        tls = webhook_tls(directory)
        tls.ensure(T0)
        [current] = bundle(directory)

        tls.ensure(ROTATION_STARTS)

        first, upcoming = bundle(directory)
        assert first == current
        assert upcoming != current
        assert verifies(serving(directory), [current])

    def test_the_next_ca_signs_only_after_the_overlap(self, tmp_path: Path) -> None:
        directory = tmp_path / "tls"
        tls = webhook_tls(directory)
        tls.ensure(T0)
        tls.ensure(ROTATION_STARTS)
        old, upcoming = bundle(directory)

        tls.ensure(ROTATION_STARTS + OVERLAP - timedelta(seconds=1))
        signed_during_the_overlap = serving(directory)
        tls.ensure(ROTATION_STARTS + OVERLAP)

        assert verifies(signed_during_the_overlap, [old])
        assert verifies(serving(directory), [upcoming])
        assert bundle(directory) == [old, upcoming]

    def test_the_old_ca_leaves_the_bundle_when_it_expires(self, tmp_path: Path) -> None:
        directory = tmp_path / "tls"
        tls = webhook_tls(directory)
        tls.ensure(T0)
        tls.ensure(ROTATION_STARTS)
        _, upcoming = bundle(directory)
        tls.ensure(ROTATION_STARTS + OVERLAP)

        tls.ensure(T0 + CA_LIFETIME + timedelta(seconds=1))

        assert bundle(directory) == [upcoming]
        assert verifies(serving(directory), [upcoming])

    def test_a_restart_during_the_overlap_keeps_both_cas_and_switches_when_it_is_over(
        self, tmp_path: Path
    ) -> None:
        directory = tmp_path / "tls"
        webhook_tls(directory).ensure(T0)
        webhook_tls(directory).ensure(ROTATION_STARTS)
        published = bundle(directory)

        webhook_tls(directory).ensure(ROTATION_STARTS + OVERLAP / 2)
        during = serving(directory)
        webhook_tls(directory).ensure(ROTATION_STARTS + OVERLAP)

        assert bundle(directory) == published
        assert verifies(during, published[:1])
        assert verifies(serving(directory), published[1:])

    def test_every_serving_certificate_verifies_against_the_bundle_published_one_step_before(
        self, tmp_path: Path
    ) -> None:
        directory = tmp_path / "tls"
        tls = webhook_tls(directory)
        moments = [T0 + CA_LIFETIME * step / 100 for step in range(250)]
        moments += [ROTATION_STARTS + OVERLAP, ROTATION_STARTS + CA_LIFETIME + OVERLAP]
        tls.ensure(T0)
        held = bundle(directory)

        for moment in sorted(moments):
            tls.ensure(moment)
            assert verifies(serving(directory), held), moment
            held = bundle(directory)


# A CA of 18 s (a new one published after 12 s, signing 4 s later), serving certificates of 6 s.
SECONDS_LIFETIMES = {"ca_days": str(18 / 86_400), "cert_days": str(6 / 86_400), "ca_overlap_seconds": "4"}


class TestWhileServing:
    def test_the_served_certificate_and_its_ca_change_and_every_handshake_verifies_against_the_bundle(
        self, watcher_factory: StartWatcher
    ) -> None:
        watcher = watcher_factory(**SECONDS_LIFETIMES)
        served: set[x509.Certificate] = set()
        issuers: set[x509.Name] = set()
        largest_bundle = 0
        # A client that reads the published bundle again every second (well within the overlap), as the agent
        # renders it into the webhook configuration at its sync period.
        held, read_at = watcher.bundle(), time.monotonic()

        def handshake() -> bool:
            nonlocal held, read_at, largest_bundle
            if time.monotonic() - read_at >= 1:
                held, read_at = watcher.bundle(), time.monotonic()
                largest_bundle = max(largest_bundle, len(x509.load_pem_x509_certificates(held)))
            certificate = watcher.handshake(watcher.client_context(held)).certificate  # raises if unverified
            served.add(certificate)
            issuers.add(certificate.issuer)
            return len(issuers) >= 2 and len(served) >= 3

        wait_until_blocking(
            handshake, seconds=60, every=0.1, what="a CA rotation", detail=watcher.process.log_tail
        )

        assert largest_bundle == 2
        watcher.process.check_alive()

    def test_a_restart_keeps_the_ca_and_the_serving_certificate(
        self, watcher_factory: StartWatcher, tmp_path: Path
    ) -> None:
        first = watcher_factory(directory=tmp_path)
        published, certificate = first.bundle(), first.handshake(first.client_context()).certificate
        first.process.stop()

        again = watcher_factory(directory=tmp_path)

        assert again.bundle() == published
        assert again.handshake(again.client_context(published)).certificate == certificate

    def test_the_metrics_tell_when_the_certificates_expire(self, watcher_factory: StartWatcher) -> None:
        watcher = watcher_factory()
        certificate = watcher.handshake(watcher.client_context()).certificate
        [ca] = x509.load_pem_x509_certificates(watcher.bundle())

        metrics = watcher.metrics()

        expiry = {
            line.split('"')[1]: float(line.rsplit(" ", 1)[1])
            for line in metrics.splitlines()
            if line.startswith("compass_watcher_certificate_not_after_seconds{")
        }
        assert expiry == {
            "serving": certificate.not_valid_after_utc.timestamp(),
            "ca": ca.not_valid_after_utc.timestamp(),
        }

    def test_a_tls_1_3_client_without_the_bundle_is_refused(self, watcher_factory: StartWatcher) -> None:
        watcher = watcher_factory()

        with pytest.raises(ssl.SSLCertVerificationError):
            watcher.handshake(ssl.create_default_context())
