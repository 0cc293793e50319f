"""The validator's ladder in front of the ingress (DATAPLANE.md B.2, B.3): no certificate 500, unknown application
404 "Please retry", a certificate of another 403, a path that is no event route 404; the certificate from the
TLS handshake or, from a trusted proxy only, X-Forwarded-Client-Cert; and XFCC parsing that never crashes."""

from __future__ import annotations

from ipaddress import ip_network
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dataplane.catalog.base import CatalogError
from dataplane.catalog.model import Application, SecretData
from events.validator import Refusal, Validator, xfcc_subjects
from testing.applications import application
from tests.events.support import ELSEWHERE, PROXY, Harness

KYMA_CONTENT_TYPE = "application/json;charset=UTF-8"
NO_CERTIFICATE = {"code": 500, "error": "X-Forwarded-Client-Cert header not found"}
NO_VALID_SUBJECT = {"code": 403, "error": "no valid subject found"}
NOT_ROUTED = {"code": 404, "error": "could not determine destination host, requested resource not found"}
EVENT_PATHS = ("/v1/events", "/v2/events", "/events")
LEGACY_EVENT = {
    "event-type": "order.created",
    "event-type-version": "v1",
    "event-time": "2012-11-01T22:08:41+00:00",
    "data": {"id": 1},
}
ENVOY_SIDECAR = 'By=spiffe://cluster.local/ns/kyma-system/sa/default;Hash=6d1f;Subject="";URI=spiffe://istio'


def not_in_cache(name: str) -> dict[str, Any]:
    return {
        "code": 404,
        "error": f"while getting application ClientIds: application data for name {name} is not found in the "
        "cache. Please retry",
    }


def kyma_error(answer: httpx.Response) -> dict[str, Any]:
    assert answer.headers["content-type"] == KYMA_CONTENT_TYPE
    body: dict[str, Any] = answer.json()
    return body


def xfcc(subject: str) -> dict[str, str]:
    return {"X-Forwarded-Client-Cert": f'Hash=f4cf;Subject="{subject}";URI=,{ENVOY_SIDECAR}'}


@pytest.fixture
def harness(tmp_path: Path) -> Harness:
    built = Harness.create(tmp_path, EVENTS_TRUSTED_PROXIES=f"{PROXY},192.168.0.0/16")
    built.manifests.put(
        application("standalone"),
        application("compass-app", client_ids=["client-1", "client-2"]),
    )
    return built


async def post_event(client: httpx.AsyncClient, path: str, **options: Any) -> httpx.Response:
    return await client.post(path, json=LEGACY_EVENT, **options)


# -- the ladder


@pytest.mark.parametrize("path", EVENT_PATHS)
async def test_a_request_without_a_certificate_is_refused_with_500(harness: Harness, path: str) -> None:
    async with harness.client(None) as client:
        answer = await post_event(client, f"/standalone{path}")

    assert answer.status_code == 500
    assert kyma_error(answer) == NO_CERTIFICATE


async def test_the_certificate_is_asked_for_before_the_application(harness: Harness) -> None:
    async with harness.client(None) as client:
        answer = await post_event(client, "/nowhere/v1/events")

    assert answer.status_code == 500


@pytest.mark.parametrize("path", EVENT_PATHS)
async def test_an_application_not_in_the_runtime_is_404_please_retry(harness: Harness, path: str) -> None:
    async with harness.client("ghost") as client:
        answer = await post_event(client, f"/ghost{path}")

    assert answer.status_code == 404
    assert kyma_error(answer) == not_in_cache("ghost")


async def test_an_application_removed_by_the_agent_is_not_found_by_the_next_request(harness: Harness) -> None:
    # given
    harness.manifests.remove("Application", "standalone")

    # when
    async with harness.client("standalone") as client:
        answer = await post_event(client, "/standalone/v1/events")

    # then
    assert kyma_error(answer) == not_in_cache("standalone")


async def test_an_unreadable_application_is_404_please_retry(harness: Harness) -> None:
    harness.manifests.path("Application", "standalone").write_text("kind: Application\nmetadata: [")

    async with harness.client("standalone") as client:
        answer = await post_event(client, "/standalone/v1/events")

    assert answer.status_code == 404
    assert kyma_error(answer) == not_in_cache("standalone")


