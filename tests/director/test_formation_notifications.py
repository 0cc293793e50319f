"""Formation assignment notifications as Compass sends them: the participants' webhooks (on the loopback stand-in)
are called after the assignment's commit, by the server's notifier, and their answers decide the assignments'
states; an ASYNC_CALLBACK participant reports on the status API; nothing owed is lost when a notifier dies."""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager
from sqlalchemy import event, update

from compass.app import create_app
from compass.auth.jwt import issue_token
from director.formation.inputs import FormationObjectType
from director.formation.service import formation as formation_service
from director.formationassignment.notifications import Outcome
from director.formationassignment.notifier import FormationNotifier
from director.formationassignment.service import formation_assignment as assignment_service
from director.models import Formation, FormationAssignment
from director.polling.invalidation import unit_of_work
from director.webhook.service import webhook as webhook_service
from kernel.db import Database
from kernel.models import utcnow
from kernel.principal import ALL_SCOPES
from kernel.settings import Settings
from testing.served import ServedCompass
from testing.upstream import Answer, UpstreamStandIn
from testing.waiting import wait_until
from tests.support import Operator, TenantFactory

# Compass's usual output template: the participant's configuration, state and error from the body; 200 is done,
# 202 is "configuration pending" (or, for ASYNC_CALLBACK, "accepted").
OUTPUT = (
    '{"config":"{{.Body.config}}","state":"{{.Body.state}}","location":"{{.Headers.Location}}",'
    '"error":"{{.Body.error}}","success_status_code":200,"incomplete_status_code":202}'
)
INPUT = (
    '{"operation":"{{.Operation}}","formation":"{{.FormationID}}","application":"{{.Application.ID}}",'
    '"runtime":"{{.Runtime.ID}}","assignment":"{{.Assignment.ID}}","state":"{{.Assignment.State}}"}'
)
ASSIGNMENTS = "formationAssignments { data { id source target state value error } }"


def _webhook(stand_in: UpstreamStandIn, *, mode: str = "SYNC", path: str = "notify") -> dict[str, Any]:
    return {
        "type": "CONFIGURATION_CHANGED",
        "mode": mode,
        "urlTemplate": f'{{"method":"PATCH","path":"{stand_in.http_url}/echo/{path}/{{{{.Assignment.ID}}}}"}}',
        "inputTemplate": INPUT,
        "headerTemplate": '{"Content-Type":["application/json"],"X-Formation":["{{.FormationID}}"]}',
        "outputTemplate": OUTPUT,
    }


async def _runtime(operator: Operator, webhook: dict[str, Any] | None) -> str:
    data = await operator.query(
        f'mutation {{ registerRuntime(in: {{name: "rt-{uuid.uuid4().hex[:8]}"}}) {{ id }} }}'
    )
    runtime_id: str = data["registerRuntime"]["id"]
    if webhook is not None:
        await operator.query(
            "mutation ($id: ID!, $in: WebhookInput!) { addWebhook(runtimeID: $id, in: $in) { id } }",
            {"id": runtime_id, "in": webhook},
        )
    return runtime_id


async def _application(operator: Operator) -> str:
    data = await operator.query('mutation { registerApplication(in: {name: "shop"}) { id } }')
    application_id: str = data["registerApplication"]["id"]
    return application_id


async def _formation(operator: Operator, name: str = "notified") -> str:
    data = await operator.query(f'mutation {{ createFormation(formation: {{name: "{name}"}}) {{ id }} }}')
    formation_id: str = data["createFormation"]["id"]
    return formation_id


async def _assign(operator: Operator, object_type: str, object_id: str, name: str = "notified") -> None:
    await operator.query(
        f'mutation {{ assignFormation(objectID: "{object_id}", objectType: {object_type}, '
        f'formation: {{name: "{name}"}}) {{ id }} }}'
    )


async def _unassign(operator: Operator, object_type: str, object_id: str, name: str = "notified") -> None:
    await operator.query(
        f'mutation {{ unassignFormation(objectID: "{object_id}", objectType: {object_type}, '
        f'formation: {{name: "{name}"}}) {{ id }} }}'
    )


async def _assignments(operator: Operator, name: str = "notified") -> dict[tuple[str, str], dict[str, Any]]:
    data = await operator.query(f'query {{ formationByName(name: "{name}") {{ {ASSIGNMENTS} }} }}')
    rows = data["formationByName"]["formationAssignments"]["data"]
    return {(row["source"], row["target"]): row for row in rows}


async def _settled(
    operator: Operator, pair: tuple[str, str], state: str, *, seconds: float = 10
) -> dict[str, Any]:
    """The assignment once it reached ``state`` (the notifier works after the mutation's answer)."""
    found: dict[str, Any] = {}

    async def reached() -> bool:
        found.update((await _assignments(operator)).get(pair) or {"state": "gone"})
        return found["state"] == state

    await wait_until(
        reached, seconds=seconds, what=f"assignment {pair} in {state}", detail=lambda: str(found)
    )
    return found


async def _gone(operator: Operator, pair: tuple[str, str]) -> None:
    async def deleted() -> bool:
        return pair not in await _assignments(operator)

    await wait_until(deleted, seconds=10, what=f"assignment {pair} deleted")


