"""``GET /<namespace>/v2/catalog`` of a served broker reading the agent's manifest directory: one offering per
Application mapped into the namespace, one plan per bundle, as Kyma's application broker offers them."""

from __future__ import annotations

from testing.broker import ServedBroker
from tests.broker.conftest import (
    ORDERS_BUNDLE,
    SHOP_ID,
    STOCK_BUNDLE,
    Manifests,
    mapping,
    shop_application,
)


def test_an_application_mapped_into_the_namespace_is_offered_with_a_plan_per_bundle(
    broker: ServedBroker, manifests: Manifests
) -> None:
    manifests.put(shop_application())
    manifests.put_mapping(mapping("shop", "production"))

    answer = broker.catalog("production")

    assert answer.status_code == 200
    [offering] = answer.json()["services"]
    assert offering["id"] == SHOP_ID
    assert offering["name"] == "shop"
    assert offering["description"] == "The web shop"
    assert offering["bindable"] is True
    assert offering["plan_updateable"] is False
    assert offering["tags"] == []
    assert offering["metadata"]["labels"] == {"connected-app": "shop"}
    assert [plan["id"] for plan in offering["plans"]] == [ORDERS_BUNDLE, STOCK_BUNDLE]
    assert [plan["metadata"]["displayName"] for plan in offering["plans"]] == ["Orders API", "Stock"]


def test_a_bundles_input_schema_is_the_plans_provisioning_parameters_declared_as_draft_7(
    broker: ServedBroker, manifests: Manifests
) -> None:
    manifests.put(shop_application())
    manifests.put_mapping(mapping("shop", "production"))

    orders, stock = broker.catalog("production").json()["services"][0]["plans"]

    assert orders["schemas"] == {
        "service_instance": {
            "create": {
                "parameters": {
                    "$schema": "http://json-schema.org/draft-07/schema#",
                    "type": "object",
                    "required": ["tier"],
                    "properties": {"tier": {"type": "string"}},
                }
            }
        }
    }
    assert "schemas" not in stock


def test_a_plan_without_a_description_is_described_by_its_bundles_name(
    broker: ServedBroker, manifests: Manifests
) -> None:
    manifests.put(shop_application())
    manifests.put_mapping(mapping("shop", "production"))

    orders, stock = broker.catalog("production").json()["services"][0]["plans"]

    assert orders["description"] == "Orders and their states"
    assert stock["description"] == "Stock"


def test_an_application_without_a_mapping_is_not_offered(broker: ServedBroker, manifests: Manifests) -> None:
    manifests.put(shop_application())

    answer = broker.catalog("production")

    assert answer.status_code == 200
    assert answer.json() == {"services": []}


def test_a_mapping_offers_the_application_in_its_own_namespace_only(
    broker: ServedBroker, manifests: Manifests
) -> None:
    manifests.put(shop_application())
    manifests.put_mapping(mapping("shop", "staging"))

    assert broker.catalog("production").json() == {"services": []}
    assert [offering["id"] for offering in broker.catalog("staging").json()["services"]] == [SHOP_ID]


def test_a_mapping_that_lists_services_offers_only_those_bundles(
    broker: ServedBroker, manifests: Manifests
) -> None:
    manifests.put(shop_application())
    manifests.put_mapping(mapping("shop", "production", services=[STOCK_BUNDLE]))

    [offering] = broker.catalog("production").json()["services"]

    assert [plan["id"] for plan in offering["plans"]] == [STOCK_BUNDLE]


def test_a_mapping_that_enables_no_bundle_offers_nothing(broker: ServedBroker, manifests: Manifests) -> None:
    manifests.put(shop_application())
    manifests.put_mapping(mapping("shop", "production", services=[]))

    assert broker.catalog("production").json() == {"services": []}


def test_a_mapping_of_an_application_that_does_not_exist_offers_nothing(
    broker: ServedBroker, manifests: Manifests
) -> None:
    manifests.put_mapping(mapping("shop", "production"))

    assert broker.catalog("production").json() == {"services": []}


def test_a_mapping_removed_is_no_longer_offered(broker: ServedBroker, manifests: Manifests) -> None:
    manifests.put(shop_application())
    path = manifests.put_mapping(mapping("shop", "production"))
    assert broker.catalog("production").json()["services"]

    path.unlink()

    assert broker.catalog("production").json() == {"services": []}


def test_an_unusable_mapping_file_makes_the_catalog_unavailable_and_says_which(
    broker: ServedBroker, manifests: Manifests
) -> None:
    manifests.put(shop_application())
    broken = manifests.directory / "applicationmapping-production-shop.yaml"
    broken.write_text(
        "kind: ApplicationMapping\nmetadata: {name: shop, namespace: production}\nspec: {services: 3}\n"
    )

    answer = broker.catalog("production")

    assert answer.status_code == 503
    assert answer.json()["error"] == "CatalogUnavailable"
    assert "applicationmapping-production-shop.yaml" in answer.json()["description"]
