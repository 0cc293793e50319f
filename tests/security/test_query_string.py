"""The query string is read percent-decoded, so everything that decides on it decides on it decoded.

``%74oken`` is ``token`` and ``%71uery`` is ``query`` to the code that reads the query string (``parse_qsl``,
strawberry's GET handling). A one-time token sent under an encoded name must be redacted from the access log
like a plain ``?token=``; a query sent under an encoded name must not pass for a request of the GraphiQL page.
"""

from __future__ import annotations

import logging
from urllib.parse import quote, unquote_plus

import pytest

from tests.connector.support import CONFIGURATION, CONNECTOR, DIRECTOR, Harness, post_graphql

INTROSPECTION = "{__schema{types{name}}}"


def percent_encoded(text: str) -> str:
    return "".join(f"%{byte:02X}" for byte in text.encode())


@pytest.mark.parametrize(
    ("name", "encode_value"),
    [("%74oken", False), (percent_encoded("token"), False), ("t%6Fken", True), ("token", True)],
    ids=["%74oken", "all-encoded-name", "t%6Fken-encoded-value", "encoded-value"],
)
async def test_token_under_a_percent_encoded_query_name_stays_out_of_the_logs(
    server: Harness,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
    name: str,
    encode_value: bool,
) -> None:
    # given
    caplog.set_level(logging.DEBUG)
    operator = await server.operator()
    token = await server.runtime_token(operator, await server.register_runtime(operator))
    value = percent_encoded(token) if encode_value else token

    # when
    response = await server.http.post(
        f"{CONNECTOR}?{name}={value}", json={"query": CONFIGURATION, "variables": None}
    )

    # then: the server took the token, and logged nothing that decodes to it
    assert response.json()["data"]["result"]["token"]["token"]
    clients = ("httpx", "httpcore")  # the client here logs its own URL
    server_records = [record for record in caplog.records if not record.name.startswith(clients)]
    assert any(record.name == "uvicorn.access" for record in server_records)
    logged = [record.getMessage() for record in server_records] + [capsys.readouterr().out]
    assert [text for text in logged if token in unquote_plus(text)] == []


async def test_token_in_the_connector_token_header_is_still_preferred(server: Harness) -> None:
    # given
    operator = await server.operator()
    token = await server.runtime_token(operator, await server.register_runtime(operator))

    # when: a bogus query-string token next to the real header
    answer = await post_graphql(
        server.http, CONNECTOR, CONFIGURATION, headers={"Connector-Token": token}, params={"token": "bogus"}
    )

    # then
    assert answer.result["token"]["token"]


@pytest.mark.parametrize(
    "name", ["%71uery", percent_encoded("query"), "q%75ery"], ids=["%71uery", "all-encoded", "q%75ery"]
)
async def test_query_under_a_percent_encoded_name_is_not_a_graphiql_request(
    server: Harness, name: str
) -> None:
    # when: GET with Accept: text/html, as a browser asking for GraphiQL
    response = await server.http.get(
        f"{DIRECTOR}?{name}={quote(INTROSPECTION, safe='')}", headers={"Accept": "text/html"}
    )

    # then: authentication is asked for, nothing is introspected
    assert response.status_code == 401
    assert [error["extensions"]["code"] for error in response.json()["errors"]] == ["UNAUTHENTICATED"]
    assert "__Schema" not in response.text


async def test_query_with_an_empty_value_is_not_a_graphiql_request(server: Harness) -> None:
    response = await server.http.get(f"{DIRECTOR}?%71uery", headers={"Accept": "text/html"})

    assert response.status_code == 401


async def test_graphiql_page_still_loads_with_other_query_parameters(server: Harness) -> None:
    response = await server.http.get(f"{DIRECTOR}?tab=docs", headers={"Accept": "text/html"})

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
