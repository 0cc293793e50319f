"""Compass's formation mapping status API: a participant whose webhook is ASYNC_CALLBACK (or any participant,
later) reports how its part of a formation went; and a formation template's ASYNC_CALLBACK lifecycle webhook
reports on the formation (``PATCH /v1/businessIntegrations/{ucl-formation-id}/status``, ``{"state", "error"}``;
only an operator of the tenant with ``formation:write`` may: pycompass has no consumer that owns a formation
template, which is whom Compass lets call it).

``PATCH /v1/businessIntegrations/{ucl-formation-id}/assignments/{ucl-assignment-id}/status`` with a JSON body
``{"state", "configuration", "error"}``: 200 with no body, or Compass's ``{"error": "..."}`` with 400 (bad body,
a state the assignment's operation does not allow, a formation not READY), 401 (a caller who is not the
assignment's participant), 404 (no such assignment or formation in the caller's tenant), 415 (not JSON). The
caller is authorized before the body is looked at, so a stranger learns nothing from a 400.

Who may call it, as Compass's authenticator decides: the assignment's target by its client certificate (a runtime
also for its runtime contexts), the integration system managing a target application by its client-credentials
token, and an operator of the tenant whose JWT holds ``formation:write`` (Compass's user with an external token,
who may leave the state out).
"""

from __future__ import annotations

import json
import re
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from compass.adapter.transactions import write
from director.formation.lifecycle import formation_lifecycle
from director.formationassignment.notifications import ERROR_STATES, READY, REPORTABLE
from director.formationassignment.service import StatusReport
from director.formationassignment.service import formation_assignment as assignment_service
from kernel.db import Database
from kernel.errors import CompassError
from kernel.principal import ClientPrincipal, IntegrationSystemPrincipal, OperatorPrincipal, Scope
from kernel.settings import Settings

ASSIGNMENT_STATUS_PATH = "/v1/businessIntegrations/{formation_id}/assignments/{assignment_id}/status"
FORMATION_STATUS_PATH = "/v1/businessIntegrations/{formation_id}/status"
PATHS = re.compile(r"/v1/businessIntegrations/[^/]+(?:/assignments/[^/]+)?/status")
# What a body may say (Compass's FormationAssignmentRequestBody.Validate).
STATES = frozenset().union(*REPORTABLE.values())
CONFIGURED_STATES = STATES - ERROR_STATES


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


class Refused(Exception):
    def __init__(self, response: JSONResponse) -> None:
        super().__init__()
        self.response = response


def _configuration(value: Any) -> str | None:
    """Compass keeps a configuration as raw JSON; an empty one (null, {}, "", []) is none."""
    if value in (None, {}, [], ""):
        return None
    return value if isinstance(value, str) else json.dumps(value)


def _report(body: bytes, *, by_operator: bool) -> StatusReport:
    try:
        parsed = json.loads(body) if body else None
    except ValueError:
        raise Refused(_error(400, "Request body contains badly-formed JSON")) from None
    if parsed is None:
        raise Refused(_error(400, "Request body must not be empty"))
    if not isinstance(parsed, dict) or set(parsed) - {"state", "configuration", "error"}:
        raise Refused(_error(400, "Request body contains unknown fields or is not a JSON object"))
    state, error = parsed.get("state") or None, parsed.get("error") or None
    configuration = _configuration(parsed.get("configuration"))
    problems = [
        (state is None and not by_operator, "state: cannot be blank."),
        (not isinstance(state, str | None) or not isinstance(error, str | None), "state and error must be strings."),
        (state is not None and state not in STATES, "state: must be a valid value."),
        (error is not None and state is not None and state not in ERROR_STATES, "state: must be a valid value."),
        (configuration is not None and state is not None and state not in CONFIGURED_STATES, "state: must be a valid value."),
        (error is not None and configuration is not None, "configuration: must be blank; error: must be blank."),
    ]
    if (problem := next((message for failed, message in problems if failed), None)) is not None:
        raise Refused(_error(400, f"Request Body contains invalid input: {problem!r}"))
    return StatusReport(state, configuration, error)


