"""The webhook as the API server calls it: AdmissionReviews over TLS 1.3 to a running `compass-watcher serve`, whose
control plane accepts connections and never answers, so every answer here is given before the control plane is.

Always HTTP 200 and allowed, with Kyma's two headers and the status message of DATAPLANE.md E.3; ``kcp request
queued`` when the event was spooled."""

from __future__ import annotations

import json
import shutil
import ssl
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from testing.control_plane import ControlPlaneStandIn
from testing.waiting import wait_until_blocking
from testing.watcher import ServedWatcher, SilentListener, start_watcher
from tests.watcher.conftest import RUNTIME_CN, StartWatcher, connected_agent_state
from tests.watcher.reviews import (
    APPLICATION_GROUP,
    APPLICATION_VERSION,
    admission_review,
    application,
    changed,
)
from watcher.events import WatchEvent
from watcher.metrics import MODULE_LABELS

MODULE = "compass-runtime-agent"
WEBHOOK = f"/validate/{MODULE}"
QUEUED = "kcp request queued"


@pytest.fixture
def watcher(watcher_factory: StartWatcher, silent_control_plane: SilentListener) -> ServedWatcher:
    return watcher_factory(control_plane_url=silent_control_plane.url)


@pytest.fixture(scope="module")
def shared_watcher(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServedWatcher]:
    """One watcher for the requests it answers without spooling anything, whose counts no test reads: each
    leaves it as it found it, so they need not start a process each."""
    directory = tmp_path_factory.mktemp("shared-watcher")
    with ControlPlaneStandIn(directory / "control-plane") as control_plane, SilentListener() as silent:
        state = connected_agent_state(directory / "agent", control_plane, control_plane.issue(RUNTIME_CN))
        served = start_watcher(state, tmp_path_factory.mktemp("watcher"), control_plane_url=silent.url)
        try:
            yield served
        finally:
            served.process.stop()


def review(watcher: ServedWatcher, body: dict[str, Any]) -> httpx.Response:
    return watcher.post(WEBHOOK, json.dumps(body).encode())


def allowed_with(response: httpx.Response, uid: str) -> str:
    """The status message of an answer, after checking what every answer has."""
    assert response.status_code == 200
    assert response.headers["strict-transport-security"] == "max-age=31536000; includeSubDomains"
    assert response.headers["content-security-policy"] == "default-src 'self'"
    answer = response.json()
    assert answer["kind"] == "AdmissionReview"
    assert answer["apiVersion"] == "admission.k8s.io/v1"
    assert answer["response"]["uid"] == uid
    assert answer["response"]["allowed"] is True
    assert answer["response"]["status"]["status"] == "Success"
    assert answer["response"]["status"]["metadata"] == {}
    return str(answer["response"]["status"]["message"])


def event_for(name: str) -> WatchEvent:
    return WatchEvent(MODULE, "", name, APPLICATION_GROUP, APPLICATION_VERSION, "Application")


def spooled_names(watcher: ServedWatcher) -> list[str]:
    return [event.name for event in watcher.spooled()]


