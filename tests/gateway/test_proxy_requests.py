"""What the target receives, through the served gateway: the request parameters of a Secret, the query, the
caller's escaping (``encodeUrl``), and the headers (DATAPLANE.md A.5)."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
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

Headers = Mapping[str, str] | Sequence[tuple[str, str]]
Forward = Callable[..., Recorded]


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


@pytest.fixture
def forwarded(gateway: ServedGateway, upstream_stand_in: UpstreamStandIn) -> Forward:
    """Publishes Application ``name`` (``orders()``'s options) on the stand-in's ``target``, calls
    ``/<name>/orders/v1/<path>`` on the Compass listener with ``headers``, and returns what the target got."""

    def forward(
        name: str, path: str = "x", *, target: str = "/echo", headers: Headers | None = None, **options: bool
    ) -> Recorded:
        gateway.manifests.put(orders(name, upstream_stand_in.http_url + target, **options))
        httpx.get(f"{gateway.compass_url}/{name}/orders/v1/{path}", headers=headers)
        return received(upstream_stand_in)

    return forward


# -- request parameters


@pytest.mark.usefixtures("with_parameters")
def test_request_parameters_are_added_as_headers_and_query(forwarded: Forward) -> None:
    request = forwarded("requests-parameters-added", parameters=True)

    assert request.header_values("Hkey1") == ["Hval1"]
    assert request.header_values("Hkey2") == ["Hval21", "Hval22"]
    assert request.query == "Qkey1=Qval1&Qkey2=Qval21&Qkey2=Qval22"


@pytest.mark.usefixtures("with_parameters")
def test_request_parameters_never_replace_the_callers_header_of_that_name(forwarded: Forward) -> None:
    request = forwarded("requests-own-header", parameters=True, headers={"hkey2": "mine"})

    assert request.header_values("Hkey2") == ["mine"]
    assert request.header_values("Hkey1") == ["Hval1"]


# -- the query


@pytest.mark.usefixtures("with_parameters")
@pytest.mark.parametrize(
    ("name", "target", "parameters", "path", "query"),
    [
        pytest.param(
            "requests-query",
            "/echo?fixed=1&b=2",
            False,
            "x?b=3&a=4&a=5",
            "fixed=1&b=2&b=3&a=4&a=5",
            id="the-targets-then-the-callers",
        ),
        pytest.param(
            "requests-query-sorted",
            "/echo?fixed=1",
            True,
            "x?b=3&a=4&a=5",
            "Qkey1=Qval1&Qkey2=Qval21&Qkey2=Qval22&a=4&a=5&b=3&fixed=1",
            id="with-request-parameters-merged-and-sorted-by-name-as-kymas-is",
        ),
        pytest.param(
            "requests-own-query",
            "/echo",
            True,
            "x?Qkey2=mine",
            "Qkey1=Qval1&Qkey2=mine",
            id="request-parameters-never-replace-the-callers-parameter-of-that-name",
        ),
        pytest.param(
            "requests-query-escaped",
            "/echo",
            False,
            "x?q=a%20b%26c&r=%7C",
            "q=a%20b%26c&r=%7C",
            id="the-callers-escaping-is-kept",
        ),
    ],
)
def test_the_target_receives_the_query(
    forwarded: Forward, *, name: str, target: str, parameters: bool, path: str, query: str
) -> None:
    assert forwarded(name, path, target=target, parameters=parameters).query == query


# -- escaping of the path


@pytest.mark.parametrize(
    ("name", "encode_url", "path", "raw_path"),
    [
        pytest.param(
            "requests-escapes-kept",
            False,
            "orders/hello('%7Cworld%7C')",
            "/echo/orders/hello('%7Cworld%7C')",
            id="without-encode-url-the-callers-escaping-reaches-the-target",
        ),
        pytest.param(
            "requests-escaped-slash",
            False,
            "files/a%2Fb",
            "/echo/files/a%2Fb",
            id="without-encode-url-an-escaped-slash-stays-escaped",
        ),
        pytest.param(
            "requests-reencoded",
            True,
            "orders/hello('%7Cworld%7C')",
            "/echo/orders/hello%28%27%7Cworld%7C%27%29",
            id="with-encode-url-the-path-is-escaped-again",
        ),
    ],
)
def test_the_target_receives_the_path_escaped_as_encode_url_says(
    forwarded: Forward, *, name: str, encode_url: bool, path: str, raw_path: str
) -> None:
    assert forwarded(name, path, encode_url=encode_url).raw_path == raw_path


def test_a_path_of_non_ascii_characters_arrives_escaped(forwarded: Forward) -> None:
    request = forwarded("requests-non-ascii", quote("größe"))

    assert request.raw_path == "/echo/gr%C3%B6%C3%9Fe"
    assert request.path == "/echo/größe"


# -- headers


def test_the_host_header_is_the_targets(forwarded: Forward, upstream_stand_in: UpstreamStandIn) -> None:
    request = forwarded("requests-host")

    assert request.header_values("host") == [upstream_stand_in.http_url.removeprefix("http://")]


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
def test_a_hop_by_hop_header_is_not_forwarded(forwarded: Forward, name: str, value: str) -> None:
    request = forwarded("requests-hop-by-hop", headers={name: value, "X-Kept": "yes"})

    assert request.header(name) is None
    assert request.header("X-Kept") == "yes"


def test_a_header_named_in_connection_is_not_forwarded(forwarded: Forward) -> None:
    headers = {"Connection": "keep-alive, X-Per-Hop", "X-Per-Hop": "secret", "X-Kept": "yes"}

    request = forwarded("requests-connection-named", headers=headers)

    assert request.header("X-Per-Hop") is None
    assert request.header("X-Kept") == "yes"
    assert "x-per-hop" not in (request.header("Connection") or "").lower()


@pytest.mark.parametrize(
    ("name", "headers", "forwarded_for"),
    [
        pytest.param(
            "requests-forwarded-for",
            {"X-Forwarded-For": "192.0.2.7"},
            ["192.0.2.7, 127.0.0.1"],
            id="the-callers-address-is-appended",
        ),
        pytest.param("requests-forwarded-first", {}, ["127.0.0.1"], id="without-one-it-names-the-caller"),
    ],
)
def test_x_forwarded_for_ends_with_the_callers_address(
    forwarded: Forward, name: str, headers: dict[str, str], forwarded_for: list[str]
) -> None:
    assert forwarded(name, headers=headers).header_values("X-Forwarded-For") == forwarded_for


def test_x_forwarded_proto_and_host_pass_through(forwarded: Forward) -> None:
    headers = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "shop.example"}

    request = forwarded("requests-forwarded-proto", headers=headers)

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


@pytest.mark.parametrize(
    ("name", "headers", "header", "values"),
    [
        pytest.param(
            "requests-agent",
            {"User-Agent": "orders-client/1.0"},
            "User-Agent",
            ["orders-client/1.0"],
            id="the-callers-user-agent-is-kept",
        ),
        pytest.param(
            "requests-repeated-header",
            [("X-Tag", "one"), ("X-Tag", "two")],
            "X-Tag",
            ["one", "two"],
            id="a-repeated-header-arrives-repeated",
        ),
    ],
)
def test_the_callers_header_arrives_as_sent(
    forwarded: Forward, *, name: str, headers: Headers, header: str, values: list[str]
) -> None:
    assert forwarded(name, headers=headers).header_values(header) == values
