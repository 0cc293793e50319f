"""What the served broker refuses before (or instead of) asking the Director, in the Open Service Broker API's
error body: requests it cannot take, plans the namespace is not offered, instances it does not have, a Director it
cannot reach, and a second operation on an instance while one is in progress."""

from __future__ import annotations

import shutil
import threading
import uuid
from pathlib import Path

import httpx
import pytest

from testing.broker import ServedBroker
from testing.control_plane import ControlPlaneStandIn, write_agent_state
from testing.waiting import wait_until_blocking
from testing.watcher import SilentListener
from tests.broker.conftest import ORDERS_BUNDLE, SHOP_ID, Manifests, mapping, shop_application

NAMESPACE = "production"


@pytest.fixture
def offered(broker: ServedBroker, manifests: Manifests) -> ServedBroker:
    """The served broker, with the shop offered in NAMESPACE."""
    manifests.put(shop_application())
    manifests.put_mapping(mapping("shop", NAMESPACE))
    return broker


def instance_id() -> str:
    return str(uuid.uuid4())


def orders(**more: object) -> dict[str, object]:
    return {"service_id": SHOP_ID, "plan_id": ORDERS_BUNDLE, "parameters": {"tier": "gold"}, **more}


def test_a_service_the_namespace_is_not_offered_is_a_bad_request(offered: ServedBroker) -> None:
    answer = offered.provision(NAMESPACE, instance_id(), orders(service_id="another-service"))

    assert answer.status_code == 400
    assert answer.json()["error"] == "UnknownService"


def test_a_plan_the_service_does_not_have_is_a_bad_request(offered: ServedBroker) -> None:
    answer = offered.provision(NAMESPACE, instance_id(), orders(plan_id="another-bundle"))

    assert answer.status_code == 400
    assert answer.json()["error"] == "UnknownPlan"


def test_an_offered_service_of_another_namespace_is_a_bad_request(offered: ServedBroker) -> None:
    answer = offered.provision("staging", instance_id(), orders())

    assert answer.status_code == 400
    assert answer.json()["error"] == "UnknownService"


def test_provisioning_requires_accepting_an_incomplete_answer(offered: ServedBroker) -> None:
    answer = offered.provision(NAMESPACE, instance_id(), orders(), accepts_incomplete=False)

    assert answer.status_code == 422
    assert answer.json()["error"] == "AsyncRequired"


@pytest.mark.parametrize(
    "body",
    [{"plan_id": ORDERS_BUNDLE}, {"service_id": SHOP_ID}, {"service_id": SHOP_ID, "plan_id": ""}, ["a list"]],
    ids=["no service_id", "no plan_id", "empty plan_id", "not an object"],
)
def test_a_provision_request_without_its_ids_is_malformed(
    offered: ServedBroker, body: dict[str, object]
) -> None:
    answer = offered.provision(NAMESPACE, instance_id(), body)

    assert answer.status_code == 400
    assert answer.json()["error"] == "MalformedRequest"


def test_parameters_that_are_not_an_object_are_malformed(offered: ServedBroker) -> None:
    answer = offered.provision(NAMESPACE, instance_id(), orders(parameters=["gold"]))

    assert answer.status_code == 400
    assert answer.json()["error"] == "MalformedRequest"


def test_a_body_that_is_not_json_is_malformed(offered: ServedBroker) -> None:
    answer = httpx.put(
        f"{offered.url}/{NAMESPACE}/v2/service_instances/{instance_id()}?accepts_incomplete=true",
        content=b"{not json",
        **offered.request_options(NAMESPACE),
    )

    assert answer.status_code == 400
    assert answer.json()["error"] == "MalformedRequest"


def test_a_context_of_another_namespace_is_a_bad_request(offered: ServedBroker) -> None:
    answer = offered.provision(
        NAMESPACE, instance_id(), orders(context={"platform": "kubernetes", "namespace": "x"})
    )

    assert answer.status_code == 400
    assert answer.json()["error"] == "NamespaceMismatch"


def test_without_the_agents_credentials_the_director_is_unavailable_and_nothing_is_kept(
    offered: ServedBroker,
) -> None:
    instance = instance_id()

    answer = offered.provision(NAMESPACE, instance, orders())

    assert answer.status_code == 503
    assert answer.json()["error"] == "DirectorUnavailable"
    assert "the agent has not connected" in answer.json()["description"]
    assert offered.last_operation(NAMESPACE, instance).status_code == 404


def test_an_answer_lost_after_the_request_reached_the_director_keeps_the_instance_in_progress(
    offered: ServedBroker, agent_state: Path, tmp_path: Path
) -> None:
    instance = instance_id()
    with ControlPlaneStandIn(tmp_path / "control-plane") as director:
        write_agent_state(
            agent_state, director.issue("runtime-1"), director.ca_pem, f"{director.base_url}/director/graphql"
        )
        director.answer(502)  # after the Director may have committed: the outcome is unknown

        answer = offered.provision(NAMESPACE, instance, orders())
        polled = offered.last_operation(NAMESPACE, instance).json()
        # The credentials gone: the broker's next call closes its client, so the stand-in's TLS connection ends.
        shutil.rmtree(agent_state)
        agent_state.mkdir()
        offered.last_operation(NAMESPACE, instance)

    assert answer.status_code == 202
    assert "operation" in answer.json()
    assert polled["state"] == "in progress"
    assert [request.status for request in director.received][:1] == [502]


def test_deprovisioning_an_instance_the_broker_does_not_have_is_gone(broker: ServedBroker) -> None:
    answer = broker.deprovision(NAMESPACE, instance_id(), service_id=SHOP_ID, plan_id=ORDERS_BUNDLE)

    assert answer.status_code == 410
    assert answer.json()["error"] == "Gone"


def test_deprovisioning_requires_the_service_and_plan(broker: ServedBroker) -> None:
    answer = broker.deprovision(NAMESPACE, instance_id(), service_id=SHOP_ID)

    assert answer.status_code == 400
    assert answer.json()["error"] == "MalformedRequest"


def test_the_last_operation_of_an_instance_the_broker_does_not_have_is_not_found(
    broker: ServedBroker,
) -> None:
    answer = broker.last_operation(NAMESPACE, instance_id())

    assert answer.status_code == 404
    assert answer.json()["error"] == "NotFound"


def test_a_second_operation_while_the_director_is_being_asked_is_a_concurrency_error(
    offered: ServedBroker, agent_state: Path, tmp_path: Path
) -> None:
    # given: the runtime's credentials name a Director that accepts the connection and never answers
    stand_in = ControlPlaneStandIn(tmp_path / "control-plane")
    instance = instance_id()
    with SilentListener() as silent:
        write_agent_state(
            agent_state, stand_in.issue("runtime-1"), stand_in.ca_pem, f"{silent.url}/director/graphql"
        )
        first: list[httpx.Response] = []
        asking = threading.Thread(
            target=lambda: first.append(offered.provision(NAMESPACE, instance, orders()))
        )
        asking.start()
        wait_until_blocking(lambda: silent.accepted >= 1, what="the broker asking the Director")
        # when
        again = offered.provision(NAMESPACE, instance, orders())
        deleted = offered.deprovision(NAMESPACE, instance, service_id=SHOP_ID, plan_id=ORDERS_BUNDLE)
    # then: refused while the first is in progress; the first ends when the Director's connection closes
    asking.join()
    assert again.status_code == 422
    assert again.json()["error"] == "ConcurrencyError"
    assert deleted.status_code == 422
    assert deleted.json()["error"] == "ConcurrencyError"
    assert first[0].status_code == 503
