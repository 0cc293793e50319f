"""TokenRequests in the directory sink, end to end: a real pycompass server over HTTP and TLS (SQLite and
PostgreSQL), a connected agent, TokenRequest files dropped into its manifest directory, and the token redeemed at
the real Connector."""

from __future__ import annotations

import asyncio
import os
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from agent.errors import DirectorError
from agent.tokenrequests import TokenRequests
from agent.tokenrequests.controller import application_ids
from agent.tokenrequests.directory import DirectoryTokenRequests
from testing.waiting import wait_until
from tests.agent.support import Landscape, Scenario

VIEWER = "query { result: viewer { id type } }"
CRD = (
    Path(__file__).resolve().parents[2]
    / "deploy"
    / "crds"
    / "tokenrequests.applicationconnector.kyma-project.io.yaml"
)


def valid(path: Path) -> bool:
    """The file's TokenRequest, status included, is valid under the shipped CRD's schema."""
    [version] = yaml.safe_load(CRD.read_text())["spec"]["versions"]
    jsonschema.validate(yaml.safe_load(path.read_text()), version["schema"]["openAPIV3Schema"])
    return True


def token_request(name: str, **extra: Any) -> dict[str, Any]:
    return {
        "apiVersion": "applicationconnector.kyma-project.io/v1alpha1",
        "kind": "TokenRequest",
        "metadata": {"name": name, "namespace": "stage"},
        **extra,
    }


def drop(directory: Path, manifest: dict[str, Any], *, mapped: bool = True) -> Path:
    """The request's file, and (``mapped``) an ApplicationMapping of its application in its namespace."""
    directory.mkdir(parents=True, exist_ok=True)
    name = manifest["metadata"]["name"]
    if mapped:
        map_into(directory, name, manifest["metadata"].get("namespace", "default"))
    path = directory / f"tokenrequest-{name}.yaml"
    path.write_text(yaml.safe_dump(manifest))
    return path


def map_into(directory: Path, name: str, namespace: str) -> None:
    mapping = {
        "apiVersion": "applicationconnector.kyma-project.io/v1alpha1",
        "kind": "ApplicationMapping",
        "metadata": {"name": name, "namespace": namespace},
    }
    (directory / f"applicationmapping-{namespace}-{name}.yaml").write_text(yaml.safe_dump(mapping))


APPLICATION_AUTHS = "query ($id: ID!) { result: application(id: $id) { auths { id } } }"


async def system_auths(landscape: Landscape, application_id: str) -> int:
    """How many system auths the application has: one more for every token the Director issued."""
    data = await landscape.operator.query(APPLICATION_AUTHS, {"id": application_id})
    return len(data["result"]["auths"])


def status_in(path: Path) -> dict[str, Any]:
    return dict(yaml.safe_load(path.read_text()).get("status") or {})


async def connected(landscape: Landscape, application: str) -> tuple[str, str]:
    """An application of the runtime's formation, synced by the agent; its id and its name in the runtime."""
    application_id = await landscape.application(application)
    outcome = await landscape.run_once()
    assert outcome.synced, outcome.error
    return application_id, f"mp-{application}"


async def test_a_token_request_gets_a_token_that_connects_the_application(landscape: Landscape) -> None:
    # given
    application_id, name = await connected(landscape, "shop")
    path = drop(landscape.manifest_dir, token_request(name))
    # when
    await landscape.run_once()
    # then
    status = status_in(path)
    assert (status["state"], status["application"]) == ("OK", name)
    assert status["url"].endswith(f"?token={status['token']}")
    assert status["connectorURL"] == landscape.connector_url
    expiry = datetime.fromisoformat(status["expireAfter"])
    assert datetime.now(UTC) < expiry <= datetime.now(UTC) + timedelta(minutes=6)
    assert valid(path)
    connection = await landscape.compass.connect(application_id, status["token"])
    viewer = await landscape.compass.director(landscape.compass.mtls(connection.credentials), VIEWER)
    assert viewer.result == {"id": application_id, "type": "APPLICATION"}


async def test_the_status_is_written_into_the_users_file_keeping_the_rest_private(
    landscape: Landscape,
) -> None:
    # given
    _, name = await connected(landscape, "shop")
    written = token_request(name, context={"tenant": "t", "group": "g"})
    written["metadata"]["labels"] = {"team": "orders"}
    path = drop(landscape.manifest_dir, written)
    # when
    await landscape.run_once()
    # then
    document = yaml.safe_load(path.read_text())
    assert {key: value for key, value in document.items() if key != "status"} == written
    assert document["status"]["state"] == "OK"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


async def test_a_filled_request_is_left_alone_until_it_expires_and_then_deleted(landscape: Landscape) -> None:
    # given
    _, name = await connected(landscape, "shop")
    path = drop(landscape.manifest_dir, token_request(name))
    await landscape.run_once()
    filled = path.read_bytes()
    # when: another sync before the expiry
    await landscape.run_once()
    # then
    assert path.read_bytes() == filled
    # when: one after it
    expiry = datetime.fromisoformat(status_in(path)["expireAfter"])
    landscape.clock.advance(expiry - datetime.now(UTC) + timedelta(seconds=1))
    await landscape.run_once()
    # then
    assert not path.exists()


async def test_an_application_outside_the_runtimes_formations_gets_an_error_and_no_token(
    landscape: Landscape,
) -> None:
    # given
    await connected(landscape, "shop")
    await landscape.application("elsewhere", assigned=False)
    path = drop(landscape.manifest_dir, token_request("mp-elsewhere"))
    # when
    await landscape.run_once()
    # then
    status = status_in(path)
    assert (status["state"], status["application"]) == ("Error", "mp-elsewhere")
    assert "no Application mp-elsewhere" in status["message"]
    assert "token" not in status
    assert valid(path)


