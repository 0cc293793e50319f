"""What the target receives, through the served gateway: the request parameters of a Secret, the query, the
caller's escaping (``encodeUrl``), and the headers (DATAPLANE.md A.5)."""

from __future__ import annotations

import json
from urllib.parse import quote

import httpx
import pytest

from testing.applications import Manifest, api_entry, application, secret, service
from testing.gateway import ServedGateway
from testing.upstream import Recorded, UpstreamStandIn

PARAMETERS = secret(
    "requests-parameters",
    headers=json.dumps({"Hkey1": ["Hval1"], "Hkey2": ["Hval21", "Hval22"]}),
    queryParameters=json.dumps({"Qkey1": ["Qval1"], "Qkey2": ["Qval21", "Qval22"]}),
)


def orders(name: str, target_url: str, *, parameters: bool = False, encode_url: bool = False) -> Manifest:
    """Application ``name`` with the API ``/<name>/orders/v1``, with the request parameters of ``PARAMETERS``
    when ``parameters``."""
    entry = api_entry(
        "v1", target_url, parameters_secret=PARAMETERS["metadata"]["name"] if parameters else None
    )
    return application(name, service("Orders", entry), encode_url=encode_url)


def received(upstream_stand_in: UpstreamStandIn) -> Recorded:
    """The one request the target got."""
    [request] = upstream_stand_in.requests
    return request


@pytest.fixture
def with_parameters(gateway: ServedGateway) -> str:
    """Puts the shared request-parameters Secret; the Application is each test's own."""
    gateway.manifests.put(PARAMETERS)
    return str(PARAMETERS["metadata"]["name"])


# -- request parameters


def test_request_parameters_are_added_as_headers_and_query(
    gateway: ServedGateway, upstream_stand_in: UpstreamStandIn, with_parameters: str
) -> None:
    gateway.manifests.put(
        orders("requests-parameters-added", upstream_stand_in.http_url + "/echo", parameters=True)
    )

    httpx.get(f"{gateway.compass_url}/requests-parameters-added/orders/v1/x")

    request = received(upstream_stand_in)
    assert request.header_values("Hkey1") == ["Hval1"]
    assert request.header_values("Hkey2") == ["Hval21", "Hval22"]
    assert request.query == "Qkey1=Qval1&Qkey2=Qval21&Qkey2=Qval22"


def test_request_parameters_never_replace_the_callers_header_of_that_name(
    gateway: ServedGateway, upstream_stand_in: UpstreamStandIn, with_parameters: str
) -> None:
    gateway.manifests.put(
        orders("requests-own-header", upstream_stand_in.http_url + "/echo", parameters=True)
    )

    httpx.get(f"{gateway.compass_url}/requests-own-header/orders/v1/x", headers={"hkey2": "mine"})

    request = received(upstream_stand_in)
    assert request.header_values("Hkey2") == ["mine"]
    assert request.header_values("Hkey1") == ["Hval1"]


def test_request_parameters_never_replace_the_callers_query_parameter_of_that_name(
    gateway: ServedGateway, upstream_stand_in: UpstreamStandIn, with_parameters: str
) -> None:
    gateway.manifests.put(orders("requests-own-query", upstream_stand_in.http_url + "/echo", parameters=True))

    httpx.get(f"{gateway.compass_url}/requests-own-query/orders/v1/x?Qkey2=mine")

    assert received(upstream_stand_in).query == "Qkey1=Qval1&Qkey2=mine"


def test_the_query_is_the_targets_then_the_callers(
    gateway: ServedGateway, upstream_stand_in: UpstreamStandIn
) -> None:
    gateway.manifests.put(orders("requests-query", upstream_stand_in.http_url + "/echo?fixed=1&b=2"))

    httpx.get(f"{gateway.compass_url}/requests-query/orders/v1/x?b=3&a=4&a=5")

    assert received(upstream_stand_in).query == "fixed=1&b=2&b=3&a=4&a=5"


