"""bench/director.py at a tiny N, in process: seeding, both apps' answers, the load client, the profile.

They keep the benchmark from rotting. They assert behaviour (same bytes, statements, pages), never time.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import strawberry.schema.schema
from asgi_lifespan import LifespanManager

from bench import baseline
from bench.director import (
    DIRECTOR_PATH,
    JSON_CONTENT,
    ONE_RUNTIME,
    AgentCertificate,
    agent_in_process,
    answer_in_process,
    baseline_server,
    connect_runtime,
    director_url,
    end_cursor,
    operator_headers,
    profile,
    pycompass_server,
    request_body,
    run_client,
)
from bench.seed import Seeded, add_applications, seed_runtime
from compass.app import create_app
from kernel.db import Database
from kernel.settings import Settings

# runtimes, the runtime's labels, applications, their labels, system auths, bundles, APIs, events
BASELINE_TABLE_STATEMENTS = 8
# the baseline's agent path looks up the tenant's revision before anything else
BASELINE_REVISION_STATEMENTS = 1
# the page size of the full-sync test: the same paging as the default page of 200, at 3 applications
SMALL_PAGE = 2


@pytest.fixture(scope="module")
async def one_runtime_app(settings: Settings, database: Database) -> AsyncIterator[object]:
    """pycompass as the Director benchmark runs it (see ``ONE_RUNTIME``)."""
    application = create_app(settings.model_copy(update=ONE_RUNTIME), database)
    async with LifespanManager(application) as manager:
        yield manager.app


async def seeded_with(database: Database, count: int) -> Seeded:
    seeded = await seed_runtime(database)
    await add_applications(database, seeded, 0, count)
    return seeded


async def both_answers(
    app: object,
    database: Database,
    settings: Settings,
    seeded: Seeded,
    *,
    after: str | None = None,
    first: int | None = None,
) -> tuple[bytes, bytes]:
    headers = operator_headers(settings, seeded.tenant_id)
    body = request_body(seeded.runtime_id, after, first)
    ours = await answer_in_process(app, database, body, headers)
    theirs = await answer_in_process(baseline.create_app(database), database, body, headers)
    return ours.body, theirs.body


def result_of(body: bytes) -> dict[str, Any]:
    return dict(json.loads(body)["data"]["result"])


# Token calls to the Connector are limited per client address: each agent connects from an address of its own.
_AGENT_ADDRESSES = (f"127.77.0.{host}" for host in itertools.count(1))


async def agent_of(app: object, settings: Settings, seeded: Seeded, directory: Path) -> AgentCertificate:
    """The runtime's certificate through the Connector of the in-process app."""
    transport = httpx.ASGITransport(app=app, client=(next(_AGENT_ADDRESSES), 4711))  # type: ignore[arg-type]
    async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
        return await connect_runtime(
            client, operator_headers(settings, seeded.tenant_id), seeded.runtime_id, directory
        )


async def test_seeding_gives_the_runtime_each_application_with_its_whole_tree(
    app: object, database: Database, settings: Settings
) -> None:
    # given
    seeded = await seeded_with(database, 2)

    # when
    ours, _ = await both_answers(app, database, settings, seeded)

    # then
    result = result_of(ours)
    assert result["totalCount"] == 2
    first = result["data"][0]
    assert first["name"] == "mp-bench-app-0000"
    assert len(first["auths"]) == 1
    assert first["bundles"]["totalCount"] == 3
    bundle = first["bundles"]["data"][0]
    assert (bundle["apiDefinitions"]["totalCount"], bundle["eventDefinitions"]["totalCount"]) == (2, 1)
    assert bundle["defaultInstanceAuth"]["credential"]["password"] == "s3cret"


async def test_baseline_answers_with_the_same_bytes_as_pycompass(
    app: object, database: Database, settings: Settings
) -> None:
    # given
    seeded = await seeded_with(database, 3)

    # when
    ours, theirs = await both_answers(app, database, settings, seeded)

    # then
    assert theirs == ours


async def test_every_page_of_a_full_sync_is_the_same_bytes_and_the_last_has_no_end_cursor(
    app: object, database: Database, settings: Settings
) -> None:
    # given: one application more than a page; pages of 2 (the paging code is the same at the default 200,
    # which the bench runs) page whole application trees, so seeding 201 applications proves nothing more
    seeded = await seeded_with(database, SMALL_PAGE + 1)

    # when
    first_ours, first_theirs = await both_answers(app, database, settings, seeded, first=SMALL_PAGE)
    cursor = end_cursor(first_ours)
    last_ours, last_theirs = await both_answers(
        app, database, settings, seeded, after=cursor, first=SMALL_PAGE
    )

    # then
    assert (first_theirs, last_theirs) == (first_ours, last_ours)
    assert [len(result_of(body)["data"]) for body in (first_ours, last_ours)] == [SMALL_PAGE, 1]
    assert end_cursor(last_ours) == ""


async def test_baseline_runs_one_statement_per_table(database: Database, settings: Settings) -> None:
    # given
    seeded = await seeded_with(database, 2)
    headers = operator_headers(settings, seeded.tenant_id)
    floor = baseline.create_app(database)

    # when
    answer = await answer_in_process(floor, database, request_body(seeded.runtime_id), headers)

    # then
    assert answer.statements == BASELINE_TABLE_STATEMENTS