async def test_an_error_is_asked_again_and_filled_once_the_application_joins(landscape: Landscape) -> None:
    # given
    await connected(landscape, "shop")
    later = await landscape.application("later", assigned=False)
    path = drop(landscape.manifest_dir, token_request("mp-later"))
    await landscape.run_once()
    assert status_in(path)["state"] == "Error"
    # when
    await landscape.assign(later)
    await landscape.run_once()
    # then
    assert status_in(path)["state"] == "OK"


async def test_a_request_in_a_namespace_the_application_is_not_mapped_into_gets_an_error_and_no_token(
    landscape: Landscape,
) -> None:
    # given: the application mapped into another namespace only
    application_id, name = await connected(landscape, "shop")
    before = await system_auths(landscape, application_id)
    map_into(landscape.manifest_dir, name, "elsewhere")
    path = drop(landscape.manifest_dir, token_request(name), mapped=False)
    # when
    await landscape.run_once()
    # then
    status = status_in(path)
    assert (status["state"], status["application"]) == ("Error", name)
    assert f"namespace stage has no ApplicationMapping {name}" in status["message"]
    assert "token" not in status
    assert await system_auths(landscape, application_id) == before
    # when: mapped there
    map_into(landscape.manifest_dir, name, "stage")
    await landscape.run_once()
    # then
    assert status_in(path)["state"] == "OK"


async def test_a_new_request_is_filled_without_waiting_for_the_period(landscape: Landscape) -> None:
    # given: an agent that syncs once a minute, synced
    landscape.overrides = {"sync_period": 60.0}
    await landscape.application("shop")
    stop = asyncio.Event()
    async with landscape.agent() as agent:
        running = asyncio.create_task(agent.run(stop))
        try:
            await wait_until(lambda: bool(landscape.manifests()), seconds=30, what="the first sync")
            # when
            path = drop(landscape.manifest_dir, token_request("mp-shop"))
            # then
            await wait_until(lambda: status_in(path).get("state") == "OK", seconds=30, what="the status")
        finally:
            stop.set()
            await running


async def test_an_application_the_director_refuses_gets_the_directors_reason(
    scenario: Scenario, tmp_path: Path
) -> None:
    # given: the runtime's last fetch holds an application that has left its formations since
    application_id, name = await scenario.add_application()
    path = drop(tmp_path, token_request(name))
    director = scenario.director()
    try:
        await director.fetch_applications(scenario.runtime_id)
        await scenario.unassign(application_id)
        requests = TokenRequests(DirectoryTokenRequests(tmp_path))
        # when
        done = await requests.reconcile(director)
    finally:
        await director.aclose()
    # then
    assert done.failed == [f"stage/{name}"]
    status = status_in(path)
    assert status["state"] == "Error"
    assert f"the Director refused a token for application {application_id}" in status["message"]
    assert "token" not in status


async def test_the_director_refuses_a_token_for_an_application_outside_the_formations(
    scenario: Scenario,
) -> None:
    application_id, _ = await scenario.add_application(in_formation=False)

    director = scenario.director()
    try:
        with pytest.raises(DirectorError) as refused:
            await director.request_application_token(application_id)
    finally:
        await director.aclose()

    assert refused.value.code == "FORBIDDEN"


# --- the directory store and the name lookup, without a server ----------------------------------------------


async def test_a_file_that_is_not_one_token_request_is_skipped_and_the_others_read(tmp_path: Path) -> None:
    drop(tmp_path, token_request("mp-shop"))
    (tmp_path / "tokenrequest-two.yaml").write_text(
        "kind: TokenRequest\nmetadata: {name: a}\n---\nkind: TokenRequest\n"
    )
    (tmp_path / "tokenrequest-broken.yaml").write_text("kind: [\n")
    (tmp_path / "tokenrequest-nameless.yaml").write_text("kind: TokenRequest\nmetadata: {namespace: stage}\n")

    found = await DirectoryTokenRequests(tmp_path).current()

    assert [request.key for request in found] == ["stage/mp-shop"]


async def test_a_file_without_a_namespace_is_in_default(tmp_path: Path) -> None:
    manifest = token_request("mp-shop")
    del manifest["metadata"]["namespace"]
    drop(tmp_path, manifest)

    [found] = await DirectoryTokenRequests(tmp_path).current()

    assert found.key == "default/mp-shop"


async def test_a_file_changed_since_it_was_read_is_left_as_the_user_wrote_it(tmp_path: Path) -> None:
    # given
    store = DirectoryTokenRequests(tmp_path)
    path = drop(tmp_path, token_request("mp-shop"), mapped=False)
    [request] = await store.current()
    path.write_text(yaml.safe_dump(token_request("mp-shop", context={"tenant": "edited"})))
    edited = path.read_bytes()
    # when
    written = await store.write_status(request, {"application": "mp-shop", "state": "Error", "message": "m"})
    # then
    assert written is False
    assert path.read_bytes() == edited
    assert os.listdir(tmp_path) == [path.name]  # no temporary file left


def test_a_name_several_applications_share_names_none_of_them() -> None:
    applications = [
        {"name": "Shop!", "id": "1"},
        {"name": "shop?", "id": "2"},
        {"name": "billing", "id": "3"},
    ]

    assert application_ids(applications) == {"mp-shop": None, "billing": "3"}
