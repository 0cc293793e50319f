"""The Runtime Watcher's listener, ``POST /v2/<module>/event``, on a real server over mTLS (and behind a trusted
proxy): every refusal of DATAPLANE.md E.5, the runtime taken from the certificate only, bounded retention,
``Runtime.watchEvents``, the metrics, and the built-in consumer waking the runtime's change stream."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from connector.ca import CertificateAuthority
from director.models import Runtime
from director.watcher.consumers import Consumers
from director.watcher.models import WatchEvent
from kernel.db import Database
from kernel.observability.metrics import REGISTRY
from kernel.settings import Settings
from tests.connector.support import REVOKE, Connected, Harness, harness
from tests.connector.test_change_stream import change_stream
from tests.connector.test_proxy_header import signed_by, xfcc
from tests.fixtures.servers import StartServer
from tests.test_cli import compass

AGENT_MODULE = "compass-runtime-agent"
PROXY = "127.0.0.1"
UNTRUSTED = "127.0.0.2"
SETTINGS: dict[str, Any] = {"trusted_proxies": [PROXY]}
PLAIN_TEXT = "text/plain; charset=utf-8"
MAX_BODY = 16_384
TOO_LARGE = "Body size greater than 16384 bytes is not allowed\n"
WATCH_EVENTS = """
query ($id: ID!, $first: Int) {
  result: runtime(id: $id) {
    watchEvents(first: $first) { module watched { namespace name } watchedGvk { group version kind } receivedAt }
  }
}"""

Listener = Callable[..., Awaitable[Harness]]


def event_body(name: str = "shop", *, namespace: str = "kyma-system", kind: str = "Application") -> dict[str, Any]:
    """The v2 body exactly as Kyma's webhook (and ``compass-watcher``) sends it."""
    return {
        "watched": {"Namespace": namespace, "Name": name},
        "watchedGvk": {"group": "applicationconnector.kyma-project.io", "version": "v1alpha1", "kind": kind},
    }


