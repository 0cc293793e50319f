"""Bundle instance auths: a consumer asks for credentials of a bundle; the default ones answer at once,
otherwise the application sets them (Compass's flow)."""

from __future__ import annotations

import json
from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from director.application import parts
from director.bundle.auth import auth_record
from director.bundle.repository import BundleRepository
from director.instanceauth.inputs import (
    BundleInstanceAuthCreateInput,
    BundleInstanceAuthRequestInput,
    BundleInstanceAuthSetInput,
    BundleInstanceAuthSetStatusCondition,
    BundleInstanceAuthUpdateInput,
)
from director.instanceauth.inputs import BundleInstanceAuthStatusCondition as Condition
from director.instanceauth.repository import BundleInstanceAuthRepository
from director.json_schema import violation
from director.models import Bundle, BundleInstanceAuth
from director.runtime.repository import RuntimeRepository
from kernel.errors import ConflictError, InvalidInputError, NotFoundError
from kernel.models import utcnow


def _set_status(auth: BundleInstanceAuth, condition: Condition, reason: str, message: str) -> None:
    auth.status_condition, auth.status_reason, auth.status_message = condition.value, reason, message
    auth.status_timestamp = utcnow()


async def _check_input_params(bundle: Bundle, input_params: str | None) -> None:
    if bundle.instance_auth_request_input_schema is None:
        return
    schema = json.loads(bundle.instance_auth_request_input_schema)
    params = json.loads(input_params) if input_params is not None else None
    if params is None:
        raise InvalidInputError("inputParams are required: the bundle defines instanceAuthRequestInputSchema")
    problem = await violation(schema, params, "the bundle's instanceAuthRequestInputSchema")
    if problem is not None:
        raise InvalidInputError(f"inputParams do not match the bundle's instanceAuthRequestInputSchema: {problem}")


