"""System auths (client ids) and the one-time tokens bound to them; redemption is the Connector's."""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from credentials.audit.repository import AuditRepository, audit_event
from credentials.systemauth.repository import OneTimeTokenRepository, SystemAuthRepository
from credentials.tokens import TokenType, hash_token, new_token
from director.application import parts
from director.application.repository import ApplicationRepository
from director.bundle.auth import auth_record
from director.bundle.inputs import AuthInput
from director.integrationsystem.repository import IntegrationSystemRepository
from director.models import Application, OneTimeToken, SystemAuth
from director.polling.invalidation import changes
from director.runtime.repository import RuntimeRepository
from director.systemauth.inputs import TokenPolicy
from director.validation import optional_text
from kernel.errors import ForbiddenError, InvalidInputError, NotFoundError
from kernel.models import new_id
from kernel.principal import ClientKind, Principal, Scope

_OWNER_COLUMN = {ClientKind.RUNTIME: "runtime_id", ClientKind.APPLICATION: "application_id"}
_TOKEN_TYPE = {ClientKind.RUNTIME: TokenType.RUNTIME, ClientKind.APPLICATION: TokenType.APPLICATION}


@dataclass(frozen=True)
class IssuedToken:
    """The only moment the raw token exists on the server: it is handed out and then only its hash remains."""

    token: str
    record: OneTimeToken
    connector_url: str
    legacy_connector_url: str
    scenario_groups: tuple[str, ...] = ()

    @property
    def raw(self) -> str:
        return json.dumps(
            {
                "token": self.token,
                "connectorURL": self.connector_url,
                "used": False,
                "expiresAt": self.record.expires_at.isoformat().replace("+00:00", "Z"),
                "createdAt": self.record.created_at.isoformat().replace("+00:00", "Z"),
                "usedAt": None,
                "type": self.record.type,
                "scenario_groups": list(self.scenario_groups),
            },
            separators=(",", ":"),
        )

    @property
    def raw_encoded(self) -> str:
        return base64.b64encode(self.raw.encode()).decode()


