"""The agent's GraphQL documents are valid against the Director's committed SDL."""

from __future__ import annotations

from pathlib import Path

import pytest
from graphql import GraphQLSchema, build_schema, parse, validate

from agent.queries import ALL_DOCUMENTS

SCHEMA_FILE = Path(__file__).resolve().parents[2] / "director" / "schema.graphql"


@pytest.fixture(scope="module")
def director_schema() -> GraphQLSchema:
    return build_schema(SCHEMA_FILE.read_text(encoding="utf-8"))


@pytest.mark.parametrize("name", sorted(ALL_DOCUMENTS))
def test_document_is_valid_against_the_director_schema(director_schema: GraphQLSchema, name: str) -> None:
    errors = validate(director_schema, parse(ALL_DOCUMENTS[name]))

    assert [error.message for error in errors] == []


def test_an_invalid_document_is_reported(director_schema: GraphQLSchema) -> None:
    # the check above can fail: a field the Director does not have is an error
    errors = validate(director_schema, parse('query { runtime(id: "x") { noSuchField } }'))

    assert errors
