"""The plan: desired manifests vs the agent's own resources → exactly the creates, updates and deletes."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from agent.diff import SyncPlan, plan
from agent.resources import application_resources
from dataplane.names import PROXY_TIMEOUT_ANNOTATION

OWNED = {"applicationconnector.kyma-project.io/managed-by": "compass-runtime-agent"}


def application(
    identifier: str, *, description: str = "a shop", username: str = "user", proxy_timeout: str | None = None
) -> dict[str, Any]:
    bundle: dict[str, Any] = {
        "id": f"bundle-{identifier}",
        "name": "orders",
        "description": None,
        "instanceAuthRequestInputSchema": None,
        "apiDefinitions": {"data": [{"id": f"api-{identifier}", "name": "orders", "targetURL": "https://a"}]},
        "eventDefinitions": {"data": []},
        "defaultInstanceAuth": {"credential": {"username": username, "password": "secret"}},
    }
    return {
        "id": identifier,
        "name": f"mp-{identifier}",
        "description": description,
        "auths": [],
        "bundles": {"data": [bundle]},
        "proxyTimeout": {PROXY_TIMEOUT_ANNOTATION: proxy_timeout} if proxy_timeout is not None else {},
    }


def desired(*applications: dict[str, Any]) -> list[dict[str, Any]]:
    return [manifest for item in applications for manifest in application_resources(item)]


def existing(manifests: list[dict[str, Any]]) -> dict[str, dict[str, dict[str, Any]]]:
    """As a sink lists them: what was applied, with what the API server adds."""
    result: dict[str, dict[str, dict[str, Any]]] = {}
    for index, manifest in enumerate(copy.deepcopy(manifests)):
        added = {"uid": f"uid-{index}", "resourceVersion": str(index), "managedFields": []}
        manifest["metadata"].update(added)
        result.setdefault(manifest["kind"], {})[manifest["metadata"]["name"]] = manifest
    return result


def test_an_unchanged_view_plans_nothing() -> None:
    manifests = desired(application("a"), application("b"))

    result = plan(manifests, existing(manifests))

    assert result == SyncPlan()
    assert result.empty


def test_labels_annotations_and_status_added_by_others_are_no_change() -> None:
    manifests = desired(application("a"))
    current = existing(manifests)
    current["Application"]["mp-a"]["metadata"]["labels"]["team"] = "shop"
    current["Application"]["mp-a"]["metadata"]["annotations"] = {"note": "x"}
    current["Application"]["mp-a"]["status"] = {"installationStatus": {"status": "deployed"}}

    assert plan(manifests, current).empty


def test_a_changed_application_is_one_update() -> None:
    before = desired(application("a"), application("b"))
    after = desired(application("a", description="changed"), application("b"))

    result = plan(after, existing(before))

    assert result.lines() == ["update Application/mp-a"]


def test_changed_credentials_update_only_their_secret() -> None:
    before = desired(application("a"))
    after = desired(application("a", username="someone-else"))

    result = plan(after, existing(before))

    assert [line.split("/")[0] for line in result.lines()] == ["update Secret"]


def test_a_removed_application_is_deleted_with_its_secret_application_first() -> None:
    before = desired(application("a"), application("b"))
    after = desired(application("a"))

    result = plan(after, existing(before))

    secret = application_resources(application("b"))[1]["metadata"]["name"]
    assert result.deletes == [("Application", "mp-b"), ("Secret", secret)]
    assert not result.creates and not result.updates


def test_a_new_application_is_created_before_its_secret() -> None:
    before = desired(application("a"))
    after = desired(application("a"), application("b"))

    result = plan(after, existing(before))

    assert [manifest["kind"] for manifest in result.creates] == ["Application", "Secret"]
    assert result.creates[0]["metadata"]["name"] == "mp-b"


def test_a_resource_the_agent_does_not_own_is_never_planned_for_deletion() -> None:
    # given the sink lists only owned resources: a foreign Application is simply not in ``existing``
    manifests = desired(application("a"))

    result = plan(manifests, {"Application": {}, "Secret": {}})

    assert result.deletes == []
    assert result.lines() == [f"create {item['kind']}/{item['metadata']['name']}" for item in manifests]


def test_an_empty_view_deletes_every_owned_resource() -> None:
    before = desired(application("a"))

    result = plan([], existing(before))

    assert sorted(kind for kind, _ in result.deletes) == ["Application", "Secret"]


def test_a_changed_label_value_of_the_agent_is_an_update() -> None:
    manifests = desired(application("a"))
    current = existing(manifests)
    current["Application"]["mp-a"]["metadata"]["labels"] = {**OWNED, "example.com/x": "y"}
    secret = next(iter(current["Secret"]))
    current["Secret"][secret]["metadata"]["labels"]["app"] = "someone-else"

    result = plan(manifests, current)

    assert result.lines() == [f"update Secret/{secret}"]


@pytest.mark.parametrize(("before", "after"), [(None, "60"), ("60", "90"), ("60", None)])
def test_a_set_changed_or_removed_proxy_timeout_label_is_an_update(
    before: str | None, after: str | None
) -> None:
    current = existing(desired(application("a", proxy_timeout=before)))

    result = plan(desired(application("a", proxy_timeout=after)), current)

    assert result.lines() == ["update Application/mp-a"]