class BundleInstanceAuthService:
    async def find(self, session: AsyncSession, tenant_id: str, auth_id: str) -> BundleInstanceAuth | None:
        return await BundleInstanceAuthRepository(session).get(tenant_id, auth_id)

    async def by_bundles(
        self, session: AsyncSession, tenant_id: str, bundle_ids: Sequence[str]
    ) -> dict[str, list[BundleInstanceAuth]]:
        """Batch read for the DataLoaders."""
        return await BundleInstanceAuthRepository(session).grouped_by(tenant_id, "bundle_id", bundle_ids)

    async def request_creation(
        self,
        session: AsyncSession,
        tenant_id: str,
        bundle_id: str,
        data: BundleInstanceAuthRequestInput,
        *,
        runtime_id: str | None = None,
    ) -> BundleInstanceAuth:
        """``runtime_id``: the runtime whose certificate asks (Compass's runtime consumer), which gets the auth. It
        may ask only for bundles of applications in its formations, and not choose the id: a CONFLICT would tell it
        that another runtime's auth has that id."""
        repository = BundleInstanceAuthRepository(session)
        if runtime_id is None:
            bundle = await parts.changing(BundleRepository(session), tenant_id, bundle_id)
        elif data.id is not None:
            raise InvalidInputError("id: the Director chooses the id of a runtime's bundle instance auth")
        else:
            bundle = await parts.changing_in_formation_of(
                runtime_id, BundleRepository(session), tenant_id, bundle_id, lambda row: row.application_id
            )
        await _check_input_params(bundle, data.input_params)
        if data.id is not None and await repository.get(tenant_id, data.id) is not None:
            raise ConflictError(f"bundle instance auth {data.id} already exists")
        if runtime_id is not None:
            await RuntimeRepository(session).get_or_raise(tenant_id, runtime_id)
        auth = BundleInstanceAuth(
            tenant_id=tenant_id,
            bundle_id=bundle.id,
            runtime_id=runtime_id,
            context=data.context,
            input_params=data.input_params,
            auth=bundle.default_instance_auth,
        )
        if data.id is not None:
            auth.id = data.id
        if bundle.default_instance_auth is not None:
            _set_status(auth, Condition.SUCCEEDED, "CredentialsProvided", "Credentials were provided.")
        else:
            _set_status(auth, Condition.PENDING, "CredentialsNotProvided", "Credentials were not yet provided.")
        return await repository.add(auth)

    async def create(
        self, session: AsyncSession, tenant_id: str, bundle_id: str, data: BundleInstanceAuthCreateInput
    ) -> BundleInstanceAuth:
        """Compass's createBundleInstanceAuth: the caller brings the credentials, so they are SUCCEEDED at once."""
        runtime_id = data.runtime_id
        if (runtime_id is None) == (data.runtime_context_id is None):
            raise InvalidInputError("give exactly one of runtimeID or runtimeContextID")
        if runtime_id is None:
            raise InvalidInputError("runtimeContextID: bundle instance auths are held by runtimes here; give runtimeID")
        bundle = await parts.changing(BundleRepository(session), tenant_id, bundle_id)
        await _check_input_params(bundle, data.input_params)
        await RuntimeRepository(session).get_or_raise(tenant_id, runtime_id)
        auth = BundleInstanceAuth(
            tenant_id=tenant_id,
            bundle_id=bundle.id,
            runtime_id=runtime_id,
            context=data.context,
            input_params=data.input_params,
            auth=auth_record(data.auth, "auth"),
        )
        _set_status(auth, Condition.SUCCEEDED, "CredentialsProvided", "Credentials were provided.")
        return await BundleInstanceAuthRepository(session).add(auth)

    async def update(
        self,
        session: AsyncSession,
        tenant_id: str,
        auth_id: str,
        bundle_id: str,
        data: BundleInstanceAuthUpdateInput,
    ) -> BundleInstanceAuth:
        """Compass's updateBundleInstanceAuth; unlike Compass, an auth of another bundle is NOT_FOUND."""
        auth = await parts.changing(BundleInstanceAuthRepository(session), tenant_id, auth_id)
        bundle = await BundleRepository(session).get_or_raise(tenant_id, bundle_id)
        if auth.bundle_id != bundle.id:
            raise NotFoundError(f"bundle instance auth {auth_id} does not exist in bundle {bundle_id}")
        if data.input_params is not None:
            await _check_input_params(bundle, data.input_params)
            auth.input_params = data.input_params
        if data.context is not None:
            auth.context = data.context
        if data.auth is not None:
            auth.auth = auth_record(data.auth, "auth")
        await session.flush()
        return auth

    async def delete(self, session: AsyncSession, tenant_id: str, auth_id: str) -> BundleInstanceAuth:
        """Compass's deleteBundleInstanceAuth: gone at once, whatever its status."""
        return await parts.delete(BundleInstanceAuthRepository(session), tenant_id, auth_id)

    async def consumers_of(self, session: AsyncSession, tenant_id: str, auth_id: str) -> tuple[str | None, str | None]:
        """The application whose bundle the auth is of, and the runtime it was requested for (None, None: missing)."""
        auth = await BundleInstanceAuthRepository(session).get(tenant_id, auth_id)
        if auth is None:
            return None, None
        bundle = await BundleRepository(session).get(tenant_id, auth.bundle_id)
        return (bundle.application_id if bundle else None), auth.runtime_id

    async def bundle_of(self, session: AsyncSession, tenant_id: str, auth_id: str) -> Bundle | None:
        auth = await BundleInstanceAuthRepository(session).get(tenant_id, auth_id)
        return None if auth is None else await BundleRepository(session).get(tenant_id, auth.bundle_id)

    async def set(
        self, session: AsyncSession, tenant_id: str, auth_id: str, data: BundleInstanceAuthSetInput
    ) -> BundleInstanceAuth:
        auth = await parts.changing(BundleInstanceAuthRepository(session), tenant_id, auth_id)
        if data.auth is None and data.status is None:
            raise InvalidInputError("give auth, status, or both")
        failed = data.status is not None and data.status.condition is BundleInstanceAuthSetStatusCondition.FAILED
        if data.auth is not None:
            if data.status is not None and data.status.condition is not BundleInstanceAuthSetStatusCondition.SUCCEEDED:
                raise InvalidInputError("with auth given, the status condition must be SUCCEEDED")
            auth.auth = auth_record(data.auth, "auth")
        elif failed:
            auth.auth = None
        status = data.status
        if status is None:
            _set_status(auth, Condition.SUCCEEDED, "CredentialsProvided", "Credentials were provided.")
        else:
            if failed and not (status.message.strip() and status.reason.strip()):
                raise InvalidInputError("a FAILED status needs a message and a reason")
            _set_status(auth, Condition(status.condition.value), status.reason, status.message)
        await session.flush()
        return auth

    async def request_deletion(self, session: AsyncSession, tenant_id: str, auth_id: str) -> BundleInstanceAuth:
        """Default credentials are only forgotten; credentials the application issued must be revoked by it first."""
        auth = await parts.changing(BundleInstanceAuthRepository(session), tenant_id, auth_id)
        bundle = await BundleRepository(session).get_or_raise(tenant_id, auth.bundle_id)
        unset = {Condition.PENDING.value, Condition.FAILED.value}
        if bundle.default_instance_auth is not None or auth.status_condition in unset:
            await BundleInstanceAuthRepository(session).delete(auth)
        else:
            _set_status(auth, Condition.UNUSED, "PendingDeletion", "Credentials deletion was requested.")
            await session.flush()
        return auth


bundle_instance_auth = BundleInstanceAuthService()