@pytest.mark.parametrize("path", EVENT_PATHS)
async def test_the_cn_of_an_application_without_client_ids_must_be_its_name(
    harness: Harness, path: str
) -> None:
    async with harness.client("someone-else") as client:
        answer = await post_event(client, f"/standalone{path}")

    assert answer.status_code == 403
    assert kyma_error(answer) == NO_VALID_SUBJECT


@pytest.mark.parametrize("common_name", ["client-1", "client-2"])
async def test_any_client_id_of_the_application_is_a_valid_cn(harness: Harness, common_name: str) -> None:
    async with harness.client(common_name) as client:
        answer = await post_event(client, "/compass-app/v1/events")

    assert answer.status_code == 200


async def test_with_client_ids_the_application_name_is_no_longer_a_valid_cn(harness: Harness) -> None:
    async with harness.client("compass-app") as client:
        answer = await post_event(client, "/compass-app/v1/events")

    assert answer.status_code == 403
    assert kyma_error(answer) == NO_VALID_SUBJECT


async def test_a_certificate_of_another_application_is_refused(harness: Harness) -> None:
    async with harness.client("standalone") as client:
        answer = await post_event(client, "/compass-app/events")

    assert answer.status_code == 403


@pytest.mark.parametrize(
    "path", ["/standalone/v3/events", "/standalone/v1/metadata/services", "/standalone/"]
)
async def test_a_path_that_is_no_event_route_is_404_after_the_subject_check(
    harness: Harness, path: str
) -> None:
    async with harness.client("standalone") as client:
        answer = await post_event(client, path)

    assert answer.status_code == 404
    assert kyma_error(answer) == NOT_ROUTED


async def test_a_path_that_is_no_event_route_is_still_refused_403_to_another_certificate(
    harness: Harness,
) -> None:
    async with harness.client("intruder") as client:
        answer = await post_event(client, "/standalone/v3/events")

    assert answer.status_code == 403


@pytest.mark.parametrize("path", ["/standalone", "/", "//v1/events"])
async def test_a_path_without_an_application_and_a_second_segment_is_404(harness: Harness, path: str) -> None:
    async with harness.client(None) as client:
        answer = await post_event(client, path)

    assert answer.status_code == 404
    assert kyma_error(answer) == NOT_ROUTED


async def test_an_application_is_not_found_while_the_catalog_is_not_ready() -> None:
    # given
    validator = Validator(UnreadyCatalog())
    scope = {
        "path": "/standalone/v1/events",
        "headers": [],
        "extensions": {"tls": {"client_cert_chain": ["x"]}},
    }

    # when
    with pytest.raises(Refusal) as refused:
        validator.admit(scope)

    # then
    assert refused.value.status == 404


class UnreadyCatalog:
    """A Kubernetes catalog before its first list: not ready, and every lookup fails."""

    ready = False

    async def start(self) -> None:
        """Never starts."""

    async def stop(self) -> None:
        """Nothing to stop."""

    def application(self, name: str) -> Application | None:
        raise CatalogError("not listed yet")

    def secret(self, name: str) -> SecretData | None:
        raise CatalogError("not listed yet")


# -- X-Forwarded-Client-Cert from trusted proxies only


@pytest.mark.parametrize("peer", [PROXY, "192.168.40.2"])
async def test_a_trusted_proxys_xfcc_subject_is_believed(harness: Harness, peer: str) -> None:
    async with harness.plain_client(peer=peer) as client:
        answer = await post_event(client, "/standalone/v1/events", headers=xfcc("CN=standalone,O=Org,C=DE"))

    assert answer.status_code == 200


async def test_an_xfcc_header_from_another_address_is_ignored(harness: Harness) -> None:
    async with harness.plain_client(peer=ELSEWHERE) as client:
        answer = await post_event(client, "/standalone/v1/events", headers=xfcc("CN=standalone"))

    assert answer.status_code == 500
    assert kyma_error(answer) == NO_CERTIFICATE


async def test_the_handshakes_certificate_wins_over_a_trusted_proxys_xfcc(harness: Harness) -> None:
    async with harness.client("intruder", peer=PROXY) as client:
        answer = await post_event(client, "/standalone/v1/events", headers=xfcc("CN=standalone"))

    assert answer.status_code == 403


