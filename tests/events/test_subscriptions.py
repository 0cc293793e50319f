"""Subscriptions (events/subscriptions/): Kyma's v1alpha2 manifest, which events each matches, and the manifest
directory as their source."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from events.model import Event
from events.subscriptions.directory import DirectorySubscriptions
from events.subscriptions.model import (
    Subscription,
    TypeMatching,
    UnusableSubscription,
    subscription_from_manifest,
)
from tests.fixtures.events import WriteSubscription

SINK = "http://orders.default.svc.cluster.local/events"


def manifest(**spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "eventing.kyma-project.io/v1alpha2",
        "kind": "Subscription",
        "metadata": {"name": "orders", "namespace": "shop-ns"},
        "spec": {"sink": SINK, "source": "shop", "types": ["order.created.v1"], **spec},
    }


def event(event_type: str, source: str = "shop") -> Event:
    return Event(id="1", source=source, type=event_type)


def subscription(types: tuple[str, ...], source: str = "shop", matching: str = "standard") -> Subscription:
    return Subscription("default", "s", SINK, source, types, TypeMatching(matching))


class TestManifest:
    def test_reads_kymas_fields(self) -> None:
        parsed = subscription_from_manifest(manifest(typeMatching="exact", types=["a.b.v1", "c.d.v1"]))

        assert parsed == Subscription(
            "shop-ns", "orders", SINK, "shop", ("a.b.v1", "c.d.v1"), TypeMatching.EXACT
        )
        assert parsed.identity == "shop-ns/orders"

    def test_type_matching_is_standard_and_the_namespace_default_when_not_given(self) -> None:
        document = manifest()
        del document["metadata"]["namespace"]

        parsed = subscription_from_manifest(document)

        assert (parsed.type_matching, parsed.namespace) == (TypeMatching.STANDARD, "default")

    @pytest.mark.parametrize(
        ("change", "field"),
        [
            ({"sink": "orders.default.svc"}, "spec.sink"),
            ({"types": []}, "spec.types"),
            ({"types": ["ok", 3]}, "spec.types"),
            ({"typeMatching": "prefix"}, "spec.typeMatching"),
            ({"source": ["shop"]}, "spec.source"),
        ],
    )
    def test_an_unusable_field_is_named(self, change: dict[str, Any], field: str) -> None:
        with pytest.raises(UnusableSubscription, match=field):
            subscription_from_manifest(manifest(**change))

    def test_another_version_is_refused(self) -> None:
        with pytest.raises(UnusableSubscription, match="apiVersion"):
            subscription_from_manifest({**manifest(), "apiVersion": "eventing.kyma-project.io/v1alpha1"})


class TestStandardMatching:
    def test_matches_the_type_after_the_prefix_and_the_source(self) -> None:
        matches = subscription(("order.created.v1",)).matcher("sap.kyma.custom")

        assert matches(event("sap.kyma.custom.shop.order.created.v1"))
        assert not matches(event("sap.kyma.custom.shop.order.deleted.v1"))
        assert not matches(event("sap.kyma.custom.other.order.created.v1", source="other"))
        assert not matches(event("order.created.v1"))

    def test_cleans_the_source_and_the_types_as_the_ingress_does(self) -> None:
        matches = subscription(("order. created>.v1",), source="my-shop_1").matcher("sap.kyma.custom")

        assert matches(event("sap.kyma.custom.myshop1.order.created.v1", source="my-shop_1"))

    def test_an_empty_source_matches_the_type_from_any_application(self) -> None:
        matches = subscription(("order.created.v1",), source="").matcher("sap.kyma.custom")

        assert matches(event("sap.kyma.custom.shop.order.created.v1"))
        assert matches(event("sap.kyma.custom.store.order.created.v1", source="store"))
        assert not matches(event("sap.kyma.custom.order.created.v1"))
        assert not matches(event("other.prefix.shop.order.created.v1"))

    def test_uses_the_configured_prefix(self) -> None:
        matches = subscription(("order.created.v1",)).matcher("acme")

        assert matches(event("acme.shop.order.created.v1"))
        assert not matches(event("sap.kyma.custom.shop.order.created.v1"))


class TestExactMatching:
    def test_matches_the_full_type_as_written(self) -> None:
        matches = subscription(("sap.kyma.custom.shop.order.created.v1",), matching="exact").matcher()

        assert matches(event("sap.kyma.custom.shop.order.created.v1"))
        assert not matches(event("sap.kyma.custom.shop.order.created.v2"))

    def test_a_type_without_the_prefix_is_not_completed(self) -> None:
        matches = subscription(("order.created.v1",), matching="exact").matcher()

        assert not matches(event("sap.kyma.custom.shop.order.created.v1"))
        assert matches(event("order.created.v1"))

    def test_a_source_must_equal_the_events_source(self) -> None:
        matches = subscription(("t.v1",), source="shop", matching="exact").matcher()

        assert matches(event("t.v1", source="shop"))
        assert not matches(event("t.v1", source="store"))


class TestDirectory:
    def test_reads_every_subscription_document_of_the_yaml_files(self, subscription_dir: Path) -> None:
        # given: a hand-written file with two documents, and an Application the agent wrote
        (subscription_dir / "mine.yml").write_text(
            "apiVersion: eventing.kyma-project.io/v1alpha2\nkind: Subscription\n"
            f"metadata: {{name: a}}\nspec: {{sink: '{SINK}', source: shop, types: [x.v1]}}\n---\n"
            "apiVersion: eventing.kyma-project.io/v1alpha2\nkind: Subscription\n"
            f"metadata: {{name: b, namespace: n}}\nspec: {{sink: '{SINK}', source: shop, types: [y.v1]}}\n"
        )
        (subscription_dir / "application-shop.yaml").write_text("apiVersion: v1\nkind: Application\n")

        # when
        found = DirectorySubscriptions(subscription_dir).current()

        # then
        assert sorted(found) == ["default/a", "n/b"]

    def test_a_new_file_is_picked_up(
        self, subscription_dir: Path, write_subscription: WriteSubscription
    ) -> None:
        # given
        source = DirectorySubscriptions(subscription_dir)
        assert source.current() == {}

        # when
        write_subscription("orders", SINK, ["order.created.v1"])

        # then
        assert list(source.current()) == ["default/orders"]

    def test_a_changed_file_is_read_again(
        self, subscription_dir: Path, write_subscription: WriteSubscription
    ) -> None:
        # given
        source = DirectorySubscriptions(subscription_dir)
        write_subscription("orders", SINK, ["order.created.v1"])
        source.current()

        # when
        write_subscription("orders", SINK, ["order.deleted.v1"])

        # then
        assert source.current()["default/orders"].types == ("order.deleted.v1",)

    def test_a_removed_file_takes_its_subscriptions(
        self, subscription_dir: Path, write_subscription: WriteSubscription
    ) -> None:
        # given
        source = DirectorySubscriptions(subscription_dir)
        path = write_subscription("orders", SINK, ["order.created.v1"])
        source.current()

        # when
        path.unlink()

        # then
        assert source.current() == {}

    def test_a_file_broken_later_keeps_what_it_said(
        self, subscription_dir: Path, write_subscription: WriteSubscription
    ) -> None:
        # given
        source = DirectorySubscriptions(subscription_dir)
        path = write_subscription("orders", SINK, ["order.created.v1"])
        before = source.current()

        # when: half written
        path.write_text("apiVersion: eventing.kyma-project.io/v1alpha2\nkind: Subscription\nspec: {sink: ")

        # then
        assert source.current() == before

    def test_an_unusable_subscription_is_left_out(self, subscription_dir: Path) -> None:
        # given
        (subscription_dir / "bad.yaml").write_text(
            "apiVersion: eventing.kyma-project.io/v1alpha2\nkind: Subscription\nmetadata: {name: bad}\n"
            "spec: {sink: nowhere, types: [x]}\n"
        )

        # then
        assert DirectorySubscriptions(subscription_dir).current() == {}

    def test_a_missing_directory_has_none(self, tmp_path: Path) -> None:
        assert DirectorySubscriptions(tmp_path / "absent").current() == {}
