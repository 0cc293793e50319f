"""The GraphQL extensions both APIs share: document limits, caches, error codes and metrics."""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

from strawberry.extensions import (
    AddValidationRules,
    MaxAliasesLimiter,
    MaxTokensLimiter,
    ParserCache,
    QueryDepthLimiter,
    SchemaExtension,
    ValidationCache,
)

from compass.observability.metrics import GraphQLOperationMetrics
from compass.settings import Settings
from director.graphql.errors import ErrorCodes

ExtensionFactory = Callable[[], SchemaExtension] | type[SchemaExtension]


def shared_extensions(settings: Settings, api: Literal["director", "connector"]) -> list[ExtensionFactory]:
    # The limiters build a new rule class on every construction; ValidationCache keys on the rules, so they
    # are built once here or a repeated document would be validated again on every request.
    rules = [
        *QueryDepthLimiter(max_depth=settings.max_query_depth).validation_rules,
        *MaxAliasesLimiter(max_alias_count=settings.max_query_aliases).validation_rules,
    ]
    return [
        lambda: MaxTokensLimiter(max_token_count=settings.max_query_tokens),
        lambda: AddValidationRules(rules),
        lambda: ParserCache(maxsize=256),
        lambda: ValidationCache(maxsize=256),
        ErrorCodes,
        GraphQLOperationMetrics.for_api(api),
    ]