async def test_load_client_completes_requests_against_the_served_baseline(
    database: Database, database_url: str, settings: Settings, tmp_path: Path
) -> None:
    # given
    seeded = await seeded_with(database, 1)

    # when
    with baseline_server(tmp_path, database_url) as server:
        result = run_client(
            {
                "url": director_url(server),
                "headers": operator_headers(settings, seeded.tenant_id),
                "runtime_id": seeded.runtime_id,
                "full_sync": True,
                "concurrency": 2,
                "warmup": 0.0,
                "duration": 0.2,
                "min_count": 2,
            }
        )

    # then
    assert result["count"] >= 2
    assert result["pages"] == 1


async def test_profile_renders_time_by_owner_and_by_function(
    one_runtime_app: object, database: Database, settings: Settings
) -> None:
    # given
    seeded = await seeded_with(database, 1)

    # when
    text = await profile(
        one_runtime_app, request_body(seeded.runtime_id), operator_headers(settings, seeded.tenant_id), 2
    )

    # then
    assert "self time by owner" in text
    assert "functions by self time" in text


async def test_a_repeated_sync_document_is_not_validated_again(
    app: object, database: Database, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given: the document has been answered before
    seeded = await seeded_with(database, 1)
    headers = operator_headers(settings, seeded.tenant_id)
    body = request_body(seeded.runtime_id)
    await answer_in_process(app, database, body, headers)
    validations: list[object] = []
    validate = strawberry.schema.schema.validate

    def counting_validate(*args: Any, **kwargs: Any) -> Any:
        validations.append(args[1])
        return validate(*args, **kwargs)

    monkeypatch.setattr(strawberry.schema.schema, "validate", counting_validate)

    # when
    await answer_in_process(app, database, body, headers)

    # then
    assert validations == []


async def test_the_agents_polls_answer_with_the_operators_bytes(
    one_runtime_app: object, database: Database, settings: Settings, tmp_path: Path
) -> None:
    # given
    seeded = await seeded_with(database, 2)
    agent = await agent_of(one_runtime_app, settings, seeded, tmp_path)
    operator, _ = await both_answers(one_runtime_app, database, settings, seeded)

    # when
    polled = await agent_in_process(
        one_runtime_app, database, seeded.runtime_id, JSON_CONTENT, certificate_pem=agent.certificate_pem
    )

    # then
    assert polled.body == operator


async def test_a_repeated_poll_runs_fewer_statements_than_an_executed_one(
    one_runtime_app: object, database: Database, settings: Settings, tmp_path: Path
) -> None:
    # given
    seeded = await seeded_with(database, 2)
    agent = await agent_of(one_runtime_app, settings, seeded, tmp_path)
    headers = operator_headers(settings, seeded.tenant_id)
    executed = await answer_in_process(one_runtime_app, database, request_body(seeded.runtime_id), headers)

    # when
    polled = await agent_in_process(
        one_runtime_app, database, seeded.runtime_id, JSON_CONTENT, certificate_pem=agent.certificate_pem
    )

    # then
    assert polled.kept < executed.statements
    assert polled.not_modified < executed.statements
    assert polled.changed == executed.statements  # the runtime's identity and revision are kept: no more


async def test_baseline_agent_path_answers_kept_polls_after_the_revision_lookup_alone(
    database: Database, settings: Settings
) -> None:
    # given
    seeded = await seeded_with(database, 2)
    headers = {**JSON_CONTENT, "Tenant": seeded.tenant_id}

    # when
    polled = await agent_in_process(
        baseline.create_app(database), database, seeded.runtime_id, headers, path=baseline.AGENT_PATH
    )

    # then
    assert (polled.kept, polled.not_modified) == (BASELINE_REVISION_STATEMENTS, BASELINE_REVISION_STATEMENTS)
    assert polled.changed == BASELINE_REVISION_STATEMENTS + BASELINE_TABLE_STATEMENTS


async def test_seeding_more_applications_gives_the_polling_runtime_a_new_view(
    one_runtime_app: object, database: Database, settings: Settings, tmp_path: Path
) -> None:
    # given: the runtime's view of one application is kept
    seeded = await seeded_with(database, 1)
    agent = await agent_of(one_runtime_app, settings, seeded, tmp_path)
    before = await agent_in_process(
        one_runtime_app, database, seeded.runtime_id, JSON_CONTENT, certificate_pem=agent.certificate_pem
    )

    # when
    await add_applications(database, seeded, 1, 1)
    after = await agent_in_process(
        one_runtime_app, database, seeded.runtime_id, JSON_CONTENT, certificate_pem=agent.certificate_pem
    )

    # then
    assert [result_of(body)["totalCount"] for body in (before.body, after.body)] == [1, 2]


async def test_load_client_polls_served_pycompass_over_mtls_with_the_etag(
    database: Database, database_url: str, settings: Settings, tmp_path: Path
) -> None:
    # given: `compass serve` on this database and data directory, and the runtime's certificate from it
    seeded = await seeded_with(database, 1)

    # when
    with pycompass_server(settings.data_dir, database_url, log=tmp_path / "pycompass.log") as server:
        async with httpx.AsyncClient(base_url=server.http_url, timeout=60) as plain:
            agent = await connect_runtime(
                plain, operator_headers(settings, seeded.tenant_id), seeded.runtime_id, tmp_path
            )
        tls = {"ca": str(server.ca_file), "cert": str(agent.chain_file)}
        result = run_client(
            {
                "url": server.https_url + DIRECTOR_PATH,
                "headers": JSON_CONTENT,
                "runtime_id": seeded.runtime_id,
                "full_sync": False,
                "concurrency": 2,
                "warmup": 0.0,
                "duration": 0.3,
                "min_count": 2,
                "agent": "etag",
                "tls": {**tls, "key": str(agent.key_file)},
            }
        )

    # then
    assert result["count"] >= 2
    assert result["not_modified"] > 0
