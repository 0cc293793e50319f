"""The directory catalog over what the agent's directory sink writes: every lookup sees the file as it is now,
and parses it only when it changed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from agent.sinks.directory import DirectorySink
from dataplane.catalog import directory
from dataplane.catalog.base import CatalogError
from dataplane.catalog.directory import DirectoryCatalog
from dataplane.catalog.parse import application_from_manifest
from tests.dataplane.support import application, secret, target_url


@pytest.fixture
def sink(tmp_path: Path) -> DirectorySink:
    return DirectorySink(tmp_path / "manifests")


@pytest.fixture
def catalog(sink: DirectorySink) -> DirectoryCatalog:
    return DirectoryCatalog(sink.directory)


def write(path: Path, manifest: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(manifest), encoding="utf-8")


async def test_an_application_the_agent_wrote_is_found(
    sink: DirectorySink, catalog: DirectoryCatalog
) -> None:
    await sink.apply(application("shop"))

    found = catalog.application("shop")

    assert found is not None and found.name == "shop"
    assert found.services[0].entries[0].credentials is not None


async def test_a_secret_the_agent_wrote_is_found_decoded(
    sink: DirectorySink, catalog: DirectoryCatalog
) -> None:
    await sink.apply(secret("shop-credentials", {"username": "shop-user", "password": "shop-password"}))

    found = catalog.secret("shop-credentials")

    assert found is not None and dict(found) == {"username": b"shop-user", "password": b"shop-password"}


async def test_a_change_the_agent_writes_is_seen_by_the_next_lookup(
    sink: DirectorySink, catalog: DirectoryCatalog
) -> None:
    await sink.apply(application("shop", target_url="https://old.example/v1"))
    assert target_url(catalog.application("shop")) == "https://old.example/v1"

    await sink.apply(application("shop", target_url="https://new.example/v1"))

    assert target_url(catalog.application("shop")) == "https://new.example/v1"


async def test_a_file_the_agent_deleted_is_absent_at_the_next_lookup(
    sink: DirectorySink, catalog: DirectoryCatalog
) -> None:
    await sink.apply(application("shop"))
    assert catalog.application("shop") is not None

    await sink.delete("Application", "shop")

    assert catalog.application("shop") is None


def test_nothing_written_yet_is_absent(catalog: DirectoryCatalog) -> None:
    # The directory itself does not exist before the agent's first write.
    assert catalog.application("shop") is None
    assert catalog.secret("shop-credentials") is None


async def test_an_unchanged_file_is_not_parsed_again(
    sink: DirectorySink, monkeypatch: pytest.MonkeyPatch
) -> None:
    parsed: list[str] = []

    def counting(manifest: Any) -> Any:
        parsed.append(manifest["metadata"]["name"])
        return application_from_manifest(manifest)

    monkeypatch.setattr(directory, "application_from_manifest", counting)
    catalog = DirectoryCatalog(sink.directory)
    await sink.apply(application("shop"))

    for _ in range(3):
        catalog.application("shop")
    await sink.apply(application("shop", target_url="https://changed.example/v1"))
    catalog.application("shop")

    assert parsed == ["shop", "shop"]


@pytest.mark.parametrize("name", ["..", ".", "", "a/b", "Shop", "shop.yaml/../shop", "x" * 254])
def test_a_name_that_cannot_be_a_resource_name_is_absent(catalog: DirectoryCatalog, name: str) -> None:
    assert catalog.application(name) is None
    assert catalog.secret(name) is None


def test_a_name_cannot_reach_outside_the_directory(sink: DirectorySink, catalog: DirectoryCatalog) -> None:
    # Were the name made into a path, manifests/application-x/../../outside.yaml would be this file.
    name = "x/../../outside"
    (sink.directory / "application-x").mkdir(parents=True)
    outside = application("shop")
    outside["metadata"]["name"] = name
    write(sink.directory.parent / "outside.yaml", outside)

    assert catalog.application(name) is None


def test_a_file_of_another_kind_is_absent(sink: DirectorySink, catalog: DirectoryCatalog) -> None:
    write(sink.directory / "application-shop.yaml", secret("shop", {"a": "b"}))

    assert catalog.application("shop") is None


def test_a_file_naming_another_resource_is_absent(sink: DirectorySink, catalog: DirectoryCatalog) -> None:
    write(sink.directory / "application-shop.yaml", application("other"))

    assert catalog.application("shop") is None


def test_a_file_that_is_not_yaml_is_an_error_naming_the_file_not_its_content(
    sink: DirectorySink, catalog: DirectoryCatalog
) -> None:
    path = sink.directory / "secret-shop-credentials.yaml"
    path.parent.mkdir(parents=True)
    path.write_text("kind: Secret\ndata: {password: [hunter2\n", encoding="utf-8")

    with pytest.raises(CatalogError) as raised:
        catalog.secret("shop-credentials")

    assert str(path) in str(raised.value)
    assert "hunter2" not in str(raised.value)


def test_a_file_that_cannot_be_read_is_an_error_naming_it(
    sink: DirectorySink, catalog: DirectoryCatalog
) -> None:
    path = sink.directory / "application-shop.yaml"
    path.mkdir(parents=True)  # no permission bits stop root, which these tests may run as; a directory does

    with pytest.raises(CatalogError, match=r"application-shop\.yaml"):
        catalog.application("shop")


def test_an_unusable_application_is_an_error_naming_the_file_and_the_field(
    sink: DirectorySink, catalog: DirectoryCatalog
) -> None:
    manifest = application("shop")
    manifest["spec"]["services"] = "orders"
    write(sink.directory / "application-shop.yaml", manifest)

    with pytest.raises(CatalogError, match=r"application-shop\.yaml.*spec\.services is not a list"):
        catalog.application("shop")


def test_a_secret_with_bad_base64_is_an_error_that_holds_no_value(
    sink: DirectorySink, catalog: DirectoryCatalog
) -> None:
    manifest = secret("shop-credentials", {})
    manifest["data"] = {"password": "hunter2!"}
    write(sink.directory / "secret-shop-credentials.yaml", manifest)

    with pytest.raises(CatalogError) as raised:
        catalog.secret("shop-credentials")

    assert "data.password" in str(raised.value)
    assert "hunter2" not in str(raised.value)


def test_string_data_in_a_hand_written_secret_is_folded_over_data(
    sink: DirectorySink, catalog: DirectoryCatalog
) -> None:
    manifest = secret("shop-credentials", {"username": "old-user", "password": "kept"})
    manifest["stringData"] = {"username": "new-user"}
    write(sink.directory / "secret-shop-credentials.yaml", manifest)

    found = catalog.secret("shop-credentials")

    assert found is not None and dict(found) == {"username": b"new-user", "password": b"kept"}


async def test_a_fixed_file_is_read_again(sink: DirectorySink, catalog: DirectoryCatalog) -> None:
    path = sink.directory / "application-shop.yaml"
    path.parent.mkdir(parents=True)
    path.write_text("kind: [", encoding="utf-8")
    with pytest.raises(CatalogError):
        catalog.application("shop")

    path.unlink()
    await sink.apply(application("shop"))

    assert catalog.application("shop") is not None


async def test_the_directory_catalog_is_ready_without_starting(catalog: DirectoryCatalog) -> None:
    assert catalog.ready
    await catalog.start()
    await catalog.stop()
    assert catalog.ready
