"""Event type naming as Kyma's publisher does it (DATAPLANE.md C.1, C.2): ``<prefix>.<application>.<event type>``,
the application segment from the ``application-type`` label or the name, cleaned; empty segments refused."""

from __future__ import annotations

import pytest

from dataplane.catalog.model import Application
from events.types import TYPE_LABEL, EventTypeError, application_segment, cloud_type, legacy_type

PREFIX = "sap.kyma.custom"


def app(name: str, **labels: str) -> Application:
    return Application(name=name, labels=labels)


class TestApplicationSegment:
    @pytest.mark.parametrize(
        ("name", "segment"), [("shop", "shop"), ("my-shop.eu", "myshopeu"), ("shop-2", "shop2")]
    )
    def test_the_name_without_anything_but_letters_and_digits(self, name: str, segment: str) -> None:
        assert application_segment(app(name)) == segment

    def test_the_application_type_label_wins_over_the_name(self) -> None:
        assert application_segment(app("shop-1", **{TYPE_LABEL: "t..est_app-type"})) == "testapptype"

    def test_an_empty_label_is_no_label(self) -> None:
        assert application_segment(app("shop", **{TYPE_LABEL: ""})) == "shop"

    def test_non_ascii_letters_are_removed_as_go_does(self) -> None:
        assert application_segment(app("x", **{TYPE_LABEL: "café"})) == "caf"


class TestLegacyType:
    def test_prefix_application_event_type_and_version(self) -> None:
        assert (
            legacy_type(PREFIX, app("my-shop"), "order.created", "v1")
            == "sap.kyma.custom.myshop.order.created.v1"
        )

    def test_whitespace_and_nats_wildcards_are_removed(self) -> None:
        assert (
            legacy_type(PREFIX, app("shop"), "o-rder.creat ed>*", "v 1")
            == "sap.kyma.custom.shop.o-rder.created.v1"
        )

    @pytest.mark.parametrize("event_type", ["order..created", ".order", "order. ", "*"])
    def test_an_empty_segment_after_cleaning_is_refused(self, event_type: str) -> None:
        with pytest.raises(EventTypeError, match=r"^event type cannot have empty segments after cleaning: "):
            legacy_type(PREFIX, app("shop"), event_type, "v1")

    def test_a_label_that_cleans_to_nothing_is_refused(self) -> None:
        with pytest.raises(EventTypeError):
            legacy_type(PREFIX, app("shop", **{TYPE_LABEL: "--"}), "order.created", "v1")


class TestCloudType:
    def test_a_type_without_the_prefix_is_prefixed(self) -> None:
        assert cloud_type(PREFIX, app("shop"), "order.created.v1") == "sap.kyma.custom.shop.order.created.v1"

    def test_a_type_with_the_prefix_is_only_cleaned(self) -> None:
        assert cloud_type(PREFIX, app("shop"), "sap.kyma.custom.shop.order.created .v1") == (
            "sap.kyma.custom.shop.order.created.v1"
        )

    def test_the_prefix_counts_only_as_whole_segments(self) -> None:
        assert cloud_type(PREFIX, app("shop"), "sap.kyma.customer.created") == (
            "sap.kyma.custom.shop.sap.kyma.customer.created"
        )

    def test_another_prefix_is_honoured(self) -> None:
        assert cloud_type("com.example", app("shop"), "order.created") == "com.example.shop.order.created"