class TestAnswers:
    def test_a_create_is_spooled_and_answered_queued(self, watcher: ServedWatcher) -> None:
        body = admission_review("CREATE", application("created"), None)

        response = review(watcher, body)

        assert allowed_with(response, body["request"]["uid"]) == QUEUED
        assert watcher.spooled() == [event_for("created")]

    def test_an_update_that_changes_the_spec_is_spooled(self, watcher: ServedWatcher) -> None:
        old = application("respecified")
        body = admission_review("UPDATE", changed(old, description="outlet"), old)

        response = review(watcher, body)

        assert allowed_with(response, body["request"]["uid"]) == QUEUED
        assert watcher.spooled() == [event_for("respecified")]

    def test_an_update_that_leaves_the_spec_alone_is_answered_no_change(self, watcher: ServedWatcher) -> None:
        old = application("relabelled")
        new = changed(old)
        new["metadata"]["labels"]["team"] = "shop"
        body = admission_review("UPDATE", new, old)

        response = review(watcher, body)

        assert (
            allowed_with(response, body["request"]["uid"])
            == "no change detected on watched resource /relabelled"
        )
        assert watcher.spooled() == []

    def test_an_update_of_an_object_without_a_spec_is_always_spooled(self, watcher: ServedWatcher) -> None:
        old: dict[str, Any] = {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "settings", "namespace": "kyma-system", "resourceVersion": "1"},
            "data": {"mode": "a"},
        }
        new = {**old, "metadata": {**old["metadata"], "resourceVersion": "2"}}
        body = admission_review("UPDATE", new, old, resource="configmaps")

        response = review(watcher, body)

        assert allowed_with(response, body["request"]["uid"]) == QUEUED
        assert watcher.spooled() == [WatchEvent(MODULE, "kyma-system", "settings", "", "v1", "ConfigMap")]

    def test_a_status_update_that_changes_the_status_is_spooled(self, watcher: ServedWatcher) -> None:
        old = application("progressing", status={"installationStatus": {"status": "deploying"}})
        new = application("progressing", status={"installationStatus": {"status": "deployed"}})
        body = admission_review("UPDATE", new, old, subresource="status")

        response = review(watcher, body)

        assert allowed_with(response, body["request"]["uid"]) == QUEUED
        assert watcher.spooled() == [event_for("progressing")]

    def test_a_status_update_that_leaves_the_status_alone_is_answered_no_change(
        self, watcher: ServedWatcher
    ) -> None:
        old = application("steady", status={"installationStatus": {"status": "deployed"}})
        new = changed(old, description="the spec is not what the status subresource writes")
        body = admission_review("UPDATE", new, old, subresource="status")

        response = review(watcher, body)

        assert (
            allowed_with(response, body["request"]["uid"]) == "no change detected on watched resource /steady"
        )
        assert watcher.spooled() == []

    def test_another_subresource_is_answered_invalid(self, watcher: ServedWatcher) -> None:
        old = application("scaled")
        body = admission_review("UPDATE", changed(old, description="x"), old, subresource="scale")

        response = review(watcher, body)

        assert (
            allowed_with(response, body["request"]["uid"]) == "invalid subresource: watched resource /scaled"
        )
        assert watcher.spooled() == []

    def test_a_delete_spools_the_old_object(self, watcher: ServedWatcher) -> None:
        body = admission_review("DELETE", None, application("deleted"))

        response = review(watcher, body)

        assert allowed_with(response, body["request"]["uid"]) == QUEUED
        assert watcher.spooled() == [event_for("deleted")]

    def test_connect_is_answered_not_supported(self, watcher: ServedWatcher) -> None:
        pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "shop-0", "namespace": "shop"}}
        body = admission_review("CONNECT", pod, None, resource="pods", subresource="exec")
        # The API server sends the connect options as the object.
        body["request"]["object"] = {
            "apiVersion": "v1",
            "kind": "PodExecOptions",
            "command": ["sh"],
            "stdin": True,
        }

        response = review(watcher, body)

        assert (
            allowed_with(response, body["request"]["uid"])
            == "operation CONNECT not supported for /v1, Kind=Pod"
        )
        assert watcher.spooled() == []

    def test_a_dry_run_is_answered_without_an_event(self, watcher: ServedWatcher) -> None:
        body = admission_review("CREATE", application("tried"), None, dry_run=True)

        response = review(watcher, body)

        assert (
            allowed_with(response, body["request"]["uid"]) == "dry run: no event for watched resource /tried"
        )
        assert watcher.spooled() == []

    def test_events_are_spooled_in_the_order_they_were_admitted(self, watcher: ServedWatcher) -> None:
        names = [f"application-{index}" for index in range(5)]

        for name in names:
            review(watcher, admission_review("CREATE", application(name), None))

        assert spooled_names(watcher) == names

    def test_the_answer_comes_while_the_control_plane_has_not_answered(
        self, watcher: ServedWatcher, silent_control_plane: SilentListener
    ) -> None:
        body = admission_review("CREATE", application("first"), None)

        response = review(watcher, body)

        assert allowed_with(response, body["request"]["uid"]) == QUEUED
        wait_until_blocking(lambda: silent_control_plane.accepted > 0, what="the delivery connecting")
        assert spooled_names(watcher) == ["first"]  # still waiting for the control plane's answer

        body = admission_review("DELETE", None, application("second"))
        response = review(watcher, body)

        assert allowed_with(response, body["request"]["uid"]) == QUEUED
        assert spooled_names(watcher) == ["first", "second"]


