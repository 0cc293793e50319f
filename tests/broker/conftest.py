"""Fixtures of the broker's tests: ``compass-broker serve`` on a manifest directory (one process for the module,
the directory emptied before each test), and what the agent would write there."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from agent.resources import application_resources
from testing.applications import ManifestDirectory
from testing.broker import ServedBroker, start_broker

SHOP_ID = "7c2a4d1e-5b55-4e0b-9a43-0d6f1c2b8e11"
ORDERS_BUNDLE = "0b0f3c2e-4c1d-4e59-8b3d-6a6f0f1e2d01"
STOCK_BUNDLE = "0b0f3c2e-4c1d-4e59-8b3d-6a6f0f1e2d02"
ORDERS_SCHEMA = '{"type": "object", "required": ["tier"], "properties": {"tier": {"type": "string"}}}'


def _page(items: list[dict[str, Any]]) -> dict[str, Any]:
    return {"data": items, "totalCount": len(items), "pageInfo": {"hasNextPage": False, "endCursor": ""}}


# As applicationsForRuntime answers the agent's query: the agent turns it into the Application the broker reads.
SHOP: dict[str, Any] = {
    "id": SHOP_ID,
    "name": "shop",
    "description": "The web shop",
    "auths": [],
    "bundles": _page(
        [
            {
                "id": ORDERS_BUNDLE,
                "name": "Orders API",
                "description": "Orders and their states",
                "instanceAuthRequestInputSchema": ORDERS_SCHEMA,
                "apiDefinitions": _page(
                    [{"id": "api-1", "name": "orders", "description": None, "targetURL": "https://shop/v1"}]
                ),
                "eventDefinitions": _page([]),
                "defaultInstanceAuth": None,
            },
            {
                "id": STOCK_BUNDLE,
                "name": "Stock",
                "description": None,
                "instanceAuthRequestInputSchema": None,
                "apiDefinitions": _page([]),
                "eventDefinitions": _page([{"id": "event-1", "name": "stock.low", "description": None}]),
                "defaultInstanceAuth": None,
            },
        ]
    ),
}


def shop_application() -> dict[str, Any]:
    """The Application manifest the agent writes for SHOP (its Secrets are of no concern to the catalog)."""
    return application_resources(SHOP)[0]


def mapping(name: str, namespace: str, *, services: list[str] | None = None) -> dict[str, Any]:
    manifest: dict[str, Any] = {
        "apiVersion": "applicationconnector.kyma-project.io/v1alpha1",
        "kind": "ApplicationMapping",
        "metadata": {"name": name, "namespace": namespace},
    }
    if services is not None:
        manifest["spec"] = {"services": [{"id": service_id} for service_id in services]}
    return manifest


class Manifests(ManifestDirectory):
    """The agent's files, and ApplicationMappings written beside them as a user writes them
    (``applicationmapping-<namespace>-<name>.yaml``)."""

    def put_mapping(self, manifest: dict[str, Any]) -> Path:
        metadata = manifest["metadata"]
        path = self.directory / f"applicationmapping-{metadata['namespace']}-{metadata['name']}.yaml"
        staged = self.directory / f".{path.name}.tmp"
        staged.write_text(yaml.safe_dump(manifest), encoding="utf-8")
        staged.replace(path)
        return path

    def clear(self) -> None:
        shutil.rmtree(self.directory)
        self.directory.mkdir()


@pytest.fixture(scope="module")
def broker_manifests(tmp_path_factory: pytest.TempPathFactory) -> Manifests:
    return Manifests(tmp_path_factory.mktemp("manifests"))


@pytest.fixture(scope="module")
def broker_agent_state(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("agent-state")


@pytest.fixture(scope="module")
def served_broker(
    broker_manifests: Manifests, broker_agent_state: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServedBroker]:
    """Served for the module: its manifests and the agent's state directory are the module's, its instances kept
    in a directory of its own."""
    directory = tmp_path_factory.mktemp("broker")
    served = start_broker(
        directory / "broker.log",
        agent_state_dir=str(broker_agent_state),
        manifest_dir=str(broker_manifests.directory),
        state_dir=str(directory / "instances"),
    )
    yield served
    served.process.stop()


@pytest.fixture
def manifests(broker_manifests: Manifests) -> Manifests:
    """The served broker's manifest directory, empty."""
    broker_manifests.clear()
    return broker_manifests


@pytest.fixture
def agent_state(broker_agent_state: Path) -> Path:
    """The served broker's AGENT_STATE_DIR, empty: the runtime has not connected."""
    shutil.rmtree(broker_agent_state)
    broker_agent_state.mkdir()
    return broker_agent_state


@pytest.fixture
def broker(served_broker: ServedBroker, manifests: Manifests, agent_state: Path) -> ServedBroker:
    """The served broker, its manifest directory empty, the runtime not connected."""
    return served_broker
