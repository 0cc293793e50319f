"""Input both APIs refuse wherever it appears: values that a database or a JSON reader downstream cannot hold.

PostgreSQL's text and jsonb cannot hold NUL or a lone surrogate (it would fail the write with INTERNAL, while
SQLite stored it). NaN and ±Infinity are not JSON: Python writes them into answers anyway, and Go, browsers and jq
then fail to read the whole answer; a number past a double is ±Infinity to those same readers. A value nested
deeper than ``MAX_DEPTH`` would run out of recursion in the code that stores, validates or prints it.

Variables are walked once before execution (``RefuseUnstorableVariables``), literals of the document are checked
by a validation rule, so once per distinct document with the validation cache (``UnstorableLiteralRule``), and
strings that hold JSON decode through ``strict_loads`` and ``unstorable``.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

from graphql import (
    FloatValueNode,
    GraphQLError,
    IntValueNode,
    ListValueNode,
    ObjectValueNode,
    StringValueNode,
)
from graphql.validation import ValidationContext, ValidationRule
from strawberry.extensions import SchemaExtension

from kernel.errors import InvalidInputError
from kernel.json_values import MAX_DEPTH, TOO_LARGE, string_problem, unstorable


class RefuseUnstorableVariables(SchemaExtension):
    """Refuses an operation whose variables hold a value ``unstorable`` names, before anything runs or is stored."""

    def on_execute(self) -> Iterator[None]:
        for name, value in (self.execution_context.variables or {}).items():
            if reason := unstorable(value, f"${name}"):
                raise InvalidInputError(f"variable {reason}")
        yield


class UnstorableLiteralRule(ValidationRule):
    """The document's own values: strings with NUL, numbers past a double, lists and objects nested too deeply."""

    def __init__(self, context: ValidationContext) -> None:
        super().__init__(context)
        self.depth = 0

    def _refuse(self, node: Any, reason: str) -> None:
        extensions = {"code": InvalidInputError.code}
        self.report_error(GraphQLError(f"a value in the document {reason}", node, extensions=extensions))

    def enter_string_value(self, node: StringValueNode, *_args: Any) -> None:
        if reason := string_problem(node.value):
            self._refuse(node, reason)

    def enter_float_value(self, node: FloatValueNode, *_args: Any) -> None:
        self._check_number(node)

    def enter_int_value(self, node: IntValueNode, *_args: Any) -> None:
        self._check_number(node)

    def _check_number(self, node: FloatValueNode | IntValueNode) -> None:
        # float() rounds a decimal text correctly, of any length (int() refuses 4,300 digits and more)
        if math.isinf(float(node.value)):
            self._refuse(node, TOO_LARGE)

    def enter_list_value(self, node: ListValueNode, *_args: Any) -> None:
        self._enter_nested(node)

    def leave_list_value(self, *_args: Any) -> None:
        self.depth -= 1

    def enter_object_value(self, node: ObjectValueNode, *_args: Any) -> None:
        self._enter_nested(node)

    def leave_object_value(self, *_args: Any) -> None:
        self.depth -= 1

    def _enter_nested(self, node: ListValueNode | ObjectValueNode) -> None:
        self.depth += 1
        if self.depth == MAX_DEPTH + 1:
            self._refuse(node, f"is nested more than {MAX_DEPTH} levels deep")