def _formation_report(body: bytes) -> tuple[str, str | None]:
    """Compass's FormationRequestBody: READY, CREATE_ERROR or DELETE_ERROR; with an error, an error state."""
    try:
        parsed = json.loads(body) if body else None
    except ValueError:
        raise Refused(_error(400, "Request body contains badly-formed JSON")) from None
    if not isinstance(parsed, dict) or set(parsed) - {"state", "error"}:
        raise Refused(_error(400, "Request body contains unknown fields or is not a JSON object"))
    state, error = parsed.get("state"), parsed.get("error") or None
    allowed = ERROR_STATES if error is not None else {READY, *ERROR_STATES}
    if not isinstance(state, str) or state not in allowed or not isinstance(error, str | None):
        raise Refused(_error(400, "Request Body contains invalid input: 'state: must be a valid value.'"))
    return state, error


class FormationMappingEndpoints:
    def __init__(self, database: Database, settings: Settings) -> None:
        self.database = database
        self.settings = settings

    def routes(self) -> list[Route]:
        return [
            Route(ASSIGNMENT_STATUS_PATH, self.assignment_status, methods=["PATCH"]),
            Route(FORMATION_STATUS_PATH, self.formation_status, methods=["PATCH"]),
        ]

    async def assignment_status(self, request: Request) -> Response:
        try:
            return await self._assignment_status(request)
        except Refused as refused:
            return refused.response

    async def formation_status(self, request: Request) -> Response:
        try:
            return await self._formation_status(request)
        except Refused as refused:
            return refused.response

    async def _formation_status(self, request: Request) -> Response:
        principal = request.scope["state"].get("principal")
        if not isinstance(principal, OperatorPrincipal) or not principal.has_scope(Scope.FORMATION_WRITE):
            return _error(401, "Unauthorized")
        if not request.headers.get("content-type", "").startswith("application/json"):
            return _error(415, "Content-Type header is not application/json")
        state, error = _formation_report(await request.body())
        formation_id = request.path_params["formation_id"]

        async def reporting(session: AsyncSession) -> None:
            await formation_lifecycle.report_status(session, principal.tenant_id, formation_id, state, error)

        try:
            await write(self.database, self.settings, principal.tenant_id, reporting, what="formation status")
        except CompassError as failure:
            return _error(failure.http_status, str(failure))
        return Response(status_code=200)

    async def _assignment_status(self, request: Request) -> Response:
        # The caller is authorized first, as Compass's authenticator runs before the handler reads the body.
        principal = request.scope["state"].get("principal")
        formation_id, assignment_id = request.path_params["formation_id"], request.path_params["assignment_id"]
        tenant_id = await self._authorized(principal, assignment_id)
        if not request.headers.get("content-type", "").startswith("application/json"):
            return _error(415, "Content-Type header is not application/json")
        by_operator = isinstance(principal, OperatorPrincipal) and not isinstance(principal, IntegrationSystemPrincipal)
        report = _report(await request.body(), by_operator=by_operator)

        async def reporting(session: AsyncSession) -> None:
            await assignment_service.report_status(session, tenant_id, formation_id, assignment_id, report)

        try:
            await write(self.database, self.settings, tenant_id, reporting, what="formation assignment status")
        except CompassError as error:
            return _error(error.http_status, str(error))
        return Response(status_code=200)

    async def _authorized(self, principal: object, assignment_id: str) -> str:
        """The caller's tenant if it may report on the assignment; another tenant's assignment is not found."""
        if not isinstance(principal, OperatorPrincipal | ClientPrincipal):
            raise Refused(_error(401, "Unauthorized"))
        async with self.database.read_sessions() as session:
            allowed = await assignment_service.reporters(session, principal.tenant_id, assignment_id)
        if allowed is None:
            raise Refused(_error(404, f"Formation assignment with ID {assignment_id!r} was not found"))
        if isinstance(principal, ClientPrincipal):
            caller = principal.identity.object_id
        elif isinstance(principal, IntegrationSystemPrincipal):
            caller = principal.subject
        else:
            caller = None
            if principal.has_scope(Scope.FORMATION_WRITE):
                return principal.tenant_id
        if caller not in allowed:
            raise Refused(_error(401, "Unauthorized"))
        return principal.tenant_id
