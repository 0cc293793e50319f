"""What the caller gets back, through the served gateway: the target's status, headers and body (5xx as 502),
redirects rewritten into the gateway but never followed, and the gateway's own answers when the target cannot
be reached, is too slow or fails TLS (DATAPLANE.md A.5, A.8)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from dataplane.names import PROXY_TIMEOUT_ANNOTATION
from testing.applications import Manifest, api_entry, application, service
from testing.gateway import ServedGateway
from testing.ports import free_port
from testing.tls import tls_stand_in
from testing.upstream import Answer, UpstreamStandIn

TARGET_PATH = "/echo/api/v1"


def orders(name: str, target_url: str, **options: Any) -> Manifest:
    """Application ``name`` (``options`` are ``application()``'s) with the API ``/<name>/orders/v1``."""
    return application(name, service("Orders", api_entry("v1", target_url)), **options)


@pytest.fixture(scope="module")
def untrusted_stand_in(tmp_path_factory: pytest.TempPathFactory) -> Iterator[UpstreamStandIn]:
    """A target whose certificate comes from a CA the gateway does not trust."""
    with UpstreamStandIn(tls_stand_in(tmp_path_factory.mktemp("untrusted-tls"))) as stand_in:
        yield stand_in


def call_answering(
    gateway: ServedGateway, upstream_stand_in: UpstreamStandIn, name: str
) -> Callable[[Answer], httpx.Response]:
    """Publishes ``name``'s API on the stand-in's ``/echo/api/v1``; the function returned makes the target
    answer ``Answer`` and returns what the caller got for ``/<name>/orders/v1/some/sub/path``."""
    gateway.manifests.put(orders(name, upstream_stand_in.http_url + TARGET_PATH))

    def call(answer: Answer) -> httpx.Response:
        upstream_stand_in.respond(answer)
        return httpx.get(f"{gateway.compass_url}/{name}/orders/v1/some/sub/path", follow_redirects=False)

    return call


def on_stand_in(location: str, stand_in: UpstreamStandIn) -> str:
    """``location`` with ``{port}`` the stand-in's HTTP port."""
    return location.format(port=stand_in.http_url.rsplit(":", 1)[1])


def call_over_https(
    gateway: ServedGateway, stand_in: UpstreamStandIn, name: str, *, skip_verify: bool = False
) -> httpx.Response:
    """Publishes ``name``'s API on the stand-in's HTTPS ``/echo`` and returns what the caller got for
    ``/<name>/orders/v1/x``."""
    gateway.manifests.put(orders(name, stand_in.https_url + "/echo", skip_verify=skip_verify))
    return httpx.get(f"{gateway.compass_url}/{name}/orders/v1/x")


# -- statuses and bodies


@pytest.mark.parametrize("status", [203, 307, 404, 451])
def test_a_status_below_500_passes_through_with_headers_and_body(
    gateway: ServedGateway, upstream_stand_in: UpstreamStandIn, status: int
) -> None:
    call = call_answering(gateway, upstream_stand_in, "responses-passed")

    answer = call(Answer(status, b"from the target", (("X-Target", "yes"), ("Content-Type", "text/plain"))))

    assert answer.status_code == status
    assert answer.content == b"from the target"
    assert answer.headers["X-Target"] == "yes"
    assert answer.headers["Content-Type"] == "text/plain"
    assert "Target-System-Status" not in answer.headers


@pytest.mark.parametrize("status", [500, 502, 503])
def test_a_server_error_of_the_target_becomes_502_naming_its_status(
    gateway: ServedGateway, upstream_stand_in: UpstreamStandIn, status: int
) -> None:
    call = call_answering(gateway, upstream_stand_in, "responses-server-error")

    answer = call(Answer(status, b"target is down"))

    assert answer.status_code == 502
    assert answer.headers["Target-System-Status"] == str(status)
    assert answer.content == b"target is down"


def test_the_gateway_adds_no_date_or_server_header_of_its_own(
    gateway: ServedGateway, upstream_stand_in: UpstreamStandIn
) -> None:
    call = call_answering(gateway, upstream_stand_in, "responses-own-headers")
    target_answer = Answer(200, b"", (("Server", "orders-backend"),))
    upstream_stand_in.respond(target_answer)
    direct = httpx.get(upstream_stand_in.http_url + TARGET_PATH)

    answer = call(target_answer)

    assert answer.headers.get_list("Server") == direct.headers.get_list("Server")
    assert len(answer.headers.get_list("Date")) == len(direct.headers.get_list("Date"))


@pytest.mark.parametrize(
    "hop_by_hop",
    [(("Keep-Alive", "timeout=3"),), (("Connection", "X-Per-Hop"), ("X-Per-Hop", "secret"))],
    ids=["keep-alive", "named-in-connection"],
)
def test_a_hop_by_hop_header_of_the_target_is_not_relayed(
    gateway: ServedGateway, upstream_stand_in: UpstreamStandIn, hop_by_hop: tuple[tuple[str, str], ...]
) -> None:
    call = call_answering(gateway, upstream_stand_in, "responses-hop-by-hop")

    answer = call(Answer(200, b"", (*hop_by_hop, ("X-Kept", "yes"))))

    assert answer.headers["X-Kept"] == "yes"
    assert not {name.lower() for name, _ in hop_by_hop} & set(answer.headers.keys())


# -- redirects


@pytest.mark.parametrize("status", [201, 301, 302, 303, 307, 308])
def test_a_location_into_the_target_api_is_rewritten_to_the_gateway_path(
    gateway: ServedGateway, upstream_stand_in: UpstreamStandIn, status: int
) -> None:
    call = call_answering(gateway, upstream_stand_in, "responses-rewritten")
    location = f"{upstream_stand_in.http_url}{TARGET_PATH}/some/sub/path?page=2&sort=a%20b"

    answer = call(Answer(status, headers=(("Location", location),)))

    assert answer.status_code == status
    assert answer.headers["Location"] == "/responses-rewritten/orders/v1/some/sub/path?page=2&sort=a%20b"


@pytest.mark.parametrize(
    ("location", "rewritten"),
    [
        pytest.param(f"{TARGET_PATH}/next", "/responses-rewritten/orders/v1/next", id="a-relative-location"),
        pytest.param(
            "http://127.0.0.1:{port}" + TARGET_PATH,
            "/responses-rewritten/orders/v1",
            id="the-target-path-itself-to-the-gateway-base",
        ),
    ],
)
def test_a_location_into_the_target_api_in_another_form_is_rewritten(
    gateway: ServedGateway, upstream_stand_in: UpstreamStandIn, location: str, rewritten: str
) -> None:
    call = call_answering(gateway, upstream_stand_in, "responses-rewritten")

    answer = call(Answer(302, headers=(("Location", on_stand_in(location, upstream_stand_in)),)))

    assert answer.headers["Location"] == rewritten


@pytest.mark.parametrize(
    ("status", "location"),
    [
        pytest.param(302, "http://localhost:{port}/echo/api/v1/x", id="another-host"),
        pytest.param(302, "http://127.0.0.1:1/echo/api/v1/x", id="another-port"),
        pytest.param(302, "https://127.0.0.1:{port}/echo/api/v1/x", id="another-scheme-hence-port"),
        pytest.param(
            302, "http://127.0.0.1:{port}/echo/api/v10/x", id="a-longer-segment-not-the-target-path"
        ),
        pytest.param(302, "http://127.0.0.1:{port}/echo/other", id="outside-the-target-path"),
        pytest.param(302, "/echo/other", id="a-relative-location-outside-the-target-path"),
        pytest.param(200, "http://127.0.0.1:{port}/echo/api/v1/x", id="of-a-200-answer-into-the-target-api"),
    ],
)
def test_a_location_outside_the_target_api_or_of_a_200_answer_is_left_alone(
    gateway: ServedGateway, upstream_stand_in: UpstreamStandIn, status: int, location: str
) -> None:
    call = call_answering(gateway, upstream_stand_in, "responses-elsewhere")
    sent = on_stand_in(location, upstream_stand_in)

    answer = call(Answer(status, headers=(("Location", sent),)))

    assert answer.headers["Location"] == sent


def test_the_gateway_never_follows_a_redirect(
    gateway: ServedGateway, upstream_stand_in: UpstreamStandIn
) -> None:
    call = call_answering(gateway, upstream_stand_in, "responses-not-followed")

    answer = call(Answer(302, headers=(("Location", f"{upstream_stand_in.http_url}/echo/elsewhere"),)))

    assert answer.status_code == 302
    assert [request.path for request in upstream_stand_in.requests] == [f"{TARGET_PATH}/some/sub/path"]


# -- transport


def test_an_unreachable_target_is_a_bad_gateway_naming_its_host(gateway: ServedGateway) -> None:
    gateway.manifests.put(orders("responses-unreachable", f"http://127.0.0.1:{free_port()}/api"))

    answer = httpx.get(f"{gateway.compass_url}/responses-unreachable/orders/v1")

    assert answer.status_code == 502
    assert answer.headers["content-type"] == "application/json;charset=UTF-8"
    assert answer.json()["code"] == 502
    assert "127.0.0.1" in answer.json()["error"]


def test_a_target_slower_than_the_applications_timeout_is_a_gateway_timeout(
    gateway: ServedGateway, upstream_stand_in: UpstreamStandIn
) -> None:
    gateway.manifests.put(
        orders(
            "responses-slow",
            upstream_stand_in.http_url + "/slow",
            annotations={PROXY_TIMEOUT_ANNOTATION: "0.5"},
        )
    )

    answer = httpx.get(f"{gateway.compass_url}/responses-slow/orders/v1")

    assert answer.status_code == 504
    assert answer.json() == {"code": 504, "error": "the target 127.0.0.1 did not answer within 0.5 s"}


def test_the_gateways_proxy_timeout_applies_without_an_annotation(
    gateway_factory: Callable[..., ServedGateway], upstream_stand_in: UpstreamStandIn
) -> None:
    impatient = gateway_factory(proxy_timeout="0.5")
    impatient.manifests.put(orders("responses-impatient", upstream_stand_in.http_url + "/slow"))

    answer = httpx.get(f"{impatient.compass_url}/responses-impatient/orders/v1")

    assert answer.status_code == 504
    assert answer.json()["code"] == 504


def test_a_target_with_an_untrusted_certificate_is_a_bad_gateway(
    gateway: ServedGateway, untrusted_stand_in: UpstreamStandIn
) -> None:
    answer = call_over_https(gateway, untrusted_stand_in, "responses-untrusted")

    assert answer.status_code == 502
    assert answer.json()["code"] == 502
    assert untrusted_stand_in.requests == []


@pytest.mark.parametrize(
    ("name", "stand_in", "skip_verify"),
    [
        pytest.param(
            "responses-skip-verify",
            "untrusted_stand_in",
            True,
            id="skip-verify-calls-a-target-with-an-untrusted-certificate",
        ),
        pytest.param(
            "responses-trusted",
            "upstream_stand_in",
            False,
            id="a-target-certified-by-the-trusted-ca-file-is-called",
        ),
    ],
)
def test_a_target_whose_certificate_the_gateway_accepts_is_called(
    gateway: ServedGateway, request: pytest.FixtureRequest, *, name: str, stand_in: str, skip_verify: bool
) -> None:
    answer = call_over_https(gateway, request.getfixturevalue(stand_in), name, skip_verify=skip_verify)

    assert answer.status_code == 200
    assert answer.json()["path"] == "/echo/x"