def test_with_request_parameters_the_merged_query_is_sorted_by_name_as_kymas_is(
    gateway: ServedGateway, upstream_stand_in: UpstreamStandIn, with_parameters: str
) -> None:
    gateway.manifests.put(
        orders("requests-query-sorted", upstream_stand_in.http_url + "/echo?fixed=1", parameters=True)
    )

    httpx.get(f"{gateway.compass_url}/requests-query-sorted/orders/v1/x?b=3&a=4&a=5")

    assert received(upstream_stand_in).query == "Qkey1=Qval1&Qkey2=Qval21&Qkey2=Qval22&a=4&a=5&b=3&fixed=1"


def test_the_callers_query_escaping_is_kept(
    gateway: ServedGateway, upstream_stand_in: UpstreamStandIn
) -> None:
    gateway.manifests.put(orders("requests-query-escaped", upstream_stand_in.http_url + "/echo"))

    httpx.get(f"{gateway.compass_url}/requests-query-escaped/orders/v1/x?q=a%20b%26c&r=%7C")

    assert received(upstream_stand_in).query == "q=a%20b%26c&r=%7C"


# -- escaping of the path


def test_without_encode_url_the_callers_escaping_reaches_the_target(
    gateway: ServedGateway, upstream_stand_in: UpstreamStandIn
) -> None:
    gateway.manifests.put(orders("requests-escapes-kept", upstream_stand_in.http_url + "/echo"))

    httpx.get(f"{gateway.compass_url}/requests-escapes-kept/orders/v1/orders/hello('%7Cworld%7C')")

    assert received(upstream_stand_in).raw_path == "/echo/orders/hello('%7Cworld%7C')"


def test_without_encode_url_an_escaped_slash_stays_escaped(
    gateway: ServedGateway, upstream_stand_in: UpstreamStandIn
) -> None:
    gateway.manifests.put(orders("requests-escaped-slash", upstream_stand_in.http_url + "/echo"))

    httpx.get(f"{gateway.compass_url}/requests-escaped-slash/orders/v1/files/a%2Fb")

    assert received(upstream_stand_in).raw_path == "/echo/files/a%2Fb"


def test_with_encode_url_the_path_is_escaped_again(
    gateway: ServedGateway, upstream_stand_in: UpstreamStandIn
) -> None:
    gateway.manifests.put(orders("requests-reencoded", upstream_stand_in.http_url + "/echo", encode_url=True))

    httpx.get(f"{gateway.compass_url}/requests-reencoded/orders/v1/orders/hello('%7Cworld%7C')")

    assert received(upstream_stand_in).raw_path == "/echo/orders/hello%28%27%7Cworld%7C%27%29"


def test_a_path_of_non_ascii_characters_arrives_escaped(
    gateway: ServedGateway, upstream_stand_in: UpstreamStandIn
) -> None:
    gateway.manifests.put(orders("requests-non-ascii", upstream_stand_in.http_url + "/echo"))

    httpx.get(f"{gateway.compass_url}/requests-non-ascii/orders/v1/{quote('größe')}")

    request = received(upstream_stand_in)
    assert request.raw_path == "/echo/gr%C3%B6%C3%9Fe"
    assert request.path == "/echo/größe"


# -- headers


def test_the_host_header_is_the_targets(gateway: ServedGateway, upstream_stand_in: UpstreamStandIn) -> None:
    gateway.manifests.put(orders("requests-host", upstream_stand_in.http_url + "/echo"))

    httpx.get(f"{gateway.compass_url}/requests-host/orders/v1/x")

    assert received(upstream_stand_in).header_values("host") == [
        upstream_stand_in.http_url.removeprefix("http://")
    ]


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("Keep-Alive", "timeout=5"),
        ("TE", "trailers"),
        ("Upgrade", "h2c"),
        ("Proxy-Authorization", "Basic dXNlcjpwYXNzd2Q="),
        ("Proxy-Connection", "keep-alive"),
    ],
)
def test_a_hop_by_hop_header_is_not_forwarded(
    gateway: ServedGateway, upstream_stand_in: UpstreamStandIn, name: str, value: str
) -> None:
    gateway.manifests.put(orders("requests-hop-by-hop", upstream_stand_in.http_url + "/echo"))

    httpx.get(
        f"{gateway.compass_url}/requests-hop-by-hop/orders/v1/x", headers={name: value, "X-Kept": "yes"}
    )

    request = received(upstream_stand_in)
    assert request.header(name) is None
    assert request.header("X-Kept") == "yes"