async def _listening_pair(operator: Operator, stand_in: UpstreamStandIn, **webhook: Any) -> tuple[str, str]:
    """A formation with a listening runtime, then an application assigned: the application-to-runtime pair."""
    runtime_id = await _runtime(operator, _webhook(stand_in, **webhook))
    application_id = await _application(operator)
    await _formation(operator)
    await _assign(operator, "RUNTIME", runtime_id)
    await _assign(operator, "APPLICATION", application_id)
    return application_id, runtime_id


class TestAssigning:
    async def test_a_listening_runtime_is_notified_with_the_rendered_request(
        self, operator: Operator, upstream_stand_in: UpstreamStandIn
    ) -> None:
        application_id, runtime_id = await _listening_pair(operator, upstream_stand_in)
        row = await _settled(operator, (application_id, runtime_id), "READY")
        [request] = [r for r in upstream_stand_in.requests if r.path == f"/echo/notify/{row['id']}"]
        assert request.method == "PATCH"
        assert request.header("x-formation") is not None
        body = json.loads(request.body)
        assert body == {
            "operation": "assign",
            "formation": request.header("x-formation"),
            "application": application_id,
            "runtime": runtime_id,
            "assignment": row["id"],
            "state": "INITIAL",
        }

    async def test_an_assignment_whose_target_does_not_listen_is_ready_at_once(
        self, operator: Operator, upstream_stand_in: UpstreamStandIn
    ) -> None:
        application_id, runtime_id = await _listening_pair(operator, upstream_stand_in)
        assignments = await _assignments(operator)
        await _settled(operator, (application_id, runtime_id), "READY")
        assert assignments[(runtime_id, application_id)]["state"] == "READY"
        assert assignments[(application_id, application_id)]["state"] == "READY"

    async def test_the_configuration_answered_is_the_assignments_value(
        self, operator: Operator, upstream_stand_in: UpstreamStandIn
    ) -> None:
        upstream_stand_in.respond(Answer(200, b'{"config": {"url": "https://shop.example.com"}}'))
        pair = await _listening_pair(operator, upstream_stand_in)
        row = await _settled(operator, pair, "READY")
        assert json.loads(row["value"]) == {"url": "https://shop.example.com"}

    async def test_the_incomplete_status_code_is_config_pending(
        self, operator: Operator, upstream_stand_in: UpstreamStandIn
    ) -> None:
        upstream_stand_in.respond(Answer(202, b"{}"))
        pair = await _listening_pair(operator, upstream_stand_in)
        await _settled(operator, pair, "CONFIG_PENDING")

    async def test_an_unexpected_status_code_is_a_technical_create_error(
        self, operator: Operator, upstream_stand_in: UpstreamStandIn
    ) -> None:
        upstream_stand_in.respond(Answer(500, b"{}"))
        pair = await _listening_pair(operator, upstream_stand_in)
        row = await _settled(operator, pair, "CREATE_ERROR")
        assert json.loads(row["error"]) == {
            "error": {
                "message": "response success status code was not met - expected success status code '200' or "
                "incomplete status code '202', got '500'",
                "errorCode": 1,
            }
        }

    async def test_an_error_the_participant_answers_is_a_client_create_error(
        self, operator: Operator, upstream_stand_in: UpstreamStandIn
    ) -> None:
        upstream_stand_in.respond(Answer(400, b'{"error": "no such tenant"}'))
        pair = await _listening_pair(operator, upstream_stand_in)
        row = await _settled(operator, pair, "CREATE_ERROR")
        assert json.loads(row["error"]) == {"error": {"message": "no such tenant", "errorCode": 2}}

    async def test_an_unreachable_participant_is_a_technical_create_error(self, operator: Operator) -> None:
        runtime_id = await _runtime(operator, None)
        webhook = {
            "type": "CONFIGURATION_CHANGED",
            "url": "http://127.0.0.1:9/closed",
            "outputTemplate": OUTPUT,
        }
        await operator.query(
            "mutation ($id: ID!, $in: WebhookInput!) { addWebhook(runtimeID: $id, in: $in) { id } }",
            {"id": runtime_id, "in": webhook},
        )
        application_id = await _application(operator)
        await _formation(operator)
        await _assign(operator, "RUNTIME", runtime_id)
        await _assign(operator, "APPLICATION", application_id)
        row = await _settled(operator, (application_id, runtime_id), "CREATE_ERROR")
        assert json.loads(row["error"])["error"]["errorCode"] == 1

    async def test_resynchronizing_sends_a_failed_notification_again(
        self, operator: Operator, upstream_stand_in: UpstreamStandIn
    ) -> None:
        upstream_stand_in.respond(Answer(500, b"{}"))
        pair = await _listening_pair(operator, upstream_stand_in)
        await _settled(operator, pair, "CREATE_ERROR")
        formation_id = (await operator.query('query { formationByName(name: "notified") { id } }'))[
            "formationByName"
        ]["id"]
        await operator.query(
            f'mutation {{ resynchronizeFormationNotifications(formationID: "{formation_id}") {{ id }} }}'
        )
        row = await _settled(operator, pair, "READY")
        assert row["error"] is None


