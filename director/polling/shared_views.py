"""Views shared between runtimes: ``applicationsForRuntime`` built once for every runtime that sees the same.

Two runtimes of one tenant in the same formations, asking the same selection, get the same applications: the field
depends on the runtime only through its formations (its ``scenarios`` label) and whether it asks for normalized
names. So its completed result is kept under a key of exactly those, with the tenant's revision and the revisions
of those formations (bumped by every write that changes an application in them, see ``revision``). A fleet whose
answer cache is cold (a restart, a change to a formation) then executes each distinct view once, not once per
runtime. Kept in memory only, as the answer cache: the results hold credentials.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Callable, Hashable
from functools import partial
from typing import Any
from weakref import WeakKeyDictionary

from graphql import FieldNode, GraphQLError, GraphQLObjectType, print_ast
from graphql.execution.values import get_argument_values

from director.models import SCENARIOS
from director.normalization import IS_NORMALIZED_LABEL
from director.polling.revision import RevisionRepository
from kernel.cache import MemoryCache
from kernel.graphql.execution import PlainFieldsExecutionContext
from kernel.principal import ClientKind, ClientPrincipal

SHARED_FIELD = "applicationsForRuntime"
#: Fields whose answer depends on the asking runtime itself (not only on its formations): never shared.
_PER_RUNTIME_FIELDS = re.compile(r"\binstanceAuths?\b")
#: Completed results of ``SHARED_FIELD`` by key (see ``SharingExecutionContext._key``).
SharedViews = MemoryCache[Hashable, Any]
#: A field's selection and the document's fragments as written, for the runtime that asked: see ``_written``.
_Written = tuple[tuple[str, ...], tuple[str, ...]]
_WRITTEN: WeakKeyDictionary[FieldNode, tuple[str, _Written | None]] = WeakKeyDictionary()
#: Views being built now, by (the cache they go to, key): each resolves to the view, or None if its build failed.
_building: dict[tuple[int, Hashable], asyncio.Future[Any]] = {}


class SharingExecutionContext(PlainFieldsExecutionContext):
    """Answers a runtime's ``applicationsForRuntime`` from ``SharedViews`` when another runtime built the same."""

    def execute_other_field(
        self,
        parent_type: GraphQLObjectType,
        source: Any,
        field_details_list: Any,
        path: Any,
        position_context: Any,
    ) -> Any:
        # Called for every field but the plain ones: the field's name decides first, in one comparison.
        if field_details_list[0].node.name.value == SHARED_FIELD and parent_type is self.schema.query_type:
            views: SharedViews | None = self.context_value.shared_views
            principal = self.context_value.principal
            if (
                views is not None
                and isinstance(principal, ClientPrincipal)
                and principal.identity.kind is ClientKind.RUNTIME
            ):
                execute = partial(
                    super().execute_other_field, parent_type, source, field_details_list, path, position_context
                )
                return self._shared(views, principal, parent_type, field_details_list, execute)
        return super().execute_other_field(parent_type, source, field_details_list, path, position_context)

    async def _shared(
        self,
        views: SharedViews,
        principal: ClientPrincipal,
        parent_type: GraphQLObjectType,
        field_details_list: Any,
        execute: Callable[[], Any],
    ) -> Any:
        key = await self._key(principal, parent_type, field_details_list)
        if key is None:
            return await self._executed(execute)
        if (shared := views.get(key)) is not None:
            return shared
        flight = (id(views), key)
        if (building := _building.get(flight)) is not None:
            # A change makes every runtime of a formation poll at once (push): one builds, the others wait for
            # its view instead of each building the same. A build that failed leaves each to build its own.
            built = await asyncio.shield(building)
            if built is not None:
                return built
            return await self._executed(execute)
        building = _building[flight] = asyncio.get_running_loop().create_future()
        built = None
        try:
            errors_before = len(self.collected_errors.errors)
            result = await self._executed(execute)
            if result is not None and len(self.collected_errors.errors) == errors_before:
                views.put(key, result)
                built = result
            return result
        finally:
            building.set_result(built)
            if _building.get(flight) is building:
                del _building[flight]

    async def _executed(self, execute: Callable[[], Any]) -> Any:
        result = execute()
        return await result if self.is_awaitable(result) else result

    async def _key(self, principal: ClientPrincipal, parent_type: GraphQLObjectType, field_details_list: Any) -> Hashable | None:
        """None when the request is not one to share (another runtime's id, bad arguments): it runs as usual."""
        runtime_id = principal.identity.object_id
        details = field_details_list[0]
        field_def = parent_type.fields[SHARED_FIELD]
        try:
            arguments = get_argument_values(
                field_def, details.node, self.variable_values, details.fragment_variable_values, self.hide_suggestions
            )
        except GraphQLError:
            return None
        if arguments.get("runtimeID") != runtime_id:
            return None
        context = self.context_value
        labels = await context.loaders.labels_by_runtime.load(runtime_id)
        scenarios = next((label.value for label in labels if label.key == SCENARIOS), None)
        names = sorted(set(scenarios)) if isinstance(scenarios, list) else []
        normalized = any(label.key == IS_NORMALIZED_LABEL and label.value == "true" for label in labels)
        async with context.reading() as session:
            tenant_revision, formations = await RevisionRepository(session).formation_revisions(
                principal.tenant_id, names
            )
        written = self._written(runtime_id, field_details_list)
        if written is None:
            return None  # each runtime sees only its own instance auths: a view holding them is its alone
        variables = tuple(
            sorted((name, "<runtime>" if value == runtime_id else repr(value)) for name, value in self.variable_values.coerced.items())
        )
        return (principal.tenant_id, tenant_revision, formations, normalized, *written, variables)

    def _written(self, runtime_id: str, field_details_list: Any) -> _Written | None:
        """The selection as written (with every fragment it may spread), the runtime's own id standing for "the
        asking runtime" wherever it appears; None when it asks for what is the runtime's alone. Printed once per
        parsed document (the parser's cache hands the same nodes to every poll of a runtime's document)."""
        node = field_details_list[0].node
        kept = _WRITTEN.get(node)
        if kept is None or kept[0] != runtime_id:
            asking = json.dumps(runtime_id)
            selection = tuple(print_ast(detail.node).replace(asking, "<runtime>") for detail in field_details_list)
            fragments = tuple(sorted(print_ast(fragment) for fragment in self.fragment_definitions.values()))
            shareable = not any(_PER_RUNTIME_FIELDS.search(text) for text in (*selection, *fragments))
            kept = _WRITTEN[node] = (runtime_id, (selection, fragments) if shareable else None)
        return kept[1]