async def post_event(
    client: httpx.AsyncClient,
    body: dict[str, Any] | bytes | None = None,
    *,
    module: str = AGENT_MODULE,
    contract: str = "v2",
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    content = body if isinstance(body, bytes) else json.dumps(body or event_body()).encode()
    headers = {"Content-Type": "application/json", **(headers or {})}
    return await client.post(f"/{contract}/{module}/event", content=content, headers=headers)


def assert_refused(response: httpx.Response, status: int, starts: str) -> None:
    """Go's ``http.Error``: the status, plain text, one line."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PLAIN_TEXT
    assert response.text.startswith(starts), response.text
    assert response.text.endswith("\n")


def metric(module: str, outcome: str) -> float:
    return REGISTRY.get_sample_value("compass_watch_events_total", {"module": module, "outcome": outcome}) or 0.0


@pytest.fixture
async def listener_with(start_server: StartServer, database: Database, tmp_path: Path) -> AsyncIterator[Listener]:
    """A harness on a server that trusts the proxy at 127.0.0.1, with more settings if asked."""
    async with AsyncExitStack() as stack:

        async def make(**overrides: Any) -> Harness:
            return await stack.enter_async_context(harness(start_server(**SETTINGS, **overrides), database, tmp_path))

        yield make


@pytest.fixture
async def listener(listener_with: Listener) -> Harness:
    return await listener_with()


async def watch_events(listener: Harness, runtime: Connected, operator: Any, first: int | None = None) -> Any:
    return (await operator.query(WATCH_EVENTS, {"id": runtime.object_id, "first": first}))["result"]["watchEvents"]


# --- accepted ---------------------------------------------------------------------------------------------


async def test_a_runtimes_event_is_answered_200_empty_and_stored_on_its_runtime(listener: Harness) -> None:
    # given
    operator = await listener.operator()
    runtime = await listener.connect_runtime(operator)

    # when
    response = await post_event(listener.mtls(runtime.credentials), event_body("orders"))

    # then
    assert (response.status_code, response.content) == (200, b"")
    [stored] = await watch_events(listener, runtime, operator)
    assert stored["module"] == AGENT_MODULE
    assert stored["watched"] == {"namespace": "kyma-system", "name": "orders"}
    assert stored["watchedGvk"] == {
        "group": "applicationconnector.kyma-project.io", "version": "v1alpha1", "kind": "Application"
    }  # fmt: skip


async def test_a_certificate_forwarded_by_the_trusted_proxy_is_the_runtimes(listener: Harness) -> None:
    operator = await listener.operator()
    runtime = await listener.connect_runtime(operator)

    response = await post_event(
        listener.http, headers={"X-Forwarded-Client-Cert": xfcc(runtime.credentials.certificate)}
    )

    assert response.status_code == 200
    assert len(await watch_events(listener, runtime, operator)) == 1


async def test_another_tenants_runtime_gets_the_event_only_on_itself_and_only_its_tenant_sees_it(
    listener: Harness,
) -> None:
    # given: tenant A's runtime, and tenant B's runtime whose certificate posts
    operator_a, operator_b = await listener.operator(), await listener.operator()
    runtime_a = await listener.connect_runtime(operator_a)
    runtime_b = await listener.connect_runtime(operator_b)

    # when
    response = await post_event(listener.mtls(runtime_b.credentials))

    # then
    assert response.status_code == 200
    assert len(await watch_events(listener, runtime_b, operator_b)) == 1
    assert await watch_events(listener, runtime_a, operator_a) == []
    assert (await operator_a.query(WATCH_EVENTS, {"id": runtime_b.object_id}))["result"] is None


# --- refused, in Kyma's order -----------------------------------------------------------------------------


async def test_an_announced_body_over_16_kib_is_refused_413_before_anything_else(listener: Harness) -> None:
    # given: no certificate, a wrong method and contract too: the size is checked first
    response = await listener.http.put("/v1/x/event", content=b"x" * (MAX_BODY + 1))

    assert_refused(response, 413, TOO_LARGE)


async def test_a_streamed_body_over_16_kib_is_refused_413(listener: Harness) -> None:
    runtime = await listener.connect_runtime(await listener.operator())

    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(5):
            yield b" " * 4096

    response = await listener.mtls(runtime.credentials).post(f"/v2/{AGENT_MODULE}/event", content=chunks())

    assert_refused(response, 413, TOO_LARGE)


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE"])
async def test_another_method_is_refused_405(listener: Harness, method: str) -> None:
    runtime = await listener.connect_runtime(await listener.operator())

    response = await listener.mtls(runtime.credentials).request(method, f"/v2/{AGENT_MODULE}/event")

    assert_refused(response, 405, f"{method} method is not allowed on this path")


@pytest.mark.parametrize("contract", ["v1", "v3", "2"])
async def test_a_contract_version_other_than_v2_is_refused_400(listener: Harness, contract: str) -> None:
    runtime = await listener.connect_runtime(await listener.operator())

    response = await post_event(listener.mtls(runtime.credentials), contract=contract)

    assert_refused(response, 400, "could not read contract version")


async def test_no_client_certificate_is_refused_401_on_both_listeners(listener: Harness) -> None:
    over_tls = await post_event(listener.mtls())
    plain = await post_event(listener.http)

    assert_refused(over_tls, 401, "could not get client certificate from request: ")
    assert_refused(plain, 401, "could not get client certificate from request: ")


async def test_a_certificate_header_from_an_untrusted_address_is_ignored(listener: Harness) -> None:
    operator = await listener.operator()
    runtime = await listener.connect_runtime(operator)

    response = await post_event(
        listener.plain_from(UNTRUSTED), headers={"X-Forwarded-Client-Cert": xfcc(runtime.credentials.certificate)}
    )

    assert_refused(response, 401, "could not get client certificate from request: ")
    assert await watch_events(listener, runtime, operator) == []


@pytest.mark.parametrize(
    ("issuer", "validity", "message"),
    [
        ("foreign", timedelta(days=1), "the forwarded client certificate was not issued by this CA"),
        ("ours", timedelta(days=-1), "the forwarded client certificate is not valid at this time"),
        ("ours", timedelta(days=1), "the client certificate is not known here"),
    ],
    ids=["foreign-ca", "expired", "never-issued"],
)
async def test_a_forwarded_certificate_the_director_would_refuse_is_refused_401(
    listener: Harness, issuer: str, validity: timedelta, message: str
) -> None:
    # given: the runtime's own subject, in a certificate of another CA, expired, or signed but never issued
    operator = await listener.operator()
    runtime = await listener.connect_runtime(operator)
    ca = CertificateAuthority.generate() if issuer == "foreign" else listener.ca
    now = datetime.now(UTC)
    start = now if validity > timedelta(0) else now - timedelta(days=10)
    certificate = signed_by(ca, runtime.subject, now=start, validity=abs(validity))

    # when
    response = await post_event(listener.http, headers={"X-Forwarded-Client-Cert": xfcc(certificate)})

    # then
    assert_refused(response, 401, f"client certificate refused: {message}")
    assert await watch_events(listener, runtime, operator) == []


async def test_an_applications_certificate_is_refused_403(listener: Harness) -> None:
    application = await listener.connect_application(await listener.operator())

    response = await post_event(listener.mtls(application.credentials))

    assert_refused(response, 403, "the client certificate is an application's")


async def test_a_revoked_certificate_is_refused_on_the_next_call(listener: Harness) -> None:
    # given: an event accepted, then the certificate revoked
    runtime = await listener.connect_runtime(await listener.operator())
    client = listener.mtls(runtime.credentials)
    assert (await post_event(client)).status_code == 200
    assert (await listener.connector(REVOKE, client=listener.mtls(runtime.credentials))).result is True

    # when
    response = await post_event(client)

    # then
    assert_refused(response, 403, "client certificate refused: the client certificate is revoked")


async def test_a_body_that_is_no_json_is_refused_400_naming_it(listener: Harness) -> None:
    runtime = await listener.connect_runtime(await listener.operator())

    response = await post_event(listener.mtls(runtime.credentials), b'{"watched": ')

    assert response.text == 'could not unmarshal watcher event: Body{{"watched": }\n'
    assert_refused(response, 400, "could not unmarshal watcher event")


@pytest.mark.parametrize(
    "body",
    [
        {"watched": {"Namespace": "default"}, "watchedGvk": {"group": "", "version": "v1", "kind": "Secret"}},
        {"watched": {"Namespace": "default", "Name": "a"}, "watchedGvk": {"group": "", "version": "v1"}},
        {"watched": {"Name": "a"}},
        {"watched": {"Name": 7}, "watchedGvk": {"version": "v1", "kind": "Secret"}},
        [],
    ],
    ids=["no-name", "no-kind", "no-gvk", "name-not-a-string", "not-an-object"],
)
async def test_a_body_without_a_watched_name_or_kind_is_refused_400(listener: Harness, body: Any) -> None:
    runtime = await listener.connect_runtime(await listener.operator())

    response = await post_event(listener.mtls(runtime.credentials), json.dumps(body).encode())

    assert response.status_code == 400
    assert response.headers["content-type"] == PLAIN_TEXT


async def test_a_module_that_is_no_dns_label_is_refused_400(listener: Harness) -> None:
    runtime = await listener.connect_runtime(await listener.operator())

    response = await post_event(listener.mtls(runtime.credentials), module="Not_A_Label")

    assert_refused(response, 400, "invalid watcher event: module must be")


# --- what is kept, and read ---------------------------------------------------------------------------------


async def test_a_runtime_keeps_only_its_newest_events(listener_with: Listener) -> None:
    # given: a server that keeps 3 events per runtime
    limited = await listener_with(watch_events_kept=3)
    operator = await limited.operator()
    runtime, neighbour = await limited.connect_runtime(operator), await limited.connect_runtime(operator)
    assert (await post_event(limited.mtls(neighbour.credentials), event_body("neighbours"))).status_code == 200
    client = limited.mtls(runtime.credentials)

    # when
    for index in range(5):
        assert (await post_event(client, event_body(f"app-{index}"))).status_code == 200

    # then: the newest three, newest first; the other runtime's event is untouched
    kept = await watch_events(limited, runtime, operator, first=200)
    assert [event["watched"]["name"] for event in kept] == ["app-4", "app-3", "app-2"]
    assert len(await watch_events(limited, neighbour, operator)) == 1


async def test_unregistering_a_runtime_deletes_its_events(listener: Harness) -> None:
    # given
    operator = await listener.operator()
    runtime = await listener.connect_runtime(operator)
    await post_event(listener.mtls(runtime.credentials))

    # when
    await operator.query("mutation ($id: ID!) { result: unregisterRuntime(id: $id) { id } }", {"id": runtime.object_id})

    # then
    async with listener.database.read_sessions() as session:
        statement = select(func.count()).where(WatchEvent.runtime_id == runtime.object_id)
        assert (await session.execute(statement)).scalar_one() == 0


async def test_watch_events_are_newest_first_and_as_many_as_asked(listener: Harness) -> None:
    operator = await listener.operator()
    runtime = await listener.connect_runtime(operator)
    client = listener.mtls(runtime.credentials)
    for name in ("first", "second", "third"):
        await post_event(client, event_body(name))

    newest = await watch_events(listener, runtime, operator, first=2)

    assert [event["watched"]["name"] for event in newest] == ["third", "second"]
    assert newest[0]["receivedAt"] >= newest[1]["receivedAt"]


@pytest.mark.parametrize("first", [0, -1, 201])
async def test_watch_events_first_out_of_1_to_200_is_invalid_input(listener: Harness, first: int) -> None:
    operator = await listener.operator()
    runtime = await listener.connect_runtime(operator)

    answer = await operator.execute(WATCH_EVENTS, {"id": runtime.object_id, "first": first})

    assert [error["extensions"]["code"] for error in answer["errors"]] == ["INVALID_INPUT"]


async def test_events_are_counted_by_module_and_outcome(listener: Harness) -> None:
    # given
    runtime = await listener.connect_runtime(await listener.operator())
    client = listener.mtls(runtime.credentials)
    before = {
        "stored": metric(AGENT_MODULE, "stored"),
        "other": metric("other", "stored"),
        "refused": metric(AGENT_MODULE, "method_not_allowed"),
    }

    # when: two stored (one of a module no consumer registered, counted as "other"), one refused
    await post_event(client)
    await post_event(client, module="my-operator")
    await client.get(f"/v2/{AGENT_MODULE}/event")

    # then
    assert metric(AGENT_MODULE, "stored") == before["stored"] + 1
    assert metric("other", "stored") == before["other"] + 1
    assert metric(AGENT_MODULE, "method_not_allowed") == before["refused"] + 1


async def test_the_cli_lists_a_runtimes_events_newest_first_within_its_tenant(
    listener: Harness, settings: Settings, tmp_path: Path
) -> None:
    # given
    operator, other = await listener.operator(), await listener.operator()
    runtime = await listener.connect_runtime(operator)
    client = listener.mtls(runtime.credentials)
    for name in ("older", "newer"):
        await post_event(client, event_body(name, namespace=""))
    url = {"COMPASS_DATABASE_URL": settings.effective_database_url}

    # when
    lines = compass(tmp_path, "watch-events", "--runtime", runtime.object_id, **url)
    as_json = compass(tmp_path, "watch-events", "--runtime", runtime.object_id, "--first", "1", "--json", **url)
    elsewhere = compass(
        tmp_path, "watch-events", "--runtime", runtime.object_id, "--tenant", other.tenant_id, **url
    )

    # then
    assert lines.returncode == 0, lines.stderr
    assert [line.split("  ", 1)[1] for line in lines.stdout.splitlines()] == [
        f"{AGENT_MODULE}  applicationconnector.kyma-project.io/v1alpha1 Application  newer",
        f"{AGENT_MODULE}  applicationconnector.kyma-project.io/v1alpha1 Application  older",
    ]
    [shown] = json.loads(as_json.stdout)
    assert (shown["watched"], shown["watchedGvk"]["kind"]) == ({"namespace": "", "name": "newer"}, "Application")
    assert (elsewhere.returncode, elsewhere.stdout) == (0, "")


# --- the built-in consumer ----------------------------------------------------------------------------------


async def _revision(database: Database, runtime_id: str) -> int:
    async with database.read_sessions() as session:
        return int((await session.execute(select(Runtime.revision).where(Runtime.id == runtime_id))).scalar_one())


async def test_an_agent_module_event_wakes_the_runtimes_change_stream_without_a_new_revision(
    listener: Harness,
) -> None:
    # given: the runtime's agent holds its change stream open
    runtime = await listener.connect_runtime(await listener.operator())
    revision = await _revision(listener.database, runtime.object_id)

    async with change_stream(listener.mtls(runtime.credentials)) as stream:
        assert await stream.next_event() == "subscribed"

        # when: its watcher reports a hand-deleted Application
        response = await post_event(listener.mtls(runtime.credentials), event_body("deleted-by-hand"))

        # then
        assert response.status_code == 200
        assert await asyncio.wait_for(stream.next_event(), 25) == "changed"
    assert await _revision(listener.database, runtime.object_id) == revision


class _Failing:
    def tags(self, event: WatchEvent) -> tuple[str, ...]:
        return (f"x:{event.name}",)

    async def received(self, event: WatchEvent) -> None:
        raise RuntimeError(f"a bug about {event.name}")


class _Recording:
    def __init__(self) -> None:
        self.events: list[WatchEvent] = []

    def tags(self, _event: WatchEvent) -> tuple[str, ...]:
        return ()

    async def received(self, event: WatchEvent) -> None:
        self.events.append(event)


async def test_a_failing_consumer_neither_raises_nor_keeps_the_others_from_the_event() -> None:
    recording = _Recording()
    consumers = Consumers({"shop": [_Failing(), recording]})
    event = WatchEvent(
        tenant_id="t", runtime_id="r", module="shop", namespace="", name="orders", group="", version="v1", kind="Order"
    )

    await consumers.dispatch(event)

    assert recording.events == [event]
    assert consumers.tags(event) == {"x:orders"}
    assert consumers.of("another") == ()