class TestMalformedBodies:
    """Answered allowed with what is wrong (Kyma writes an empty 200, which the API server counts as a failure)."""

    def test_a_body_that_is_not_json(self, shared_watcher: ServedWatcher) -> None:
        response = shared_watcher.post(WEBHOOK, b"{not json")

        assert allowed_with(response, "").startswith("admission error: the body is not JSON: ")

    def test_a_review_of_another_version(self, shared_watcher: ServedWatcher) -> None:
        body = admission_review("CREATE", application("old-api"), None)
        body["apiVersion"] = "admission.k8s.io/v1beta1"

        response = review(shared_watcher, body)

        assert allowed_with(response, body["request"]["uid"]) == (
            "admission error: expected apiVersion admission.k8s.io/v1 and kind AdmissionReview, got "
            "'admission.k8s.io/v1beta1' and 'AdmissionReview'"
        )

    def test_a_review_without_a_request(self, shared_watcher: ServedWatcher) -> None:
        response = review(shared_watcher, {"kind": "AdmissionReview", "apiVersion": "admission.k8s.io/v1"})

        assert allowed_with(response, "") == "admission error: the AdmissionReview has no request"

    def test_a_create_without_an_object_name(self, shared_watcher: ServedWatcher) -> None:
        body = admission_review("CREATE", application("nameless"), None)
        del body["request"]["object"]["metadata"]["name"]

        response = review(shared_watcher, body)

        assert (
            allowed_with(response, body["request"]["uid"])
            == "admission error: request.object has no metadata.name"
        )
        assert shared_watcher.spooled() == []

    def test_a_body_larger_than_the_api_server_could_send(self, shared_watcher: ServedWatcher) -> None:
        body = admission_review("CREATE", application("huge", description="x" * 9 * 1024 * 1024), None)

        response = review(shared_watcher, body)

        assert allowed_with(response, "") == "admission error: the body is larger than 8388608 bytes"
        assert shared_watcher.spooled() == []

    def test_none_of_them_is_spooled_and_each_is_counted(self, watcher: ServedWatcher) -> None:
        watcher.post(WEBHOOK, b"[]")
        watcher.post(WEBHOOK, b"")

        assert watcher.spooled() == []
        assert f'compass_watcher_admission_reviews_total{{module="{MODULE}",outcome="malformed"}} 2.0' in (
            watcher.metrics()
        )


def test_modules_past_the_first_64_are_counted_as_other(watcher: ServedWatcher) -> None:
    # Any pod that reaches the Service chooses the path: the metric's series must not grow with it.
    with httpx.Client(verify=watcher.client_context(), timeout=10, trust_env=False) as client:
        for index in range(MODULE_LABELS + 6):
            client.post(f"{watcher.webhook_url}/validate/module-{index}", content=b"[]")

    counted = {
        line.split('module="')[1].split('"')[0]: float(line.rsplit(" ", 1)[1])
        for line in watcher.metrics().splitlines()
        if line.startswith("compass_watcher_admission_reviews_total{")
    }
    assert counted == {**{f"module-{index}": 1.0 for index in range(MODULE_LABELS)}, "other": 6.0}


class TestRequestsThatAreNoReviews:
    def test_a_path_without_a_module_is_404(self, shared_watcher: ServedWatcher) -> None:
        for path in ("/validate/", "/validate", "/", "/validate/a/b", "/mutate/compass-runtime-agent"):
            assert shared_watcher.post(path, b"{}").status_code == 404, path

    def test_a_get_is_405(self, shared_watcher: ServedWatcher) -> None:
        assert shared_watcher.post(WEBHOOK, b"", method="GET").status_code == 405


class TestTransport:
    def test_a_tls_1_2_client_is_refused(self, shared_watcher: ServedWatcher) -> None:
        context = shared_watcher.client_context()
        context.maximum_version = ssl.TLSVersion.TLSv1_2

        with (
            pytest.raises(httpx.ConnectError, match=r"(?i)protocol version|alert|EOF"),
            httpx.Client(verify=context, trust_env=False) as client,
        ):
            client.post(f"{shared_watcher.webhook_url}{WEBHOOK}", content=b"{}")

    @pytest.mark.parametrize(
        "name",
        ["compass-watcher.kyma-system.svc", "compass-watcher.kyma-system.svc.cluster.local", "127.0.0.1"],
    )
    def test_tls_1_3_with_a_certificate_for_the_service_s_names(
        self, shared_watcher: ServedWatcher, name: str
    ) -> None:
        handshake = shared_watcher.handshake(shared_watcher.client_context(), server_hostname=name)

        assert handshake.version == "TLSv1.3"


class TestASpoolThatCannotWrite:
    @pytest.fixture
    def broken_spool(self, watcher: ServedWatcher) -> Iterator[ServedWatcher]:
        """The spool's directory gone from under the running watcher (as a lost volume), a file in its place."""
        shutil.rmtree(watcher.spool_dir)
        watcher.spool_dir.write_text("")
        yield watcher
        watcher.spool_dir.unlink()

    def test_the_change_is_still_allowed_and_the_lost_event_said_and_counted(
        self, broken_spool: ServedWatcher
    ) -> None:
        body = admission_review("CREATE", application("unspooled"), None)

        response = review(broken_spool, body)

        assert allowed_with(response, body["request"]["uid"]) == (
            "kcp request lost: the event could not be queued: Not a directory"
        )
        assert f'compass_watcher_admission_reviews_total{{module="{MODULE}",outcome="lost"}} 1.0' in (
            broken_spool.metrics()
        )