class SystemAuthService:
    async def get(self, session: AsyncSession, tenant_id: str, auth_id: str) -> SystemAuth:
        return await SystemAuthRepository(session).get_or_raise(tenant_id, auth_id)

    async def find(self, session: AsyncSession, tenant_id: str, auth_id: str) -> SystemAuth | None:
        return await SystemAuthRepository(session).get(tenant_id, auth_id)

    async def by_token(self, session: AsyncSession, tenant_id: str, token: str, *, now: datetime) -> SystemAuth | None:
        """Compass's systemAuthByToken: the system auth a valid (unused, unexpired) one-time token was issued for.
        Only the token's hash is stored, and that is what is matched."""
        return await OneTimeTokenRepository(session).system_auth_of_valid(tenant_id, hash_token(token), now)

    # Batch reads for the DataLoaders: the system auths of many owners in one statement.

    async def by_applications(
        self, session: AsyncSession, tenant_id: str, application_ids: Sequence[str]
    ) -> dict[str, list[SystemAuth]]:
        return await SystemAuthRepository(session).grouped_by(tenant_id, "application_id", application_ids)

    async def by_runtimes(
        self, session: AsyncSession, tenant_id: str, runtime_ids: Sequence[str]
    ) -> dict[str, list[SystemAuth]]:
        return await SystemAuthRepository(session).grouped_by(tenant_id, "runtime_id", runtime_ids)

    async def _system_auth(
        self, session: AsyncSession, tenant_id: str, kind: ClientKind, object_id: str, auth_id: str | None
    ) -> SystemAuth:
        owner_column = _OWNER_COLUMN[kind]
        if auth_id is None:
            auth = SystemAuth(tenant_id=tenant_id, **{owner_column: object_id})
            return await SystemAuthRepository(session).add(auth)
        auth = await self.get(session, tenant_id, auth_id)
        if getattr(auth, owner_column) != object_id:
            raise InvalidInputError(f"system auth {auth_id} does not belong to {kind.lower()} {object_id}")
        return auth

    async def request_runtime_token(
        self,
        session: AsyncSession,
        tenant_id: str,
        runtime_id: str,
        auth_id: str | None,
        *,
        policy: TokenPolicy,
        now: datetime,
        scenario_groups: Sequence[str] = (),
    ) -> IssuedToken:
        """A one-time token living ``policy.runtime_ttl``; its new system auth shows only in the runtime's view.
        Compass records the requester's scenario groups on every token (a runtime's show only in ``raw``)."""
        await changes(session).runtime(runtime_id)
        runtime = await RuntimeRepository(session).get_or_raise(tenant_id, runtime_id)
        return await self._issue(
            session, runtime.tenant_id, ClientKind.RUNTIME, runtime_id, auth_id,
            ttl=policy.runtime_ttl, connector_url=policy.connector_url, legacy_connector_url=policy.legacy_connector_url,
            now=now, scenario_groups=tuple(scenario_groups),
        )

    async def request_application_token(
        self,
        session: AsyncSession,
        tenant_id: str,
        application_id: str,
        auth_id: str | None,
        *,
        policy: TokenPolicy,
        now: datetime,
        scenario_groups: Sequence[str] = (),
    ) -> IssuedToken:
        """A one-time token living ``policy.application_ttl``; its new system auth shows in the view of every
        runtime that sees the application. ``scenario_groups`` (the requester's, as Compass takes them from the
        ``scenario_groups`` header) are recorded for the ContainsScenarioGroups constraint."""
        application = await parts.changing(ApplicationRepository(session), tenant_id, application_id)
        return await self._application_token(
            session, application, auth_id, policy=policy, now=now, scenario_groups=tuple(scenario_groups)
        )

    async def request_application_token_for_runtime(
        self,
        session: AsyncSession,
        tenant_id: str,
        application_id: str,
        runtime_id: str,
        *,
        policy: TokenPolicy,
        now: datetime,
    ) -> IssuedToken:
        """pycompass's own (a runtime's TokenRequest; Compass has none): a token for an application sharing a
        formation with the runtime, for a new system auth and without scenario groups, which only an operator
        chooses (they reach existing clients and the ContainsScenarioGroups constraint)."""
        application = await parts.changing_in_formation_of(
            runtime_id, ApplicationRepository(session), tenant_id, application_id, lambda row: row.id
        )
        return await self._application_token(session, application, None, policy=policy, now=now, scenario_groups=())

    async def _application_token(
        self,
        session: AsyncSession,
        application: Application,
        auth_id: str | None,
        *,
        policy: TokenPolicy,
        now: datetime,
        scenario_groups: tuple[str, ...],
    ) -> IssuedToken:
        return await self._issue(
            session, application.tenant_id, ClientKind.APPLICATION, application.id, auth_id,
            ttl=policy.application_ttl, connector_url=policy.connector_url, legacy_connector_url=policy.legacy_connector_url,
            now=now, scenario_groups=scenario_groups,
        )

    async def _issue(
        self,
        session: AsyncSession,
        tenant_id: str,
        kind: ClientKind,
        object_id: str,
        auth_id: str | None,
        *,
        ttl: timedelta,
        connector_url: str,
        legacy_connector_url: str,
        now: datetime,
        scenario_groups: tuple[str, ...] = (),
    ) -> IssuedToken:
        """``tenant_id`` is the object's home tenant whoever asks (a tenant granted it as an owner may): its
        certificates authenticate there, where its view's revisions are and where unregistering revokes them."""
        auth = await self._system_auth(session, tenant_id, kind, object_id, auth_id)
        # Compass keeps a system auth's latest token (and its scenario groups) in the system auth itself.
        auth.token_created_at = now
        auth.token_scenario_groups = list(scenario_groups)
        token_type = _TOKEN_TYPE[kind]
        token = new_token()
        record = await OneTimeTokenRepository(session).add(
            OneTimeToken(
                tenant_id=tenant_id,
                system_auth_id=auth.id,
                token_hash=hash_token(token),
                type=token_type.value,
                created_at=now,
                expires_at=now + ttl,
            )
        )
        AuditRepository(session).record(
            audit_event(
                "token_issued",
                tenant_id=tenant_id,
                client_id=auth.id,
                detail={"type": token_type.value, "expires_at": record.expires_at.isoformat()},
            )
        )
        # Compass's legacy URL carries the token as a query parameter; clients hand it out as it is.
        return IssuedToken(token, record, connector_url, f"{legacy_connector_url}?token={token}", scenario_groups)

    async def invalidate_tokens(
        self, session: AsyncSession, tenant_id: str, auth_id: str, *, caller: Principal, now: datetime
    ) -> SystemAuth:
        """Spends every unused token of the system auth (a runtime's counts as the tenant's change). As Compass's
        deleteSystemAuthFor{Runtime,Application}, the caller needs its owner's write scope, not any."""
        auth = await parts.changing(SystemAuthRepository(session), tenant_id, auth_id)
        scope = Scope.RUNTIME_WRITE if auth.runtime_id else Scope.APPLICATION_WRITE
        if not caller.has_scope(scope):
            raise ForbiddenError(f"missing scope {str(scope)!r}")
        await OneTimeTokenRepository(session).invalidate_unused(tenant_id, auth.id, now)
        return auth

    # OAuth 2.0 client credentials (Compass's requestClientCredentialsFor*): a system auth whose id is the client id.

    async def request_runtime_credentials(
        self, session: AsyncSession, tenant_id: str, runtime_id: str, *, token_url: str
    ) -> IssuedCredentials:
        """Its new system auth shows only in the runtime's view."""
        await changes(session).runtime(runtime_id)
        runtime = await RuntimeRepository(session).get_or_raise(tenant_id, runtime_id)
        return await _credentials(session, SystemAuth(tenant_id=runtime.tenant_id, runtime_id=runtime_id), token_url)

    async def request_application_credentials(
        self, session: AsyncSession, tenant_id: str, application_id: str, *, token_url: str
    ) -> IssuedCredentials:
        """Its new system auth shows in the view of every runtime that sees the application."""
        application = await parts.changing(ApplicationRepository(session), tenant_id, application_id)
        return await _credentials(
            session, SystemAuth(tenant_id=application.tenant_id, application_id=application_id), token_url
        )

    async def request_integration_system_credentials(
        self, session: AsyncSession, _tenant_id: str, integration_system_id: str, *, token_url: str
    ) -> IssuedCredentials:
        """Global, as the integration system: the system auth belongs to no tenant."""
        changes(session).outside_views()
        if await IntegrationSystemRepository(session).get(integration_system_id) is None:
            raise NotFoundError(f"integration system {integration_system_id} does not exist")
        return await _credentials(session, SystemAuth(integration_system_id=integration_system_id), token_url)

    async def delete_for(self, session: AsyncSession, tenant_id: str, auth_id: str, *, kind: ClientKind) -> SystemAuth:
        """deleteSystemAuthFor{Runtime,Application}: the system auth of that kind goes, and with it its client
        credentials (no new token; issued ones are refused) and what its certificates authenticate as (their
        records stay, detached, and no longer authenticate)."""
        auth = await parts.changing(SystemAuthRepository(session), tenant_id, auth_id)
        if getattr(auth, _OWNER_COLUMN[kind]) is None:
            raise NotFoundError(f"system auth {auth_id} of a {kind.lower()} does not exist")
        await SystemAuthRepository(session).delete(auth)
        return auth

    async def delete_for_integration_system(self, session: AsyncSession, _tenant_id: str, auth_id: str) -> SystemAuth:
        changes(session).outside_views()
        repository = SystemAuthRepository(session)
        auth = await repository.global_one(auth_id)
        if auth is None:
            raise NotFoundError(f"system auth {auth_id} of an integration system does not exist")
        await repository.delete(auth)
        return auth

    async def update_auth(
        self, session: AsyncSession, tenant_id: str, auth_id: str, data: AuthInput, *, caller: Principal
    ) -> SystemAuth:
        """Compass's updateSystemAuth: the stored Auth is replaced by ``data``, certCommonName included (a token in
        it is not kept: only tokens' hashes are). The client secret the token endpoint checks is not part of it
        and stays. The caller's tenant's system auths, or any integration system's (those are global); the caller
        needs its owner's write scope (Compass's is internal, ory_internal)."""
        record = auth_record(data, "in") or {}
        if data.cert_common_name is not None:
            record["certCommonName"] = optional_text(data.cert_common_name, "in.certCommonName", max_length=256)
        repository = SystemAuthRepository(session)
        found = await repository.global_one(auth_id)
        if found is None:
            found = await parts.changing(repository, tenant_id, auth_id)
        else:
            changes(session).outside_views()
        scope = (
            Scope.RUNTIME_WRITE if found.runtime_id
            else Scope.APPLICATION_WRITE if found.application_id
            else Scope.INTEGRATION_SYSTEM_WRITE
        )
        if not caller.has_scope(scope):
            raise ForbiddenError(f"missing scope {str(scope)!r}")
        found.value = record
        await session.flush()
        return found


@dataclass(frozen=True)
class IssuedCredentials:
    """The only moment the client secret exists on the server: it is handed out and then only its hash remains."""

    record: SystemAuth
    client_secret: str


async def _credentials(session: AsyncSession, auth: SystemAuth, token_url: str) -> IssuedCredentials:
    secret = new_token()
    auth.id = new_id()
    auth.client_secret_hash = hash_token(secret)
    auth.value = {"credential": {"oauth": {"clientId": auth.id, "clientSecret": "", "url": token_url}}}
    await SystemAuthRepository(session).add(auth)
    AuditRepository(session).record(
        audit_event("client_credentials_issued", tenant_id=auth.tenant_id, client_id=auth.id, detail=None)
    )
    return IssuedCredentials(auth, secret)


system_auth = SystemAuthService()
