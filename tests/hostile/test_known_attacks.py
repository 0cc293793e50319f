"""The known attacks on a GraphQL server, one test each, against both APIs of the in-process app.

Each attack must be refused with a clear 4xx or a GraphQL error with a code, and the server must answer a normal
query afterwards. The memory the process holds while the attacks run stays bounded (the last test). The basics
(limits at their edges, 413 for large bodies, JWT refusals) are in tests/director/test_limits.py and
test_authentication.py; this file goes past them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import httpx
import pytest

from kernel.settings import Settings
from tests.hostile.support import (
    CONNECTOR,
    DIRECTOR,
    JSON_CONTENT,
    assert_well_formed,
    error_codes,
    peak_resident_kib,
    reset_peak_resident,
    resident_kib,
)
from tests.support import Operator

NORMAL = "{ __typename }"
MEMORY_BOUND_KIB = 200 * 1024
DEPTH_BOMB = 60
ALIAS_BOMB = 1_000  # 3 tokens each: well within the token limit, far over the alias limit
DUPLICATE_FIELDS = 10_000
HUGE_STRING = 900 * 1024
HUGE_BODY = 2 * 1024 * 1024
HUGE_LIST = 100_000
LIST_UNDER_THE_BODY_LIMIT = 60_000
BATCH = 1_000
DEEP_JSON_ARRAY = b"[" * 100_000 + b"]" * 100_000

CIRCULAR_FRAGMENTS = "fragment A on Query { ...B } fragment B on Query { ...A } query { ...A }"
# Each level reads the fields of the types of the fields of the level above: exponential without a limit.
INTROSPECTION_FAN_OUT = (
    "{ __schema { types { name fields { type { name fields { type { name fields { type { name fields { "
    "type { name fields { name } } } } } } } } } } } }"
)
FILTERED_APPLICATIONS = "query ($filter: [LabelFilter!]) { applications(filter: $filter) { totalCount } }"
CREATE_LABEL_DEFINITION = (
    'mutation ($schema: JSONSchema) { createLabelDefinition(in: {key: "deep", schema: $schema}) { key } }'
)
REGISTER_RUNTIME = 'mutation { registerRuntime(in: {name: "from-get"}) { id } }'


@dataclass(frozen=True)
class Target:
    """One of the two APIs, with the credentials an attacker holds for it."""

    name: str
    path: str
    headers: dict[str, str]

    def __str__(self) -> str:
        return self.name


@pytest.fixture(params=["director", "connector"])
def target(request: pytest.FixtureRequest) -> Target:
    if request.param == "director":
        attacker: Operator = request.getfixturevalue("attacker")
        return Target("director", DIRECTOR, attacker.headers)
    # The Connector's root fields need a token; documents that never reach a resolver are answered without one.
    return Target("connector", CONNECTOR, {})


async def post(
    client: httpx.AsyncClient, target: Target, document: str, variables: object = None
) -> httpx.Response:
    body = json.dumps({"query": document, "variables": variables}).encode()
    return await client.post(target.path, content=body, headers={**JSON_CONTENT, **target.headers})


async def post_raw(
    client: httpx.AsyncClient, target: Target, content: bytes, content_type: str = "application/json"
) -> httpx.Response:
    return await client.post(
        target.path, content=content, headers={**target.headers, "Content-Type": content_type}
    )


async def assert_still_answers(client: httpx.AsyncClient, target: Target) -> None:
    response = await post(client, target, NORMAL)
    assert response.status_code == 200
    assert response.json() == {"data": {"__typename": "Query"}}


BEFORE_RESOLVERS = pytest.mark.backend_independent(
    "refused by the HTTP envelope, the parser or validation before any resolver runs: no row is read or written"
)


def nested(depth: int) -> str:
    return "{ " + "a { " * depth + "b" + " }" * depth + " }"


@dataclass(frozen=True)
class MemoryBaseline:
    resident_kib: int
    peak_was_reset: bool

    def grown_kib(self) -> int:
        """The peak since the baseline (the kernel's high-water mark, reset with it), or, where the kernel does not
        allow resetting it, the resident set now, both minus the baseline."""
        return (peak_resident_kib() if self.peak_was_reset else resident_kib()) - self.resident_kib


@pytest.fixture(scope="module", autouse=True)
def memory_baseline() -> MemoryBaseline:
    """Taken when the first attack of the module (per backend) is about to run."""
    peak_was_reset = reset_peak_resident()
    return MemoryBaseline(resident_kib(), peak_was_reset)


# --- shape of the document ------------------------------------------------------------------------------


@BEFORE_RESOLVERS
async def test_nesting_beyond_the_depth_limit_is_too_complex(
    hostile_client: httpx.AsyncClient, target: Target, settings: Settings
) -> None:
    assert settings.max_query_depth < DEPTH_BOMB

    response = await post(hostile_client, target, nested(DEPTH_BOMB))

    assert_well_formed(response)
    assert "QUERY_TOO_COMPLEX" in error_codes(response)
    await assert_still_answers(hostile_client, target)


@BEFORE_RESOLVERS
async def test_nesting_beyond_what_the_parser_follows_is_a_parse_failure(
    hostile_client: httpx.AsyncClient, target: Target
) -> None:
    # 2,000 levels are 4,000 tokens, under the token limit: the parser's own nesting guard has to stop it
    response = await post(hostile_client, target, nested(2_000))

    assert_well_formed(response)
    assert error_codes(response) == ["GRAPHQL_PARSE_FAILED"]
    assert "nested too deeply" in response.json()["errors"][0]["message"]
    await assert_still_answers(hostile_client, target)


@BEFORE_RESOLVERS
async def test_alias_bomb_is_too_complex(hostile_client: httpx.AsyncClient, target: Target) -> None:
    document = "{ " + " ".join(f"a{index}: __typename" for index in range(ALIAS_BOMB)) + " }"

    response = await post(hostile_client, target, document)

    assert_well_formed(response)
    assert error_codes(response) == ["QUERY_TOO_COMPLEX"]
    assert f"{ALIAS_BOMB} aliases" in response.json()["errors"][0]["message"]
    await assert_still_answers(hostile_client, target)


@BEFORE_RESOLVERS
async def test_the_same_field_ten_thousand_times_is_stopped_by_the_token_limit(
    hostile_client: httpx.AsyncClient, target: Target, settings: Settings
) -> None:
    document = "{ " + "__typename " * DUPLICATE_FIELDS + "}"

    response = await post(hostile_client, target, document)

    assert_well_formed(response)
    assert error_codes(response) == ["QUERY_TOO_COMPLEX"]
    assert f"more than {settings.max_query_tokens} tokens" in response.json()["errors"][0]["message"]
    await assert_still_answers(hostile_client, target)


@BEFORE_RESOLVERS
async def test_the_same_field_just_under_the_token_limit_is_answered_or_refused_cleanly(
    hostile_client: httpx.AsyncClient, target: Target, settings: Settings
) -> None:
    document = "{ " + "__typename " * (settings.max_query_tokens - 10) + "}"

    response = await post(hostile_client, target, document)

    assert_well_formed(response)
    await assert_still_answers(hostile_client, target)


@BEFORE_RESOLVERS
async def test_circular_fragments_fail_validation(hostile_client: httpx.AsyncClient, target: Target) -> None:
    response = await post(hostile_client, target, CIRCULAR_FRAGMENTS)

    assert_well_formed(response)
    assert set(error_codes(response)) == {"GRAPHQL_VALIDATION_FAILED"}
    assert "Cannot spread fragment" in response.json()["errors"][0]["message"]
    await assert_still_answers(hostile_client, target)


@BEFORE_RESOLVERS
async def test_introspection_fanning_out_through_fields_is_refused(
    hostile_client: httpx.AsyncClient, target: Target
) -> None:
    response = await post(hostile_client, target, INTROSPECTION_FAN_OUT)

    assert_well_formed(response)
    assert response.json()["data"] is None
    assert error_codes(response) in (["GRAPHQL_VALIDATION_FAILED"], ["QUERY_TOO_COMPLEX"])
    assert "introspection depth" in response.json()["errors"][0]["message"]
    await assert_still_answers(hostile_client, target)


@BEFORE_RESOLVERS
async def test_introspection_with_a_long_of_type_chain_stays_small(
    hostile_client: httpx.AsyncClient, target: Target
) -> None:
    """The depth limit skips introspection fields; the chain ends in nulls after a few wrappers, so the answer
    stays small however long the chain the parser lets through."""
    chain = "name " + "ofType { name " * 150 + "}" * 150
    document = "{ __schema { types { fields { type { " + chain + " } } } } }"

    response = await post(hostile_client, target, document)

    assert_well_formed(response)
    assert len(response.content) < 1024 * 1024
    await assert_still_answers(hostile_client, target)


# --- size -----------------------------------------------------------------------------------------------


async def test_a_900_kb_string_argument_is_refused_as_invalid_input(
    hostile_client: httpx.AsyncClient, attacker: Operator
) -> None:
    director = Target("director", DIRECTOR, attacker.headers)
    document = 'mutation { registerApplication(in: {name: "' + "x" * HUGE_STRING + '"}) { id } }'

    response = await post(hostile_client, director, document)

    assert_well_formed(response)
    assert error_codes(response) == ["INVALID_INPUT"]
    await assert_still_answers(hostile_client, director)


@BEFORE_RESOLVERS
async def test_a_900_kb_csr_is_refused_before_anything_is_decoded(hostile_client: httpx.AsyncClient) -> None:
    connector = Target("connector", CONNECTOR, {"Connector-Token": "not-a-token"})
    document = (
        'mutation { signCertificateSigningRequest(csr: "' + "A" * HUGE_STRING + '") { certificateChain } }'
    )

    response = await post(hostile_client, connector, document)

    assert_well_formed(response)
    assert error_codes(response) in (["INVALID_TOKEN"], ["INVALID_CSR"])
    await assert_still_answers(hostile_client, connector)


@BEFORE_RESOLVERS
async def test_a_2_mb_body_is_refused_with_413(hostile_client: httpx.AsyncClient, target: Target) -> None:
    document = '{ a(s: "' + "x" * HUGE_BODY + '") }'

    response = await post(hostile_client, target, document)

    assert response.status_code == 413
    assert_well_formed(response)
    assert error_codes(response) == ["REQUEST_TOO_LARGE"]
    await assert_still_answers(hostile_client, target)


async def test_a_list_of_100_000_items_is_refused_by_the_body_limit(
    hostile_client: httpx.AsyncClient, attacker: Operator
) -> None:
    director = Target("director", DIRECTOR, attacker.headers)

    response = await post(
        hostile_client, director, FILTERED_APPLICATIONS, {"filter": [{"key": "k"}] * HUGE_LIST}
    )

    assert response.status_code == 413
    assert error_codes(response) == ["REQUEST_TOO_LARGE"]
    await assert_still_answers(hostile_client, director)


async def test_a_list_that_fits_the_body_limit_is_refused_by_the_list_cap(
    hostile_client: httpx.AsyncClient, attacker: Operator, settings: Settings
) -> None:
    director = Target("director", DIRECTOR, attacker.headers)
    variables = {"filter": [{"key": "k"}] * LIST_UNDER_THE_BODY_LIMIT}
    assert len(json.dumps(variables)) < settings.max_body_bytes

    response = await post(hostile_client, director, FILTERED_APPLICATIONS, variables)

    assert_well_formed(response)
    assert error_codes(response) == ["INVALID_INPUT"]
    assert "at most 100 entries" in response.json()["errors"][0]["message"]
    await assert_still_answers(hostile_client, director)


# --- the HTTP envelope ----------------------------------------------------------------------------------


@BEFORE_RESOLVERS
async def test_a_batch_of_a_thousand_operations_is_refused(
    hostile_client: httpx.AsyncClient, target: Target
) -> None:
    batch = json.dumps([{"query": NORMAL}] * BATCH).encode()

    response = await post_raw(hostile_client, target, batch)

    assert response.status_code == 400
    assert_well_formed(response)
    assert error_codes(response) == ["BAD_REQUEST"]
    await assert_still_answers(hostile_client, target)


@BEFORE_RESOLVERS
@pytest.mark.parametrize(
    "body",
    [
        b'{"query": "{ __typename }"',
        b"{query: '{ __typename }'}",
        b'{"query": "{ __typename }"} trailing',
        b"",
    ],
    ids=["truncated", "javascript-not-json", "trailing-garbage", "empty"],
)
async def test_malformed_json_is_a_400(
    hostile_client: httpx.AsyncClient, target: Target, body: bytes
) -> None:
    response = await post_raw(hostile_client, target, body)

    assert response.status_code == 400
    assert_well_formed(response)
    assert error_codes(response) == ["BAD_REQUEST"]
    await assert_still_answers(hostile_client, target)


@BEFORE_RESOLVERS
@pytest.mark.parametrize(
    "body",
    [
        pytest.param(b"42", id="number"),
        pytest.param(b'"{ __typename }"', id="string"),
        pytest.param(b"null", id="null"),
        pytest.param(b'{"query": "\xff"}', id="not-utf-8"),
        pytest.param(
            b'{"query": "{ __typename }", "variables": {"a": ' + DEEP_JSON_ARRAY + b"}}", id="deeply-nested"
        ),
    ],
)
async def test_json_that_is_not_a_graphql_request_is_a_400(
    hostile_client: httpx.AsyncClient, target: Target, body: bytes
) -> None:
    response = await post_raw(hostile_client, target, body)

    assert_well_formed(response)
    assert response.status_code == 400
    await assert_still_answers(hostile_client, target)


@BEFORE_RESOLVERS
@pytest.mark.parametrize("operation_name", [[], {"name": "A"}], ids=["list", "object"])
async def test_an_operation_name_that_is_not_a_string_is_refused(
    hostile_client: httpx.AsyncClient, target: Target, operation_name: object
) -> None:
    body = json.dumps({"query": "query A { __typename }", "operationName": operation_name}).encode()

    response = await post_raw(hostile_client, target, body)

    assert_well_formed(response)
    await assert_still_answers(hostile_client, target)


async def test_deeply_nested_json_inside_a_json_string_scalar_is_invalid_input(
    hostile_client: httpx.AsyncClient, attacker: Operator
) -> None:
    director = Target("director", DIRECTOR, attacker.headers)
    response = await post(
        hostile_client, director, CREATE_LABEL_DEFINITION, {"schema": DEEP_JSON_ARRAY.decode()}
    )

    assert_well_formed(response)
    assert error_codes(response) == ["INVALID_INPUT"]
    await assert_still_answers(hostile_client, director)


@BEFORE_RESOLVERS
@pytest.mark.parametrize(
    "content_type",
    [
        "text/plain",
        "application/graphql",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
        "",
    ],
)
async def test_a_body_of_another_content_type_is_a_415(
    hostile_client: httpx.AsyncClient, target: Target, content_type: str
) -> None:
    response = await post_raw(hostile_client, target, json.dumps({"query": NORMAL}).encode(), content_type)

    assert response.status_code == 415
    assert_well_formed(response)
    assert error_codes(response) == ["UNSUPPORTED_MEDIA_TYPE"]
    await assert_still_answers(hostile_client, target)


async def test_a_mutation_sent_with_get_is_refused(
    hostile_client: httpx.AsyncClient, attacker: Operator
) -> None:
    director = Target("director", DIRECTOR, attacker.headers)

    response = await hostile_client.get(
        DIRECTOR, params={"query": REGISTER_RUNTIME}, headers=attacker.headers
    )

    assert response.status_code == 405
    assert_well_formed(response)
    assert error_codes(response) == ["METHOD_NOT_ALLOWED"]
    assert (await attacker.query("{ runtimes { totalCount } }")) == {"runtimes": {"totalCount": 0}}
    await assert_still_answers(hostile_client, director)


@BEFORE_RESOLVERS
async def test_the_connector_refuses_get_altogether(hostile_client: httpx.AsyncClient) -> None:
    connector = Target("connector", CONNECTOR, {})

    response = await hostile_client.get(
        CONNECTOR, params={"query": NORMAL}, headers={"Accept": "application/json"}
    )

    assert 400 <= response.status_code < 500
    assert_well_formed(response)
    await assert_still_answers(hostile_client, connector)


# --- memory ---------------------------------------------------------------------------------------------


async def test_the_attacks_kept_the_process_within_the_memory_bound(
    backend: str, memory_baseline: MemoryBaseline
) -> None:
    """Runs last in this module, after every attack above on this backend (the app runs in this process)."""
    grown = memory_baseline.grown_kib()

    assert grown < MEMORY_BOUND_KIB, f"the process grew by {grown // 1024} MB while under attack"
