"""Client certificates of an external CA (COMPASS_EXTERNAL_CLIENT_CA_FILE), admitted only as a certificate subject
mapping says: over real mTLS and through the trusted proxy's X-Forwarded-Client-Cert. The external CA is trustme's;
the server is the security suite's, trusting it besides its own CA."""

from __future__ import annotations

import asyncio
import json
import ssl
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
import trustme
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from compass.app import load_certificate_authority
from compass.auth.certificates import ClientCertificate, ExternalCAs, client_certificate
from compass.server import prepare_tls
from connector.ca.authority import CertificateAuthority
from director.certsubjectmapping.service import certificate_subject_mapping, subjects_match
from director.models import CertificateSubjectMapping
from kernel.db import Database
from kernel.errors import UnauthenticatedError
from kernel.settings import Settings
from testing.statements import count_statements
from tests.connector.support import CONNECTOR, DIRECTOR, Answer, Harness, harness, post_graphql
from tests.fixtures.servers import StartServer
from tests.security import envoy_xfcc
from tests.security.support import SERVER_SETTINGS, TRUSTED_PROXY
from tests.support import Operator

VIEWER = "query { result: viewer { id type } }"
MAPPING_SCOPES = ["certificate_subject_mapping:read", "certificate_subject_mapping:write"]


@dataclass(frozen=True)
class ExternalCertificate:
    certificate: x509.Certificate
    cert_file: Path
    key_file: Path

    @property
    def subject(self) -> str:
        return self.certificate.subject.rfc4514_string()


class ExternalCA:
    """trustme's CA, issuing client certificates with the full subject Compass's mappings need (C, O, OU, L, CN)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.ca = trustme.CA()
        self.ca_file = directory / "external-ca.pem"
        self.ca.cert_pem.write_to_path(str(self.ca_file))
        self._certificate = x509.load_pem_x509_certificate(self.ca.cert_pem.bytes())
        self._key = serialization.load_pem_private_key(self.ca.private_key_pem.bytes(), None)

    def issue(self, common_name: str, units: tuple[str, ...] = ("Region", "unit"), serial: int | None = None) -> ExternalCertificate:
        key = ec.generate_private_key(ec.SECP256R1())
        attributes = [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "DE"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Org"),
            *(x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, unit) for unit in units),
            x509.NameAttribute(NameOID.LOCALITY_NAME, "Walldorf"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
        now = datetime.now(UTC)
        certificate = (
            x509.CertificateBuilder()
            .subject_name(x509.Name(attributes))
            .issuer_name(self._certificate.subject)
            .public_key(key.public_key())
            .serial_number(serial or x509.random_serial_number())
            .not_valid_before(now - timedelta(minutes=5))
            .not_valid_after(now + timedelta(days=1))
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
            .sign(self._key, hashes.SHA256())  # type: ignore[arg-type]
        )
        stem = self.directory / uuid.uuid4().hex
        cert_file, key_file = stem.with_suffix(".crt"), stem.with_suffix(".key")
        cert_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
        key_file.write_bytes(
            key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
        )
        return ExternalCertificate(certificate, cert_file, key_file)


@pytest.fixture(scope="session")
def external_ca(tmp_path_factory: pytest.TempPathFactory) -> ExternalCA:
    return ExternalCA(tmp_path_factory.mktemp("external-ca"))


@pytest.fixture
async def server(
    start_server: StartServer, database: Database, tmp_path: Path, external_ca: ExternalCA
) -> AsyncIterator[Harness]:
    settings = {**SERVER_SETTINGS, "external_client_ca_file": external_ca.ca_file}
    async with harness(start_server(**settings), database, tmp_path) as subject:
        yield subject


def client_of(server: Harness, holder: ExternalCertificate) -> httpx.AsyncClient:
    context = ssl.create_default_context(cadata=server.ca.ca_pem)
    context.load_cert_chain(str(holder.cert_file), str(holder.key_file))
    return server.mtls(context=context)


async def map_subject(
    admin: Operator, subject: str, consumer_type: str, consumer_id: str | None, levels: list[str]
) -> str:
    consumer = f", internalConsumerID: {json.dumps(consumer_id)}" if consumer_id else ""
    data = await admin.query(f"""