def test_a_header_named_in_connection_is_not_forwarded(
    gateway: ServedGateway, upstream_stand_in: UpstreamStandIn
) -> None:
    gateway.manifests.put(orders("requests-connection-named", upstream_stand_in.http_url + "/echo"))

    httpx.get(
        f"{gateway.compass_url}/requests-connection-named/orders/v1/x",
        headers={"Connection": "keep-alive, X-Per-Hop", "X-Per-Hop": "secret", "X-Kept": "yes"},
    )

    request = received(upstream_stand_in)
    assert request.header("X-Per-Hop") is None
    assert request.header("X-Kept") == "yes"
    assert "x-per-hop" not in (request.header("Connection") or "").lower()


def test_the_callers_address_is_appended_to_x_forwarded_for(
    gateway: ServedGateway, upstream_stand_in: UpstreamStandIn
) -> None:
    gateway.manifests.put(orders("requests-forwarded-for", upstream_stand_in.http_url + "/echo"))

    httpx.get(
        f"{gateway.compass_url}/requests-forwarded-for/orders/v1/x", headers={"X-Forwarded-For": "192.0.2.7"}
    )

    assert received(upstream_stand_in).header_values("X-Forwarded-For") == ["192.0.2.7, 127.0.0.1"]


def test_without_x_forwarded_for_it_names_the_caller(
    gateway: ServedGateway, upstream_stand_in: UpstreamStandIn
) -> None:
    gateway.manifests.put(orders("requests-forwarded-first", upstream_stand_in.http_url + "/echo"))

    httpx.get(f"{gateway.compass_url}/requests-forwarded-first/orders/v1/x")

    assert received(upstream_stand_in).header_values("X-Forwarded-For") == ["127.0.0.1"]


def test_x_forwarded_proto_and_host_pass_through(
    gateway: ServedGateway, upstream_stand_in: UpstreamStandIn
) -> None:
    gateway.manifests.put(orders("requests-forwarded-proto", upstream_stand_in.http_url + "/echo"))

    httpx.get(
        f"{gateway.compass_url}/requests-forwarded-proto/orders/v1/x",
        headers={"X-Forwarded-Proto": "https", "X-Forwarded-Host": "shop.example"},
    )

    request = received(upstream_stand_in)
    assert request.header_values("X-Forwarded-Proto") == ["https"]
    assert request.header_values("X-Forwarded-Host") == ["shop.example"]


def test_no_user_agent_is_added_when_the_caller_sends_none(
    gateway: ServedGateway, upstream_stand_in: UpstreamStandIn
) -> None:
    gateway.manifests.put(orders("requests-no-agent", upstream_stand_in.http_url + "/echo"))

    with httpx.Client() as caller:
        del caller.headers["User-Agent"]
        caller.get(f"{gateway.compass_url}/requests-no-agent/orders/v1/x")

    assert received(upstream_stand_in).header("User-Agent") is None


def test_the_callers_user_agent_is_kept(gateway: ServedGateway, upstream_stand_in: UpstreamStandIn) -> None:
    gateway.manifests.put(orders("requests-agent", upstream_stand_in.http_url + "/echo"))

    httpx.get(
        f"{gateway.compass_url}/requests-agent/orders/v1/x", headers={"User-Agent": "orders-client/1.0"}
    )

    assert received(upstream_stand_in).header_values("User-Agent") == ["orders-client/1.0"]


def test_a_repeated_header_of_the_caller_arrives_repeated(
    gateway: ServedGateway, upstream_stand_in: UpstreamStandIn
) -> None:
    gateway.manifests.put(orders("requests-repeated-header", upstream_stand_in.http_url + "/echo"))

    httpx.get(
        f"{gateway.compass_url}/requests-repeated-header/orders/v1/x",
        headers=[("X-Tag", "one"), ("X-Tag", "two")],
    )

    assert received(upstream_stand_in).header_values("X-Tag") == ["one", "two"]