class TestUnassigning:
    async def test_a_listening_runtime_is_told_and_the_assignment_is_deleted_when_it_answers(
        self, operator: Operator, upstream_stand_in: UpstreamStandIn
    ) -> None:
        application_id, runtime_id = await _listening_pair(operator, upstream_stand_in)
        row = await _settled(operator, (application_id, runtime_id), "READY")
        await _unassign(operator, "APPLICATION", application_id)
        await _gone(operator, (application_id, runtime_id))
        told = [
            json.loads(r.body) for r in upstream_stand_in.requests if r.path == f"/echo/notify/{row['id']}"
        ]
        assert [body["operation"] for body in told] == ["assign", "unassign"]

    async def test_a_failed_unassignment_keeps_the_assignment_in_delete_error(
        self, operator: Operator, upstream_stand_in: UpstreamStandIn
    ) -> None:
        pair = await _listening_pair(operator, upstream_stand_in)
        await _settled(operator, pair, "READY")
        upstream_stand_in.respond(Answer(500, b"{}"))
        await _unassign(operator, "APPLICATION", pair[0])
        row = await _settled(operator, pair, "DELETE_ERROR")
        assert json.loads(row["error"])["error"]["errorCode"] == 1


async def _owe_again(database: Database, assignment_id: str, *, claimed_until: Any = None) -> None:
    """The row as a dead notifier left it: owing its notification (claimed, if ``claimed_until``)."""
    async with database.transaction() as session:
        await session.execute(
            update(FormationAssignment)
            .where(FormationAssignment.id == assignment_id)
            .values(
                state="INITIAL",
                notification="assign",
                claim="dead-notifier" if claimed_until else None,
                claimed_until=claimed_until,
            )
        )