mutation {{
  result: createCertificateSubjectMapping(in: {{
    subject: {json.dumps(subject)}, consumerType: "{consumer_type}"{consumer}, tenantAccessLevels: {json.dumps(levels)}
  }}) {{ id }}
}}
""")
    return str(data["result"]["id"])


async def viewer(server: Harness, holder: ExternalCertificate, tenant: str | None) -> Answer:
    headers = {"Tenant": tenant} if tenant else None
    return await post_graphql(client_of(server, holder), DIRECTOR, VIEWER, headers=headers)


@dataclass(frozen=True)
class Mapped:
    operator: Operator
    runtime_id: str
    holder: ExternalCertificate


@pytest.fixture
async def mapped_runtime(server: Harness, external_ca: ExternalCA) -> Mapped:
    """A runtime, and an external certificate mapped to it with access to its (account) tenant."""
    operator = await server.operator()
    runtime_id = await server.register_runtime(operator)
    holder = external_ca.issue(f"runtime-{uuid.uuid4().hex[:8]}")
    admin = await server.operator(operator.tenant_id, scopes=MAPPING_SCOPES)
    await map_subject(admin, holder.subject, "Runtime", runtime_id, ["account"])
    return Mapped(operator, runtime_id, holder)


class TestMappedCertificates:
    async def test_a_mapped_certificate_acts_as_its_runtime(self, server: Harness, mapped_runtime: Mapped) -> None:
        answer = await viewer(server, mapped_runtime.holder, mapped_runtime.operator.tenant_id)
        assert answer.result == {"id": mapped_runtime.runtime_id, "type": "RUNTIME"}

    async def test_the_trusted_proxy_may_forward_a_mapped_certificate(self, server: Harness, mapped_runtime: Mapped) -> None:
        xfcc = envoy_xfcc.element(envoy_xfcc.certificate_pairs(mapped_runtime.holder.certificate))
        headers = {"X-Forwarded-Client-Cert": xfcc, "Tenant": mapped_runtime.operator.tenant_id}
        answer = await post_graphql(server.http, DIRECTOR, VIEWER, headers=headers)
        assert answer.result == {"id": mapped_runtime.runtime_id, "type": "RUNTIME"}

    async def test_a_super_admin_mapping_holds_compass_super_admin_scopes(
        self, server: Harness, external_ca: ExternalCA
    ) -> None:
        operator = await server.operator()
        application_id = await server.register_application(operator)
        holder = external_ca.issue(f"admin-{uuid.uuid4().hex[:8]}")
        admin = await server.operator(operator.tenant_id, scopes=MAPPING_SCOPES)
        await map_subject(admin, holder.subject, "Super Admin", None, ["account"])
        document = "query { result: applications { data { id } } mappings: certificateSubjectMappings { totalCount } }"
        answer = await post_graphql(client_of(server, holder), DIRECTOR, document, headers={"Tenant": operator.tenant_id})
        assert answer.result == {"data": [{"id": application_id}]}
        assert answer.data["mappings"]["totalCount"] >= 1

    async def test_an_application_mapping_acts_as_its_application(self, server: Harness, external_ca: ExternalCA) -> None:
        operator = await server.operator()
        application_id = await server.register_application(operator)
        holder = external_ca.issue(f"app-{uuid.uuid4().hex[:8]}")
        admin = await server.operator(operator.tenant_id, scopes=MAPPING_SCOPES)
        await map_subject(admin, holder.subject, "Application", application_id, ["account"])
        answer = await viewer(server, holder, operator.tenant_id)
        assert answer.result == {"id": application_id, "type": "APPLICATION"}

    async def test_an_integration_system_mapping_acts_as_the_integration_system(
        self, server: Harness, external_ca: ExternalCA
    ) -> None:
        operator = await server.operator()
        registered = await operator.query(
            f'mutation {{ result: registerIntegrationSystem(in: {{ name: "is-{uuid.uuid4().hex[:8]}" }}) {{ id }} }}'
        )
        system_id = registered["result"]["id"]
        holder = external_ca.issue(f"is-{uuid.uuid4().hex[:8]}")
        admin = await server.operator(operator.tenant_id, scopes=MAPPING_SCOPES)
        await map_subject(admin, holder.subject, "Integration System", system_id, ["account"])
        answer = await viewer(server, holder, operator.tenant_id)
        assert answer.result == {"id": system_id, "type": "INTEGRATION_SYSTEM"}

    async def test_organizational_units_match_in_any_order(self, server: Harness, external_ca: ExternalCA) -> None:
        operator = await server.operator()
        runtime_id = await server.register_runtime(operator)
        name = f"units-{uuid.uuid4().hex[:8]}"
        holder = external_ca.issue(name, units=("unit", "Region"))
        admin = await server.operator(operator.tenant_id, scopes=MAPPING_SCOPES)
        await map_subject(admin, f"C=DE,O=Org,OU=Region,OU=unit,L=Walldorf,CN={name}", "Runtime", runtime_id, ["account"])
        assert (await viewer(server, holder, operator.tenant_id)).result["id"] == runtime_id


class TestRefusals:
    async def test_an_unmapped_certificate_is_unauthenticated(self, server: Harness, external_ca: ExternalCA) -> None:
        operator = await server.operator()
        answer = await viewer(server, external_ca.issue(f"nobody-{uuid.uuid4().hex[:8]}"), operator.tenant_id)
        assert (answer.status, answer.codes) == (401, ["UNAUTHENTICATED"])

    async def test_a_tenant_whose_type_is_no_access_level_is_unauthenticated(
        self, server: Harness, external_ca: ExternalCA
    ) -> None:
        operator = await server.operator()
        runtime_id = await server.register_runtime(operator)
        holder = external_ca.issue(f"sub-{uuid.uuid4().hex[:8]}")
        admin = await server.operator(operator.tenant_id, scopes=MAPPING_SCOPES)
        await map_subject(admin, holder.subject, "Runtime", runtime_id, ["subaccount"])
        answer = await viewer(server, holder, operator.tenant_id)
        assert (answer.status, answer.codes) == (401, ["UNAUTHENTICATED"])
        assert "has no access to account tenant" in answer.messages[0]

    async def test_without_a_tenant_a_certificate_without_global_access_is_unauthenticated(
        self, server: Harness, mapped_runtime: Mapped
    ) -> None:
        answer = await viewer(server, mapped_runtime.holder, None)
        assert (answer.status, answer.codes) == (401, ["UNAUTHENTICATED"])
        assert "does not have global access" in answer.messages[0]

    async def test_global_access_without_a_tenant_is_forbidden(self, server: Harness, external_ca: ExternalCA) -> None:
        """Compass runs such a request without a tenant; every pycompass request acts in one."""
        operator = await server.operator()
        runtime_id = await server.register_runtime(operator)
        holder = external_ca.issue(f"global-{uuid.uuid4().hex[:8]}")
        admin = await server.operator(operator.tenant_id, scopes=MAPPING_SCOPES)
        await map_subject(admin, holder.subject, "Runtime", runtime_id, ["global"])
        answer = await viewer(server, holder, None)
        assert (answer.status, answer.codes) == (403, ["FORBIDDEN"])

    async def test_an_unknown_tenant_is_refused(self, server: Harness, mapped_runtime: Mapped) -> None:
        answer = await viewer(server, mapped_runtime.holder, "no-such-tenant")
        assert answer.codes == ["TENANT_NOT_FOUND"]

    async def test_the_runtime_of_another_tenant_is_not_reached(self, server: Harness, mapped_runtime: Mapped) -> None:
        """The mapping names a runtime; in another tenant of the same type it does not exist."""
        other = await server.operator()
        answer = await viewer(server, mapped_runtime.holder, other.tenant_id)
        assert (answer.status, answer.codes) == (401, ["UNAUTHENTICATED"])

    async def test_a_consumer_type_without_rights_here_is_forbidden(self, server: Harness, external_ca: ExternalCA) -> None:
        operator = await server.operator()
        holder = external_ca.issue(f"viewer-{uuid.uuid4().hex[:8]}")
        admin = await server.operator(operator.tenant_id, scopes=MAPPING_SCOPES)
        await map_subject(admin, holder.subject, "Formation Viewer", None, ["account"])
        answer = await viewer(server, holder, operator.tenant_id)
        assert (answer.status, answer.codes) == (403, ["FORBIDDEN"])

    async def test_an_external_certificate_cannot_pose_as_a_client_of_the_own_ca(
        self, server: Harness, external_ca: ExternalCA
    ) -> None:
        """Same serial and CN as a runtime's own certificate: the Director and the Connector refuse it."""
        operator = await server.operator()
        victim = await server.connect_runtime(operator)
        forged = external_ca.issue(victim.client_id, serial=victim.credentials.certificate.serial_number)
        assert (await viewer(server, forged, operator.tenant_id)).codes == ["UNAUTHENTICATED"]
        answer = await post_graphql(client_of(server, forged), CONNECTOR, "query { result: viewer { id } }")
        assert answer.codes == ["UNAUTHENTICATED"]

    async def test_the_own_cas_certificates_keep_their_meaning(self, server: Harness) -> None:
        operator = await server.operator()
        runtime = await server.connect_runtime(operator)
        answer = await server.director(server.mtls(runtime.credentials), VIEWER)
        assert answer.result == {"id": runtime.object_id, "type": "RUNTIME"}


