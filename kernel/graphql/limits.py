"""The GraphQL extensions both APIs share: document limits, caches, input checks, error codes and metrics."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Literal

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
)
from graphql.validation import ValidationContext, ValidationRule
from strawberry.extensions import AddValidationRules, SchemaExtension

from kernel.graphql.documents import CachedDocuments, DocumentCache
from kernel.graphql.errors import ErrorCodes
from kernel.graphql.input import RefuseUnstorableVariables, UnstorableLiteralRule
from kernel.graphql.metrics import GraphQLOperationMetrics
from kernel.settings import Settings

ExtensionFactory = Callable[[], SchemaExtension] | type[SchemaExtension]


@dataclass
class _Selections:
    """An operation's or a fragment's selections, its fragment spreads not followed."""

    depth: int = 0
    aliases: int = 0
    spreads: list[tuple[str, int | None]] = field(default_factory=list)
    """(fragment, depth of the spread); None below an introspection field, whose depth does not count."""


def _selections(root: SelectionSetNode) -> _Selections:
    found = _Selections()
    pending: list[tuple[SelectionSetNode, int | None]] = [(root, 0)]
    while pending:
        selection_set, depth = pending.pop()
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                found.aliases += selection.alias is not None
                if selection.selection_set is not None:
                    counted = depth is not None and not selection.name.value.startswith("__")
                    below = depth + 1 if counted and depth is not None else None
                    found.depth = max(found.depth, below or 0)
                    pending.append((selection.selection_set, below))
            elif isinstance(selection, InlineFragmentNode):
                pending.append((selection.selection_set, depth))
            elif isinstance(selection, FragmentSpreadNode):
                found.spreads.append((selection.name.value, depth))
    return found


def _with_spreads(selections: _Selections, fragments: dict[str, tuple[int, int]]) -> tuple[int, int]:
    """Depth and aliases, with those of the fragments spread; an undefined or cyclic fragment counts nothing
    (KnownFragmentNamesRule and NoFragmentCyclesRule report those)."""
    depth, aliases = selections.depth, selections.aliases
    for name, at in selections.spreads:
        fragment_depth, fragment_aliases = fragments.get(name, (0, 0))
        aliases += fragment_aliases
        if at is not None:
            depth = max(depth, at + fragment_depth)
    return depth, aliases


def measure(document: DocumentNode) -> dict[OperationDefinitionNode, tuple[int, int]]:
    """Each operation's depth and alias count (aliases in a fragment count once per spread, as in strawberry's
    limiters), with every fragment walked once: strawberry's limiters walk every path through the fragments,
    2^40 walks for 41 fragments that each spread the next twice, and fail on an undefined fragment."""
    own = {
        definition.name.value: _selections(definition.selection_set)
        for definition in document.definitions
        if isinstance(definition, FragmentDefinitionNode)
    }
    fragments: dict[str, tuple[int, int]] = {}
    for start, selections in own.items():
        # Depth first with an explicit stack (a chain of fragments may outgrow Python's recursion limit): a
        # fragment is measured once all the fragments it spreads are, or are on the stack (a cycle).
        stack = [(start, iter(selections.spreads))]
        on_stack = {start}
        while stack:
            name, spreads = stack[-1]
            for spread, _ in spreads:
                if spread in own and spread not in fragments and spread not in on_stack:
                    stack.append((spread, iter(own[spread].spreads)))
                    on_stack.add(spread)
                    break
            else:
                stack.pop()
                on_stack.discard(name)
                fragments[name] = _with_spreads(own[name], fragments)
    return {
        definition: _with_spreads(_selections(definition.selection_set), fragments)
        for definition in document.definitions
        if isinstance(definition, OperationDefinitionNode)
    }


def shape_limits(*, max_depth: int, max_aliases: int) -> type[ValidationRule]:
    """Refuses documents deeper than ``max_depth`` (introspection fields do not count) or with more than
    ``max_aliases`` aliases, in the words of strawberry's QueryDepthLimiter and MaxAliasesLimiter."""

    class ShapeLimits(ValidationRule):
        def __init__(self, context: ValidationContext) -> None:
            super().__init__(context)
            measures = measure(context.document)
            for operation, (depth, _) in measures.items():
                if depth > max_depth:
                    name = operation.name.value if operation.name else "anonymous"
                    context.report_error(
                        GraphQLError(f"'{name}' exceeds maximum operation depth of {max_depth}", operation)
                    )
            aliases = sum(count for _, count in measures.values())
            if aliases > max_aliases:
                context.report_error(GraphQLError(f"{aliases} aliases found. Allowed: {max_aliases}"))

    return ShapeLimits


def shared_extensions(settings: Settings, api: Literal["director", "connector"]) -> list[ExtensionFactory]:
    # Built once per schema: the documents kept are validated with these rules.
    rules = [
        shape_limits(max_depth=settings.max_query_depth, max_aliases=settings.max_query_aliases),
        UnstorableLiteralRule,
    ]
    documents = DocumentCache(
        max_entries=settings.graphql_document_cache_entries,
        max_bytes=settings.graphql_document_cache_bytes,
        max_tokens=settings.max_query_tokens,
    )
    return [
        # First, so that its hooks run around the others': it counts each error under the code ErrorCodes set.
        GraphQLOperationMetrics.for_api(api, max_operation_names=settings.metrics_max_operation_names),
        lambda: AddValidationRules(rules),
        partial(CachedDocuments, documents),
        ErrorCodes,
        RefuseUnstorableVariables,
    ]