async def test_a_trusted_proxys_xfcc_without_a_subject_is_403(harness: Harness) -> None:
    async with harness.plain_client(peer=PROXY) as client:
        answer = await post_event(
            client, "/standalone/v1/events", headers={"X-Forwarded-Client-Cert": "Hash=f4cf"}
        )

    assert answer.status_code == 403
    assert kyma_error(answer) == NO_VALID_SUBJECT


async def test_a_trusted_proxy_without_an_xfcc_header_is_500(harness: Harness) -> None:
    async with harness.plain_client(peer=PROXY) as client:
        answer = await post_event(client, "/standalone/v1/events")

    assert answer.status_code == 500


async def test_the_order_of_the_subjects_names_does_not_matter(harness: Harness) -> None:
    async with harness.plain_client(peer=PROXY) as client:
        answer = await post_event(
            client, "/compass-app/events/", headers=xfcc("O=client organization,CN=client-2")
        )

    assert answer.status_code == 404  # past the subject check: "/events/" is no route of the ingress


async def test_an_unparsable_xfcc_header_carries_no_subject(harness: Harness) -> None:
    header = {"X-Forwarded-Client-Cert": 'Subject="CN=standalone'}  # the quote never closes

    async with harness.plain_client(peer=PROXY) as client:
        answer = await post_event(client, "/standalone/v1/events", headers=header)

    assert answer.status_code == 403


def test_the_settings_read_trusted_proxies_as_addresses_and_networks(tmp_path: Path) -> None:
    harness = Harness.create(tmp_path, EVENTS_TRUSTED_PROXIES='["10.0.0.7", "fd00::/8"]')

    assert harness.ingress.validator.trusted_proxies == (ip_network("10.0.0.7/32"), ip_network("fd00::/8"))


# -- parsing X-Forwarded-Client-Cert


class TestXfccSubjects:
    def test_every_non_empty_subject_of_every_element_is_read(self) -> None:
        header = f'Hash=1;Subject="CN=a";URI=,Hash=2;Subject="CN=b,O=x";DNS=b.example,{ENVOY_SIDECAR}'

        assert xfcc_subjects(header) == ["CN=a", "CN=b,O=x"]

    def test_an_escaped_quote_stays_in_the_value(self) -> None:
        assert xfcc_subjects(r'Subject="CN=a\"b,O=x";Hash=1') == ['CN=a"b,O=x']

    def test_keys_are_case_insensitive(self) -> None:
        assert xfcc_subjects('subject="CN=a"') == ["CN=a"]

    def test_a_bare_subject_is_read(self) -> None:
        assert xfcc_subjects("Hash=1;Subject=CN=a") == ["CN=a"]

    @pytest.mark.parametrize(
        "header",
        ['Subject="CN=a', "Subject", 'Subject="CN=a"x', 'Hash=1;;Subject="CN=a"', 'Subject=CN="a"'],
    )
    def test_a_malformed_header_has_no_subject(self, header: str) -> None:
        assert xfcc_subjects(header) == []

    @settings(max_examples=300, deadline=None)
    @given(st.text(alphabet=st.sampled_from('Subject=CN"\\,;= abx'), max_size=60))
    def test_any_header_parses_without_an_error(self, header: str) -> None:
        assert isinstance(xfcc_subjects(header), list)

    def test_a_long_malformed_header_is_refused_in_linear_time(self) -> None:
        header = "Subject=" + "a" * 100_000 + '"'

        assert xfcc_subjects(header) == []


@pytest.fixture
def validator(tmp_path: Path) -> Validator:
    harness = Harness.create(tmp_path, EVENTS_TRUSTED_PROXIES=PROXY)
    harness.manifests.put(application("shop"))
    return harness.ingress.validator


@pytest.mark.parametrize(
    "subject",
    ["CN=shop,CN=other", "O=shop", "not a name", "1.2.3=x,CN=shop+", "CN=shop\\"],
)
def test_a_subject_without_exactly_one_readable_cn_names_nobody(validator: Validator, subject: str) -> None:
    scope = {"client": (PROXY, 1), "headers": [(b"x-forwarded-client-cert", f'Subject="{subject}"'.encode())]}

    assert validator.common_names(scope) == []


def test_an_ipv4_mapped_peer_address_is_matched_as_ipv4(validator: Validator) -> None:
    scope = {
        "client": (f"::ffff:{PROXY}", 1),
        "headers": [(b"x-forwarded-client-cert", b'Subject="CN=shop"')],
    }

    assert validator.common_names(scope) == ["shop"]