class TestTLSFiles:
    async def test_an_external_ca_cannot_vouch_for_the_server_certificate(
        self, settings: Settings, tmp_path: Path, external_ca: ExternalCA
    ) -> None:
        """Clients verify the server against client-ca.pem: only pycompass's own chain may be in it."""
        configured = settings.model_copy(update={"data_dir": tmp_path, "external_client_ca_file": external_ca.ca_file})
        tls = prepare_tls(configured, load_certificate_authority(configured))
        impostor = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        external_ca.ca.issue_cert("localhost").configure_cert(impostor)
        listener = await asyncio.start_server(lambda _reader, writer: writer.close(), "127.0.0.1", 0, ssl=impostor)
        port = listener.sockets[0].getsockname()[1]
        async with listener:
            with pytest.raises(ssl.SSLCertVerificationError):
                await asyncio.open_connection(
                    "localhost", port, ssl=ssl.create_default_context(cafile=tls.client_ca), server_hostname="localhost"
                )


def _signed(
    subject: str, signer: tuple[x509.Certificate, ec.EllipticCurvePrivateKey] | None, *, ca: bool, not_after: datetime
) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    """A certificate for ``subject`` (self-signed without ``signer``), a CA or not, valid from a day ago."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)])
    issuer_name, issuer_key = (signer[0].subject, signer[1]) if signer else (name, key)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(issuer_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(datetime.now(UTC) - timedelta(days=1))
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        .sign(issuer_key, hashes.SHA256())
    )
    return certificate, key


def _forwarded(
    certificate: x509.Certificate, ca: CertificateAuthority, external: list[x509.Certificate]
) -> ClientCertificate | None:
    """What client_certificate makes of ``certificate`` forwarded by the trusted proxy."""
    xfcc = envoy_xfcc.element(envoy_xfcc.certificate_pairs(certificate))
    scope = {"type": "http", "client": (TRUSTED_PROXY, 40000), "headers": [(b"x-forwarded-client-cert", xfcc.encode())]}
    return client_certificate(
        scope, ca=ca, trusted_proxies=frozenset({TRUSTED_PROXY}), now=datetime.now(UTC), external=ExternalCAs(external)
    )


@pytest.fixture(scope="module")
def own_ca(tmp_path_factory: pytest.TempPathFactory) -> CertificateAuthority:
    return CertificateAuthority.load_or_create(tmp_path_factory.mktemp("own-ca"))


class TestForwardedExternalCertificates:
    """Nobody verified a forwarded certificate in a handshake: its external issuer must pass what one checks."""

    def test_a_certificate_of_an_expired_external_ca_is_refused(self, own_ca: CertificateAuthority) -> None:
        issuer = _signed("expired CA", None, ca=True, not_after=datetime.now(UTC) - timedelta(minutes=1))
        leaf, _ = _signed("client", issuer, ca=False, not_after=datetime.now(UTC) + timedelta(days=1))
        with pytest.raises(UnauthenticatedError, match="not issued by"):
            _forwarded(leaf, own_ca, [issuer[0]])

    def test_a_certificate_signed_by_a_non_ca_certificate_is_refused(self, own_ca: CertificateAuthority) -> None:
        issuer = _signed("not a CA", None, ca=False, not_after=datetime.now(UTC) + timedelta(days=1))
        leaf, _ = _signed("client", issuer, ca=False, not_after=datetime.now(UTC) + timedelta(days=1))
        with pytest.raises(UnauthenticatedError, match="not issued by"):
            _forwarded(leaf, own_ca, [issuer[0]])

    def test_a_certificate_of_a_valid_external_ca_is_said_to_be_external(self, own_ca: CertificateAuthority) -> None:
        issuer = _signed("external CA", None, ca=True, not_after=datetime.now(UTC) + timedelta(days=1))
        leaf, _ = _signed("client", issuer, ca=False, not_after=datetime.now(UTC) + timedelta(days=1))
        assert _forwarded(leaf, own_ca, [issuer[0]]) == ClientCertificate(leaf, external=True)

    async def test_the_issuer_of_a_forwarded_certificate_is_checked_once(
        self, server: Harness, mapped_runtime: Mapped, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """Which CA issued it is decided with the certificate; the middleware does not ask our CA again."""
        checks: list[x509.Certificate] = []
        verify_issued = CertificateAuthority.verify_issued

        def counted(ca: CertificateAuthority, certificate: x509.Certificate) -> bool:
            checks.append(certificate)
            return verify_issued(ca, certificate)

        monkeypatch.setattr(CertificateAuthority, "verify_issued", counted)
        xfcc = envoy_xfcc.element(envoy_xfcc.certificate_pairs(mapped_runtime.holder.certificate))
        headers = {"X-Forwarded-Client-Cert": xfcc, "Tenant": mapped_runtime.operator.tenant_id}
        answer = await post_graphql(server.http, DIRECTOR, VIEWER, headers=headers)
        assert answer.result == {"id": mapped_runtime.runtime_id, "type": "RUNTIME"}
        assert checks == [mapped_runtime.holder.certificate]


class TestMappingChanges:
    async def test_a_new_mapping_admits_the_next_request(self, server: Harness, external_ca: ExternalCA) -> None:
        operator = await server.operator()
        runtime_id = await server.register_runtime(operator)
        holder = external_ca.issue(f"late-{uuid.uuid4().hex[:8]}")
        assert (await viewer(server, holder, operator.tenant_id)).status == 401
        admin = await server.operator(operator.tenant_id, scopes=MAPPING_SCOPES)
        await map_subject(admin, holder.subject, "Runtime", runtime_id, ["account"])
        assert (await viewer(server, holder, operator.tenant_id)).result["id"] == runtime_id

    async def test_a_deleted_mapping_refuses_the_next_request(self, server: Harness, mapped_runtime: Mapped) -> None:
        admin = await server.operator(mapped_runtime.operator.tenant_id, scopes=MAPPING_SCOPES)
        page = await admin.query("query { result: certificateSubjectMappings(first: 300) { data { id subject } } }")
        (mapping_id,) = [row["id"] for row in page["result"]["data"] if row["subject"] == mapped_runtime.holder.subject]
        await admin.query(f'mutation {{ result: deleteCertificateSubjectMapping(id: "{mapping_id}") {{ id }} }}')
        answer = await viewer(server, mapped_runtime.holder, mapped_runtime.operator.tenant_id)
        assert answer.status == 401

    @pytest.mark.parametrize("mappings", [1, 20])
    async def test_finding_the_mapping_takes_one_statement_for_any_number(
        self, database: Database, mappings: int
    ) -> None:
        subject = f"C=DE,O=Org,OU=unit,L=Walldorf,CN=counted-{uuid.uuid4().hex[:8]}"
        async with database.write_sessions() as session:
            session.add_all(
                CertificateSubjectMapping(
                    subject=f"C=DE,O=Org,OU=unit,L=Walldorf,CN=other-{index}-{uuid.uuid4().hex[:6]}",
                    consumer_type="Runtime",
                    tenant_access_levels=["account"],
                )
                for index in range(mappings)
            )
        with count_statements(database) as statements:
            async with database.read_sessions() as session:
                assert await certificate_subject_mapping.matching(session, subject) is None
        assert len(statements) == 1


class TestSubjectMatching:
    """Compass's SubjectsMatch: CN, C, L and O compared; organizational units as a set of the same size."""

    def test_the_order_of_attributes_does_not_matter(self) -> None:
        assert subjects_match("CN=a,OU=u,O=Org,L=L,C=DE", "C=DE,O=Org,OU=u,L=L,CN=a")

    def test_a_different_common_name_does_not_match(self) -> None:
        assert not subjects_match("C=DE,O=Org,OU=u,L=L,CN=a", "C=DE,O=Org,OU=u,L=L,CN=b")

    def test_an_extra_organizational_unit_does_not_match(self) -> None:
        assert not subjects_match("C=DE,O=Org,OU=u,OU=v,L=L,CN=a", "C=DE,O=Org,OU=u,L=L,CN=a")

    def test_organizational_units_are_compared_trimmed(self) -> None:
        assert subjects_match("C=DE,O=Org,OU=u ,L=L,CN=a", "C=DE,O=Org,OU= u,L=L,CN=a")

    def test_a_repeated_organizational_unit_matches_by_count_as_in_compass(self) -> None:
        """Compass's matchOrganizationalUnits counts and checks membership one way, not as multisets."""
        assert subjects_match("C=DE,O=Org,OU=u,OU=u,L=L,CN=a", "C=DE,O=Org,OU=u,OU=v,L=L,CN=a")