class TestDurability:
    async def test_a_notification_owed_at_a_restart_is_sent_by_the_new_server(
        self, operator: Operator, upstream_stand_in: UpstreamStandIn, settings: Settings, database: Database
    ) -> None:
        pair = await _listening_pair(operator, upstream_stand_in)
        row = await _settled(operator, pair, "READY")
        await _owe_again(database, row["id"])
        async with LifespanManager(create_app(settings, database)):
            await _settled(operator, pair, "READY")
        assert len(upstream_stand_in.requests_to(f"/echo/notify/{row['id']}")) == 2

    async def test_a_dead_notifiers_claim_is_taken_over_once_its_lease_ends(
        self, operator: Operator, upstream_stand_in: UpstreamStandIn, settings: Settings, database: Database
    ) -> None:
        pair = await _listening_pair(operator, upstream_stand_in)
        row = await _settled(operator, pair, "READY")
        await _owe_again(database, row["id"], claimed_until=utcnow() + timedelta(minutes=5))
        assert await FormationNotifier(database, settings).sweep() == 0
        await _owe_again(database, row["id"], claimed_until=utcnow() - timedelta(seconds=1))
        assert await FormationNotifier(database, settings).sweep() == 1
        await _settled(operator, pair, "READY")

    async def test_concurrent_notifiers_send_a_notification_once(
        self, operator: Operator, upstream_stand_in: UpstreamStandIn, settings: Settings, database: Database
    ) -> None:
        pair = await _listening_pair(operator, upstream_stand_in)
        row = await _settled(operator, pair, "READY")
        await _owe_again(database, row["id"])
        other = Database(database.url)
        try:
            sent = await asyncio.gather(
                FormationNotifier(database, settings).sweep(), FormationNotifier(other, settings).sweep()
            )
        finally:
            await other.dispose()
        # The server's own notifier competes too: its sweep that sent the first notification may still be looking
        # for more when the row owes again. Whoever wins, the notification is sent once.
        assert sum(sent) <= 1
        await _settled(operator, pair, "READY")
        assert len(upstream_stand_in.requests_to(f"/echo/notify/{row['id']}")) == 2

    async def test_a_notification_whose_reads_outlast_half_the_lease_is_not_sent(
        self,
        operator: Operator,
        upstream_stand_in: UpstreamStandIn,
        settings: Settings,
        database: Database,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        pair = await _listening_pair(operator, upstream_stand_in)
        row = await _settled(operator, pair, "READY")
        await _owe_again(database, row["id"])
        reading = assignment_service.notification_of

        async def slow(*arguments: Any) -> Any:
            await asyncio.sleep(10)
            return await reading(*arguments)

        monkeypatch.setattr(assignment_service, "notification_of", slow)
        # Half the lease (the time a notification may take) is far above what a claim takes even on a busy machine:
        # with 0.4 s, claims slower than 0.2 s re-claimed the row again and again within the one sweep.
        short = settings.model_copy(update={"notification_lease_seconds": 4.0})
        await FormationNotifier(database, short).sweep()
        assert len(upstream_stand_in.requests_to(f"/echo/notify/{row['id']}")) == 1


STATUS = "/v1/businessIntegrations/{formation}/assignments/{assignment}/status"


async def _status(
    client: httpx.AsyncClient, operator: Operator, formation_id: str, assignment_id: str, body: dict[str, Any]
) -> httpx.Response:
    return await client.patch(
        STATUS.format(formation=formation_id, assignment=assignment_id), json=body, headers=operator.headers
    )


async def _waiting_for_callback(
    operator: Operator, stand_in: UpstreamStandIn
) -> tuple[str, str, tuple[str, str]]:
    """An ASYNC_CALLBACK participant that accepted the notification: formation id, assignment id, pair."""
    stand_in.respond(Answer(202, b"{}"))
    pair = await _listening_pair(operator, stand_in, mode="ASYNC_CALLBACK")
    await wait_until(lambda: any(r.path.startswith("/echo/notify/") for r in stand_in.requests), seconds=10)
    row = await _settled(operator, pair, "INITIAL")
    formation_id = (await operator.query('query { formationByName(name: "notified") { id } }'))[
        "formationByName"
    ]["id"]
    return formation_id, row["id"], pair


class TestStatusAPI:
    async def test_an_async_callback_assignment_waits_for_the_participants_report(
        self, operator: Operator, upstream_stand_in: UpstreamStandIn, client: httpx.AsyncClient
    ) -> None:
        formation_id, assignment_id, pair = await _waiting_for_callback(operator, upstream_stand_in)
        response = await _status(
            client,
            operator,
            formation_id,
            assignment_id,
            {"state": "READY", "configuration": {"key": "value"}},
        )
        assert response.status_code == 200
        row = (await _assignments(operator))[pair]
        assert (row["state"], json.loads(row["value"])) == ("READY", {"key": "value"})

    async def test_a_reported_error_is_a_client_create_error(
        self, operator: Operator, upstream_stand_in: UpstreamStandIn, client: httpx.AsyncClient
    ) -> None:
        formation_id, assignment_id, pair = await _waiting_for_callback(operator, upstream_stand_in)
        response = await _status(
            client, operator, formation_id, assignment_id, {"state": "CREATE_ERROR", "error": "nope"}
        )
        assert response.status_code == 200
        row = (await _assignments(operator))[pair]
        assert json.loads(row["error"]) == {"error": {"message": "nope", "errorCode": 2}}

    async def test_a_state_of_another_operation_is_bad_request(
        self, operator: Operator, upstream_stand_in: UpstreamStandIn, client: httpx.AsyncClient
    ) -> None:
        formation_id, assignment_id, _pair = await _waiting_for_callback(operator, upstream_stand_in)
        response = await _status(client, operator, formation_id, assignment_id, {"state": "DELETE_ERROR"})
        assert response.status_code == 400
        assert response.json() == {"error": "An invalid state: DELETE_ERROR is provided for assign operation"}

    async def test_an_error_with_a_configuration_is_bad_request(
        self, operator: Operator, upstream_stand_in: UpstreamStandIn, client: httpx.AsyncClient
    ) -> None:
        formation_id, assignment_id, _pair = await _waiting_for_callback(operator, upstream_stand_in)
        body = {"state": "CREATE_ERROR", "error": "x", "configuration": {"a": 1}}
        response = await _status(client, operator, formation_id, assignment_id, body)
        assert response.status_code == 400

    async def test_another_tenants_assignment_is_not_found(
        self,
        operator: Operator,
        upstream_stand_in: UpstreamStandIn,
        client: httpx.AsyncClient,
        tenants: TenantFactory,
    ) -> None:
        formation_id, assignment_id, _pair = await _waiting_for_callback(operator, upstream_stand_in)
        stranger = await tenants.operator()
        response = await _status(client, stranger, formation_id, assignment_id, {"state": "READY"})
        assert response.status_code == 404

    async def test_an_operator_without_formation_write_is_unauthorized(
        self,
        operator: Operator,
        upstream_stand_in: UpstreamStandIn,
        client: httpx.AsyncClient,
        tenants: TenantFactory,
    ) -> None:
        formation_id, assignment_id, _pair = await _waiting_for_callback(operator, upstream_stand_in)
        reader = await tenants.operator(scopes=["formation:read"], tenant_id=operator.tenant_id)
        response = await _status(client, reader, formation_id, assignment_id, {"state": "READY"})
        assert response.status_code == 401

    async def test_a_call_without_credentials_is_refused(self, client: httpx.AsyncClient) -> None:
        response = await client.patch(STATUS.format(formation="f", assignment="a"), json={"state": "READY"})
        assert response.status_code == 401

    async def test_a_caller_who_may_not_report_is_unauthorized_before_its_body_is_read(
        self,
        operator: Operator,
        upstream_stand_in: UpstreamStandIn,
        client: httpx.AsyncClient,
        tenants: TenantFactory,
    ) -> None:
        formation_id, assignment_id, _pair = await _waiting_for_callback(operator, upstream_stand_in)
        reader = await tenants.operator(scopes=["formation:read"], tenant_id=operator.tenant_id)
        response = await client.patch(
            STATUS.format(formation=formation_id, assignment=assignment_id),
            content=b"not json",
            headers={**reader.headers, "Content-Type": "application/json"},
        )
        assert response.status_code == 401

    async def test_a_report_cancels_the_notification_still_owed(
        self,
        operator: Operator,
        upstream_stand_in: UpstreamStandIn,
        client: httpx.AsyncClient,
        database: Database,
    ) -> None:
        formation_id, assignment_id, _pair = await _waiting_for_callback(operator, upstream_stand_in)
        await _owe_again(database, assignment_id, claimed_until=utcnow() + timedelta(minutes=5))
        response = await _status(client, operator, formation_id, assignment_id, {"state": "READY"})
        assert response.status_code == 200
        async with database.read_sessions() as session:
            row = await session.get(FormationAssignment, assignment_id)
        assert row is not None
        assert (row.state, row.notification, row.claim) == ("READY", None, None)

    async def test_an_answer_recorded_after_the_participants_report_does_not_overwrite_it(
        self,
        operator: Operator,
        upstream_stand_in: UpstreamStandIn,
        client: httpx.AsyncClient,
        database: Database,
    ) -> None:
        formation_id, assignment_id, pair = await _waiting_for_callback(operator, upstream_stand_in)
        await _owe_again(database, assignment_id, claimed_until=utcnow() + timedelta(minutes=5))
        assert (
            await _status(client, operator, formation_id, assignment_id, {"state": "READY"})
        ).status_code == 200
        async with unit_of_work(database, operator.tenant_id) as session:
            await assignment_service.record(
                session,
                operator.tenant_id,
                assignment_id,
                "dead-notifier",
                Outcome("CREATE_ERROR", error="late"),
            )
        assert (await _assignments(operator))[pair]["state"] == "READY"

    @pytest.mark.parametrize("content", [b"", b"not json", b'{"state": "READY", "extra": 1}'])
    async def test_a_malformed_body_is_bad_request(
        self,
        operator: Operator,
        upstream_stand_in: UpstreamStandIn,
        client: httpx.AsyncClient,
        content: bytes,
    ) -> None:
        formation_id, assignment_id, _pair = await _waiting_for_callback(operator, upstream_stand_in)
        response = await client.patch(
            STATUS.format(formation=formation_id, assignment=assignment_id),
            content=content,
            headers={**operator.headers, "Content-Type": "application/json"},
        )
        assert response.status_code == 400


async def _template_application(operator: Operator, webhook: dict[str, Any]) -> str:
    """An application of a new application template that listens with ``webhook``."""
    template = {
        "name": f"listening-{uuid.uuid4().hex[:8]}",
        "applicationInput": {"name": "{{name}}"},
        "placeholders": [{"name": "name"}],
        "accessLevel": "GLOBAL",
        "webhooks": [webhook],
    }
    await operator.query(
        "mutation ($in: ApplicationTemplateInput!) { createApplicationTemplate(in: $in) { id } }",
        {"in": template},
    )
    data = await operator.query(
        "mutation ($in: ApplicationFromTemplateInput!) { registerApplicationFromTemplate(in: $in) { id } }",
        {
            "in": {
                "templateName": template["name"],
                "values": [{"placeholder": "name", "value": "from-template"}],
            }
        },
    )
    application_id: str = data["registerApplicationFromTemplate"]["id"]
    return application_id


class TestWhoIsNotified:
    async def test_an_application_hears_of_a_runtime_with_its_configuration_changed_webhook(
        self, operator: Operator, upstream_stand_in: UpstreamStandIn
    ) -> None:
        application_id = await _application(operator)
        await operator.query(
            "mutation ($id: ID!, $in: WebhookInput!) { addWebhook(applicationID: $id, in: $in) { id } }",
            {"id": application_id, "in": _webhook(upstream_stand_in, path="application")},
        )
        runtime_id = await _runtime(operator, None)
        await _formation(operator)
        await _assign(operator, "APPLICATION", application_id)
        await _assign(operator, "RUNTIME", runtime_id)
        row = await _settled(operator, (runtime_id, application_id), "READY")
        [request] = upstream_stand_in.requests_to(f"/echo/application/{row['id']}")
        assert json.loads(request.body)["runtime"] == runtime_id

    async def test_an_application_hears_of_another_through_its_templates_tenant_mapping_webhook(
        self, operator: Operator, upstream_stand_in: UpstreamStandIn
    ) -> None:
        webhook = {
            **_webhook(upstream_stand_in, path="mapping"),
            "type": "APPLICATION_TENANT_MAPPING",
            "inputTemplate": '{"source":"{{.SourceApplication.ID}}","target":"{{.TargetApplication.Name}}"}',
        }
        listening = await _template_application(operator, webhook)
        other = await _application(operator)
        await _formation(operator)
        await _assign(operator, "APPLICATION", listening)
        await _assign(operator, "APPLICATION", other)
        row = await _settled(operator, (other, listening), "READY")
        [request] = upstream_stand_in.requests_to(f"/echo/mapping/{row['id']}")
        assert json.loads(request.body) == {"source": other, "target": "from-template"}
        assert (await _assignments(operator))[(listening, other)]["state"] == "READY"

    async def test_a_runtime_context_is_notified_through_its_runtimes_webhook(
        self, operator: Operator, upstream_stand_in: UpstreamStandIn
    ) -> None:
        runtime_id = await _runtime(operator, _webhook(upstream_stand_in))
        data = await operator.query(
            f'mutation {{ registerRuntimeContext(runtimeID: "{runtime_id}", in: {{key: "k", value: "v"}}) {{ id }} }}'
        )
        context_id = data["registerRuntimeContext"]["id"]
        application_id = await _application(operator)
        await _formation(operator)
        await _assign(operator, "RUNTIME_CONTEXT", context_id)
        await _assign(operator, "APPLICATION", application_id)
        row = await _settled(operator, (application_id, context_id), "READY")
        [request] = upstream_stand_in.requests_to(f"/echo/notify/{row['id']}")
        assert json.loads(request.body)["runtime"] == runtime_id


class _RolledBack(Exception):
    pass


async def _statements_to_assign(database: Database, tenant_id: str, application_id: str) -> int:
    """The statements of assigning the application, on its own connection (the server's notifier may be busy on
    others), rolled back so that nothing is owed."""
    statements: list[str] = []
    with contextlib.suppress(_RolledBack):
        async with unit_of_work(database, tenant_id) as session:
            connection = await session.connection()
            event.listen(
                connection.sync_connection, "before_cursor_execute", lambda *call: statements.append(call[2])
            )
            await formation_service.assign(
                session, tenant_id, FormationObjectType.APPLICATION, application_id, "notified"
            )
            raise _RolledBack
    return len(statements)


async def test_assigning_costs_the_same_statements_whatever_the_number_of_listening_participants(
    operator: Operator, upstream_stand_in: UpstreamStandIn, database: Database
) -> None:
    await _formation(operator)
    await _assign(operator, "RUNTIME", await _runtime(operator, _webhook(upstream_stand_in)))
    application_id = await _application(operator)
    one = await _statements_to_assign(database, operator.tenant_id, application_id)
    for _ in range(3):
        await _assign(operator, "RUNTIME", await _runtime(operator, _webhook(upstream_stand_in)))
    assert await _statements_to_assign(database, operator.tenant_id, application_id) == one


async def test_an_unassignment_the_participant_reports_deletes_the_assignment(
    operator: Operator, upstream_stand_in: UpstreamStandIn, client: httpx.AsyncClient
) -> None:
    formation_id, assignment_id, pair = await _waiting_for_callback(operator, upstream_stand_in)
    assert (
        await _status(client, operator, formation_id, assignment_id, {"state": "READY"})
    ).status_code == 200
    upstream_stand_in.respond(Answer(202, b"{}"))
    await _unassign(operator, "APPLICATION", pair[0])
    await _settled(operator, pair, "DELETING")
    await wait_until(
        lambda: len(upstream_stand_in.requests_to(f"/echo/notify/{assignment_id}")) == 2, seconds=10
    )
    assert (
        await _status(client, operator, formation_id, assignment_id, {"state": "READY"})
    ).status_code == 200
    assert pair not in await _assignments(operator)


LIFECYCLE_INPUT = '{"operation":"{{.Operation}}","formation":"{{.Formation.Name}}","id":"{{.Formation.ID}}"}'


async def _lifecycle_formation(operator: Operator, stand_in: UpstreamStandIn, *, mode: str = "SYNC") -> str:
    """A formation of a template whose FORMATION_LIFECYCLE webhook is the stand-in: its name."""
    template = f"lifecycle-{uuid.uuid4().hex[:8]}"
    webhook = {
        **_webhook(stand_in, mode=mode, path="lifecycle"),
        "type": "FORMATION_LIFECYCLE",
        "urlTemplate": f'{{"method":"POST","path":"{stand_in.http_url}/echo/lifecycle/{{{{.Formation.ID}}}}"}}',
        "inputTemplate": LIFECYCLE_INPUT,
    }
    await operator.query(
        "mutation ($in: FormationTemplateRegisterInput!) { createFormationTemplate(in: $in) { id } }",
        {"in": {"name": template, "applicationTypes": ["any"], "webhooks": [webhook]}},
    )
    name = f"with-lifecycle-{uuid.uuid4().hex[:6]}"
    data = await operator.query(
        f'mutation {{ createFormation(formation: {{name: "{name}", templateName: "{template}"}}) {{ state }} }}'
    )
    assert data["createFormation"]["state"] == "INITIAL"
    return name


async def _formation_state(operator: Operator, name: str, state: str) -> dict[str, Any]:
    found: dict[str, Any] = {}

    async def reached() -> bool:
        data = await operator.query(
            f'query {{ formationByName(name: "{name}") {{ id state error {{ message errorCode }} }} }}'
        )
        found.clear()
        found.update(data["formationByName"] or {"state": "gone"})
        return found["state"] == state

    await wait_until(reached, seconds=10, what=f"formation {name} in {state}", detail=lambda: str(found))
    return found


class TestFormationLifecycle:
    async def test_creating_a_formation_notifies_its_templates_webhook_and_makes_it_ready(
        self, operator: Operator, upstream_stand_in: UpstreamStandIn
    ) -> None:
        name = await _lifecycle_formation(operator, upstream_stand_in)
        formation = await _formation_state(operator, name, "READY")
        [request] = upstream_stand_in.requests_to(f"/echo/lifecycle/{formation['id']}")
        assert json.loads(request.body) == {
            "operation": "createFormation",
            "formation": name,
            "id": formation["id"],
        }

    async def test_a_failed_creation_is_create_error_with_the_error(
        self, operator: Operator, upstream_stand_in: UpstreamStandIn
    ) -> None:
        upstream_stand_in.respond(Answer(200, b'{"error": "no capacity"}'))
        name = await _lifecycle_formation(operator, upstream_stand_in)
        formation = await _formation_state(operator, name, "CREATE_ERROR")
        assert formation["error"] == {"message": "no capacity", "errorCode": 2}

    async def test_deleting_a_formation_waits_for_its_templates_webhook(
        self, operator: Operator, upstream_stand_in: UpstreamStandIn
    ) -> None:
        name = await _lifecycle_formation(operator, upstream_stand_in)
        await _formation_state(operator, name, "READY")
        upstream_stand_in.respond(Answer(500, b"{}"))
        data = await operator.query(
            f'mutation {{ deleteFormation(formation: {{name: "{name}"}}) {{ state }} }}'
        )
        assert data["deleteFormation"]["state"] == "DELETING"
        await _formation_state(operator, name, "DELETE_ERROR")
        await operator.query(f'mutation {{ deleteFormation(formation: {{name: "{name}"}}) {{ state }} }}')
        await _formation_state(operator, name, "gone")

    async def test_an_async_callback_lifecycle_waits_for_the_formation_status_api(
        self, operator: Operator, upstream_stand_in: UpstreamStandIn, client: httpx.AsyncClient
    ) -> None:
        upstream_stand_in.respond(Answer(202, b"{}"))
        name = await _lifecycle_formation(operator, upstream_stand_in, mode="ASYNC_CALLBACK")
        await wait_until(
            lambda: any(r.path.startswith("/echo/lifecycle/") for r in upstream_stand_in.requests), seconds=10
        )
        formation = await _formation_state(operator, name, "INITIAL")
        path = f"/v1/businessIntegrations/{formation['id']}/status"
        refused = await client.patch(path, json={"state": "DELETE_ERROR"}, headers=operator.headers)
        assert refused.status_code == 400
        response = await client.patch(path, json={"state": "READY"}, headers=operator.headers)
        assert response.status_code == 200
        await _formation_state(operator, name, "READY")

    async def test_resynchronizing_a_formation_that_failed_to_be_deleted_deletes_it(
        self, operator: Operator, upstream_stand_in: UpstreamStandIn
    ) -> None:
        name = await _lifecycle_formation(operator, upstream_stand_in)
        formation = await _formation_state(operator, name, "READY")
        upstream_stand_in.respond(Answer(500, b"{}"))
        await operator.query(f'mutation {{ deleteFormation(formation: {{name: "{name}"}}) {{ state }} }}')
        await _formation_state(operator, name, "DELETE_ERROR")
        await operator.query(
            f'mutation {{ resynchronizeFormationNotifications(formationID: "{formation["id"]}") {{ id }} }}'
        )
        await _formation_state(operator, name, "gone")
        told = upstream_stand_in.requests_to(f"/echo/lifecycle/{formation['id']}")
        assert [json.loads(r.body)["operation"] for r in told] == [
            "createFormation",
            "deleteFormation",
            "deleteFormation",
        ]

    async def test_resynchronizing_a_formation_that_failed_to_be_created_notifies_its_creation_again(
        self, operator: Operator, upstream_stand_in: UpstreamStandIn
    ) -> None:
        upstream_stand_in.respond(Answer(500, b"{}"))
        name = await _lifecycle_formation(operator, upstream_stand_in)
        formation = await _formation_state(operator, name, "CREATE_ERROR")
        data = await operator.query(
            f'mutation {{ resynchronizeFormationNotifications(formationID: "{formation["id"]}") {{ state }} }}'
        )
        assert data["resynchronizeFormationNotifications"]["state"] == "INITIAL"
        await _formation_state(operator, name, "READY")
        assert len(upstream_stand_in.requests_to(f"/echo/lifecycle/{formation['id']}")) == 2

    async def test_ready_reported_for_a_ready_formation_changes_nothing(
        self,
        operator: Operator,
        upstream_stand_in: UpstreamStandIn,
        client: httpx.AsyncClient,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        name = await _lifecycle_formation(operator, upstream_stand_in)
        formation = await _formation_state(operator, name, "READY")
        settled: list[object] = []

        async def settle(*arguments: object, **options: object) -> None:
            settled.append(arguments)

        monkeypatch.setattr(assignment_service, "settle", settle)
        path = f"/v1/businessIntegrations/{formation['id']}/status"
        response = await client.patch(path, json={"state": "READY"}, headers=operator.headers)
        assert response.status_code == 200
        assert settled == []

    async def test_a_formation_report_cancels_the_lifecycle_notification_still_owed(
        self,
        operator: Operator,
        upstream_stand_in: UpstreamStandIn,
        client: httpx.AsyncClient,
        database: Database,
    ) -> None:
        upstream_stand_in.respond(Answer(202, b"{}"))
        name = await _lifecycle_formation(operator, upstream_stand_in, mode="ASYNC_CALLBACK")
        await wait_until(
            lambda: any(r.path.startswith("/echo/lifecycle/") for r in upstream_stand_in.requests), seconds=10
        )
        formation = await _formation_state(operator, name, "INITIAL")
        async with database.transaction() as session:
            await session.execute(
                update(Formation)
                .where(Formation.id == formation["id"])
                .values(
                    notification="createFormation",
                    claim="dead-notifier",
                    claimed_until=utcnow() + timedelta(minutes=5),
                )
            )
        path = f"/v1/businessIntegrations/{formation['id']}/status"
        assert (
            await client.patch(path, json={"state": "READY"}, headers=operator.headers)
        ).status_code == 200
        async with database.read_sessions() as session:
            row = await session.get(Formation, formation["id"])
        assert row is not None
        assert (row.state, row.notification, row.claim) == ("READY", None, None)

    async def test_finalizing_a_draft_formation_notifies_its_templates_webhook(
        self, operator: Operator, upstream_stand_in: UpstreamStandIn
    ) -> None:
        name = await _lifecycle_formation(operator, upstream_stand_in)
        await _formation_state(operator, name, "READY")
        template = (
            await operator.query(f'query {{ formationByName(name: "{name}") {{ formationTemplateId }} }}')
        )["formationByName"]["formationTemplateId"]
        template_name = (await operator.query(f'query {{ formationTemplate(id: "{template}") {{ name }} }}'))[
            "formationTemplate"
        ]["name"]
        draft = f"draft-{uuid.uuid4().hex[:6]}"
        data = await operator.query(
            f'mutation {{ createFormation(formation: {{name: "{draft}", templateName: "{template_name}", state: "DRAFT"}}) {{ id }} }}'
        )
        formation_id = data["createFormation"]["id"]
        data = await operator.query(
            f'mutation {{ finalizeDraftFormation(formationID: "{formation_id}") {{ state }} }}'
        )
        assert data["finalizeDraftFormation"]["state"] == "INITIAL"
        await _formation_state(operator, draft, "READY")
        [request] = upstream_stand_in.requests_to(f"/echo/lifecycle/{formation_id}")
        assert json.loads(request.body)["operation"] == "createFormation"


async def test_a_configuration_reported_notifies_the_reverse_assignment_again(
    operator: Operator, upstream_stand_in: UpstreamStandIn, client: httpx.AsyncClient
) -> None:
    upstream_stand_in.respond(*[Answer(202, b"{}")] * 3)
    runtime_id = await _runtime(operator, _webhook(upstream_stand_in, mode="ASYNC_CALLBACK", path="runtime"))
    application_id = await _application(operator)
    await operator.query(
        "mutation ($id: ID!, $in: WebhookInput!) { addWebhook(applicationID: $id, in: $in) { id } }",
        {"id": application_id, "in": _webhook(upstream_stand_in, mode="ASYNC_CALLBACK", path="application")},
    )
    formation_id = await _formation(operator)
    await _assign(operator, "RUNTIME", runtime_id)
    await _assign(operator, "APPLICATION", application_id)
    assignments = await _assignments(operator)
    to_runtime, to_application = (
        assignments[(application_id, runtime_id)],
        assignments[(runtime_id, application_id)],
    )
    await wait_until(
        lambda: len(upstream_stand_in.requests_to(f"/echo/application/{to_application['id']}")) == 1,
        seconds=10,
    )
    await wait_until(
        lambda: len(upstream_stand_in.requests_to(f"/echo/runtime/{to_runtime['id']}")) == 1, seconds=10
    )
    body = {"state": "CONFIG_PENDING", "configuration": {"endpoint": "https://rt.example.com"}}
    assert (await _status(client, operator, formation_id, to_runtime["id"], body)).status_code == 200
    await wait_until(
        lambda: len(upstream_stand_in.requests_to(f"/echo/application/{to_application['id']}")) == 2,
        seconds=10,
    )


async def test_the_target_and_a_contexts_runtime_may_report_but_not_the_source(
    operator: Operator, upstream_stand_in: UpstreamStandIn, database: Database, tenants: TenantFactory
) -> None:
    stranger = await tenants.create()
    runtime_id = await _runtime(operator, _webhook(upstream_stand_in))
    data = await operator.query(
        f'mutation {{ registerRuntimeContext(runtimeID: "{runtime_id}", in: {{key: "k", value: "v"}}) {{ id }} }}'
    )
    context_id = data["registerRuntimeContext"]["id"]
    application_id = await _application(operator)
    await _formation(operator)
    await _assign(operator, "RUNTIME_CONTEXT", context_id)
    await _assign(operator, "APPLICATION", application_id)
    row = await _settled(operator, (application_id, context_id), "READY")
    async with database.read_sessions() as session:
        allowed = await assignment_service.reporters(session, operator.tenant_id, row["id"])
        elsewhere = await assignment_service.reporters(session, stranger, row["id"])
    assert allowed == {context_id, runtime_id}
    assert elsewhere is None


async def test_a_server_killed_while_sending_loses_nothing(
    upstream_stand_in: UpstreamStandIn,
    database: Database,
    database_url: str,
    tmp_path: Path,
    tenants: TenantFactory,
) -> None:
    """kill -9 while the notification is on the wire; after the restart (and the dead claim's lease) it is sent."""
    tenant_id = await tenants.create()
    env = {
        "COMPASS_SPEC_FETCH_ALLOWED_NETWORKS": '["127.0.0.0/8"]',
        "COMPASS_NOTIFICATION_LEASE_SECONDS": "8",
        "COMPASS_NOTIFICATION_SWEEP_SECONDS": "0.5",
        "COMPASS_LOG_LEVEL": "warning",
    }
    with ServedCompass(tmp_path / "data", database_url, env=env) as served:
        token = issue_token(served.settings, tenant_id=tenant_id, scopes=sorted(ALL_SCOPES), ttl_seconds=600)
        async with httpx.AsyncClient(base_url=served.http_url) as client:
            operator = Operator(client, tenant_id, token)
            stuck = {
                **_webhook(upstream_stand_in),
                "urlTemplate": f'{{"method":"POST","path":"{upstream_stand_in.http_url}/slow"}}',
            }
            runtime_id = await _runtime(operator, stuck)
            application_id = await _application(operator)
            await _formation(operator)
            await _assign(operator, "RUNTIME", runtime_id)
            await _assign(operator, "APPLICATION", application_id)
            await wait_until(
                lambda: upstream_stand_in.requests_to("/slow"),
                seconds=20,
                what="the notification on the wire",
            )
            served.kill()
            await served.restart()
            await operator.query(
                "mutation ($id: ID!, $in: WebhookInput!) { updateWebhook(webhookID: $id, in: $in) { id } }",
                {"id": await _webhook_of(database, tenant_id, runtime_id), "in": _webhook(upstream_stand_in)},
            )
            # The dead claim's lease is waited out on the stand-in's record, not by querying the server all along.
            await wait_until(
                lambda: any(r.path.startswith("/echo/notify/") for r in upstream_stand_in.requests),
                seconds=30,
                what="the notification sent again",
            )
            row = await _settled(operator, (application_id, runtime_id), "READY")
    assert len(upstream_stand_in.requests_to(f"/echo/notify/{row['id']}")) == 1


async def _webhook_of(database: Database, tenant_id: str, runtime_id: str) -> str:
    async with database.read_sessions() as session:
        [webhook] = (await webhook_service.by_runtimes(session, tenant_id, [runtime_id]))[runtime_id]
    return webhook.id
