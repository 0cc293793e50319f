"""GraphQL documents as both APIs take them in: parsed and validated off the event loop, kept by bytes.

Parsing is pure Python: a 1 MB document held the event loop, and with it every listener, for ~0.15 s even
when the token limit stops it, and validating 5,000 tokens of the same field with a selection takes ~1 s
(OverlappingFieldsCanBeMerged compares them pairwise). So a document not seen before is parsed and validated
off the loop (``kernel.offload``); the loop keeps answering while that works.

strawberry's ParserCache and ValidationCache are lru_caches keyed by the document text: a comment is one
token, so 256 comment-padded 1 MB documents passed every limit and were kept, twice. ``DocumentCache`` keys
documents by a digest and bounds what it keeps by an estimate of the bytes each parsed document holds.

Every document is parsed by ``parse_document``, which also reads Compass's empty argument lists.
"""

from __future__ import annotations

import hashlib
import sys
from collections.abc import AsyncIterator, Collection
from dataclasses import dataclass
from functools import partial

from graphql import ArgumentNode, DocumentNode, GraphQLError, GraphQLSchema, TokenKind, VariableDefinitionNode
from graphql.language.parser import Parser, nested_too_deeply_error
from graphql.validation import ASTValidationRule
from strawberry.extensions import SchemaExtension
from strawberry.schema.schema import validate_document

from kernel.cache import MemoryCache
from kernel.offload import off_the_loop

# What one token of a parsed document holds, measured with tracemalloc: ~450-560 bytes (the token, its node,
# their locations). The text is held twice: by the source and by the tokens' values (a comment, a string).
TOKEN_BYTES = 600


class _EmptyListsParser(Parser):
    """GraphQL's grammar, but ``()`` is no arguments (or no variables), as in gqlparser, Compass's Go parser.

    Compass's clients send ``labelDefinitions()`` and ``configuration()``; the grammar wants at least one argument
    between the parentheses. Read here rather than cut out of the text, a ``()`` inside a string stays as written
    and every error keeps its location.
    """

    def parse_arguments(self, is_const: bool) -> tuple[ArgumentNode, ...] | None:
        return None if self._skip_empty_parentheses() else super().parse_arguments(is_const)

    def parse_variable_definitions(self) -> tuple[VariableDefinitionNode, ...] | None:
        return None if self._skip_empty_parentheses() else super().parse_variable_definitions()

    def _skip_empty_parentheses(self) -> bool:
        if not self.peek(TokenKind.PAREN_L) or self._lexer.lookahead().kind != TokenKind.PAREN_R:
            return False
        self.advance_lexer()
        self.advance_lexer()
        return True


def parse_document(query: str, *, max_tokens: int) -> DocumentNode:
    """``graphql.parse(query, max_tokens=...)`` with Compass's empty argument lists."""
    parser = _EmptyListsParser(query, max_tokens=max_tokens)
    try:
        return parser.parse_document()
    except RecursionError:
        pass
    # Raised outside the except block, as graphql.parse does, so the error does not keep the recursion's frames.
    raise nested_too_deeply_error(parser)


async def parse_bounded(query: str, *, max_tokens: int) -> DocumentNode:
    """Parses on a worker thread and stops at ``max_tokens``: a huge document costs its first tokens only."""
    return await off_the_loop(partial(parse_document, query, max_tokens=max_tokens))


def document_key(query: str, operation_name: str | None = None) -> bytes:
    """A fixed-size key for a document (and the operation it names): a key that is the text keeps it."""
    digest = hashlib.sha256(query.encode("utf-8", "surrogatepass"))
    if operation_name is not None:
        # 0xFF never occurs in UTF-8, so no other (document, name) pair hashes these bytes.
        digest.update(b"\xff" + operation_name.encode("utf-8", "surrogatepass"))
    return digest.digest()


def estimated_bytes(query: str, document: DocumentNode) -> int:
    tokens = 0
    token = document.loc.start_token if document.loc is not None else None
    while token is not None:
        tokens += 1
        token = token.next
    return 2 * sys.getsizeof(query) + TOKEN_BYTES * tokens


@dataclass
class KnownDocument:
    document: DocumentNode
    size: int
    errors: list[GraphQLError] | None = None
    """The validation errors, once validated."""


class DocumentCache:
    """Documents parsed once (with their validation errors), bounded in entries and in estimated bytes.

    A document that fails to parse is not kept: parsing it again stops at the token limit again.
    """

    def __init__(self, *, max_entries: int, max_bytes: int, max_tokens: int) -> None:
        self.max_tokens = max_tokens
        self.entries: MemoryCache[bytes, KnownDocument] = MemoryCache(
            max_entries=max_entries, max_bytes=max_bytes, size_of=lambda known: known.size
        )

    async def parse(self, query: str) -> KnownDocument:
        key = document_key(query)
        known = self.entries.get(key)
        if known is None:
            known = await off_the_loop(partial(self._parsed, query))
            self.entries.put(key, known)
        return known

    def _parsed(self, query: str) -> KnownDocument:
        document = parse_document(query, max_tokens=self.max_tokens)
        return KnownDocument(document, estimated_bytes(query, document))

    async def validate(
        self, known: KnownDocument, schema: GraphQLSchema, rules: Collection[type[ASTValidationRule]]
    ) -> list[GraphQLError]:
        """The rules are the schema's, the same for every request: the errors are kept with the document."""
        if known.errors is None:
            work = partial(validate_document, schema, known.document, tuple(rules))
            known.errors = await off_the_loop(work)
        return known.errors


class CachedDocuments(SchemaExtension):
    """Parses and validates each distinct document once, off the event loop, and keeps it in ``cache``.

    Example:
        ```python
        documents = DocumentCache(max_entries=256, max_bytes=32 << 20, max_tokens=5000)
        schema = strawberry.Schema(Query, extensions=[lambda: CachedDocuments(documents)])
        ```

    A syntax error (the token limit included) is raised from the parsing hook, as strawberry's ParserCache
    does: it escapes the operation rather than landing in the result.

    Args:
        cache: Shared by every request to one schema; the schema's validation rules must not change.
    """

    def __init__(self, cache: DocumentCache) -> None:
        super().__init__()
        self.cache = cache
        self.known: KnownDocument | None = None

    async def on_parse(self) -> AsyncIterator[None]:
        context = self.execution_context
        if context.graphql_document is None and context.query:
            self.known = await self.cache.parse(context.query)
            context.graphql_document = self.known.document
        yield

    async def on_validate(self) -> AsyncIterator[None]:
        context = self.execution_context
        if self.known is not None and context.pre_execution_errors is None:
            context.pre_execution_errors = await self.cache.validate(
                self.known, context.schema._schema, context.validation_rules
            )
        yield
