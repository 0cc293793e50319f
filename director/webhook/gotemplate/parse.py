"""Go ``text/template``'s lexer and parser: the source becomes a tree of nodes, refused where Go's parser refuses it.

Messages are Go's, prefixed with the line (``line 3: unexpected {{end}}``), except where pycompass's checker said it
more plainly before (an unclosed block names its keyword; ``template`` without a quoted name says so).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Container
from dataclasses import dataclass, field
from enum import Enum, auto
from typing import ClassVar


class TemplateError(ValueError):
    """Why a template does not parse, or why it fails to execute."""


class Kind(Enum):
    TEXT = auto()
    LEFT = auto()
    RIGHT = auto()
    SPACE = auto()
    FIELD = auto()
    IDENTIFIER = auto()
    VARIABLE = auto()
    STRING = auto()
    RAW_STRING = auto()
    CHAR = auto()
    NUMBER = auto()
    BOOL = auto()
    NIL = auto()
    DOT = auto()
    PIPE = auto()
    LEFT_PAREN = auto()
    RIGHT_PAREN = auto()
    DECLARE = auto()
    ASSIGN = auto()
    COMMA = auto()
    KEYWORD = auto()
    EOF = auto()


KEYWORDS = frozenset({"block", "break", "continue", "define", "else", "end", "if", "range", "template", "with"})
_SPACE = " \t\r\n"
_WORD = re.compile(r"[^\W\d]\w*")
_NUMBER = re.compile(
    r"[+-]?(?:0[xX][0-9a-fA-F_]*(?:\.[0-9a-fA-F_]*)?(?:[pP][+-]?\d+)?"
    r"|0[bB][01_]+|0[oO][0-7_]+"
    r"|(?:\d[\d_]*(?:\.[\d_]*)?|\.\d[\d_]*)(?:[eE][+-]?\d[\d_]*)?)i?"
)
_STRING = re.compile(r'"(?:[^"\\\n]|\\.)*"')
_RAW_STRING = re.compile(r"`[^`]*`")
_CHAR = re.compile(r"'(?:[^'\\\n]|\\.)*'")
_TERMINATORS = frozenset(" \t\r\n.,|:)(")
_PUNCTUATION = {"|": Kind.PIPE, "(": Kind.LEFT_PAREN, ")": Kind.RIGHT_PAREN, ",": Kind.COMMA, "=": Kind.ASSIGN}
_SHOWN = 10  # how much of a token Go's errors quote
_MAX_RUNE = 0x10FFFF
_SURROGATES = range(0xD800, 0xE000)
_RANGE_VARIABLES = 2


@dataclass(frozen=True)
class Token:
    kind: Kind
    value: str
    line: int

    def describe(self) -> str:
        """How Go's errors name a token."""
        if self.kind is Kind.EOF:
            return "EOF"
        if self.kind is Kind.KEYWORD:
            return f"<{self.value}>"
        if len(self.value) > _SHOWN:
            return _go_quote(self.value[:_SHOWN]) + "..."
        return _go_quote(self.value)


def _go_quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


class _Lexer:
    """Splits a template into text and action tokens, as Go's lexer does (with its trim markers and comments)."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.position = 0
        self.tokens: list[Token] = []
        self._counted = (0, 1)  # an offset and its line, so that lines are counted once, not per token

    def line(self, offset: int | None = None) -> int:
        at = self.position if offset is None else offset
        counted, line = self._counted
        if at < counted:
            return self.text.count("\n", 0, at) + 1
        line += self.text.count("\n", counted, at)
        self._counted = (at, line)
        return line

    def fail(self, message: str, offset: int | None = None) -> TemplateError:
        return TemplateError(f"line {self.line(offset)}: {message}")

    def run(self) -> list[Token]:
        text = self.text
        while True:
            start = text.find("{{", self.position)
            if start == -1:
                self._text(text[self.position :])
                self.tokens.append(Token(Kind.EOF, "", self.line(len(text))))
                return self.tokens
            trim = text.startswith("-", start + 2) and start + 3 < len(text) and text[start + 3] in _SPACE
            chunk = text[self.position : start]
            self._text(chunk.rstrip(_SPACE) if trim else chunk)
            self.position = start + 2 + (2 if trim else 0)
            if text.startswith("/*", self.position):
                self._comment(start)
            else:
                self.tokens.append(Token(Kind.LEFT, "{{", self.line(start)))
                self._action(start)

    def _text(self, chunk: str) -> None:
        if chunk:
            self.tokens.append(Token(Kind.TEXT, chunk, self.line()))

    def _right_delim(self) -> tuple[bool, bool]:
        """Whether a closing delimiter starts here, and whether it trims the following space."""
        text, at = self.text, self.position
        if at + 1 < len(self.text) and text[at] in _SPACE and text[at + 1] == "-" and text.startswith("}}", at + 2):
            return True, True
        return text.startswith("}}", at), False

    def _close(self, trim: bool) -> None:
        self.position += 4 if trim else 2
        if trim:
            while self.position < len(self.text) and self.text[self.position] in _SPACE:
                self.position += 1

    def _comment(self, start: int) -> None:
        end = self.text.find("*/", self.position + 2)
        if end == -1:
            raise self.fail("unclosed comment", start)
        self.position = end + 2
        closing, trim = self._right_delim()
        if not closing:
            raise self.fail("comment ends before closing delimiter", start)
        self._close(trim)

    def _action(self, start: int) -> None:
        depth = 0
        text = self.text
        while True:
            closing, trim = self._right_delim()
            if closing:
                if depth:
                    raise self.fail("unclosed left paren", start)
                self.tokens.append(Token(Kind.RIGHT, "}}", self.line()))
                self._close(trim)
                return
            if self.position >= len(text):
                raise self.fail("unclosed action", start)
            character = text[self.position]
            if character == "(":
                depth += 1
            elif character == ")":
                depth -= 1
                if depth < 0:
                    raise self.fail("unexpected right paren", start)
            self._inside(character, start)

    def _emit(self, kind: Kind, end: int) -> None:
        self.tokens.append(Token(kind, self.text[self.position : end], self.line()))
        self.position = end

    def _inside(self, character: str, start: int) -> None:
        text, at = self.text, self.position
        simple = _PUNCTUATION
        if character in _SPACE:
            end = at
            while end < len(text) and text[end] in _SPACE and not self._closes_at(end):
                end += 1
            self._emit(Kind.SPACE, max(end, at + 1))
        elif text.startswith(":=", at):
            self._emit(Kind.DECLARE, at + 2)
        elif character in simple:
            self._emit(simple[character], at + 1)
        elif character in "\"`'":
            self._quoted(character, start)
        elif character == "$":
            word = _WORD.match(text, at + 1)
            self._emit(Kind.VARIABLE, word.end() if word else at + 1)
            self._terminated(start)
        elif character == "." and not (at + 1 < len(text) and text[at + 1].isdigit()):
            word = _WORD.match(text, at + 1)
            self._emit(Kind.FIELD if word else Kind.DOT, word.end() if word else at + 1)
            self._terminated(start)
        elif character in "+-." or character.isdigit():
            self._number(start)
        elif (word := _WORD.match(text, at)) is not None:
            value = word.group()
            kind = {"true": Kind.BOOL, "false": Kind.BOOL, "nil": Kind.NIL}.get(value, Kind.IDENTIFIER)
            self._emit(Kind.KEYWORD if value in KEYWORDS else kind, word.end())
            self._terminated(start)
        else:
            raise self.fail(f"unrecognized character in action: {_unicode(character)}", start)

    def _closes_at(self, offset: int) -> bool:
        """A space that begins a `` -}}`` belongs to the delimiter."""
        return offset + 1 < len(self.text) and self.text[offset + 1] == "-" and self.text.startswith("}}", offset + 2)

    def _terminated(self, start: int) -> None:
        if self.position < len(self.text) and self.text[self.position] not in _TERMINATORS:
            if self.text.startswith("}}", self.position):
                return
            raise self.fail(f"bad character {_unicode(self.text[self.position])}", start)

    def _quoted(self, quote: str, start: int) -> None:
        pattern, kind, name = {
            '"': (_STRING, Kind.STRING, "unterminated quoted string"),
            "`": (_RAW_STRING, Kind.RAW_STRING, "unterminated raw quoted string"),
            "'": (_CHAR, Kind.CHAR, "unterminated character constant"),
        }[quote]
        found = pattern.match(self.text, self.position)
        if found is None:
            raise self.fail(name, start)
        self._emit(kind, found.end())

    def _number(self, start: int) -> None:
        found = _NUMBER.match(self.text, self.position)
        if found is None or not any(c.isdigit() for c in found.group()):
            raise self.fail(f"bad number syntax: {_go_quote(self.text[self.position : self.position + 1])}", start)
        self._emit(Kind.NUMBER, found.end())
        if self.position < len(self.text) and (self.text[self.position].isalnum() or self.text[self.position] == "_"):
            raise self.fail(f"bad number syntax: {_go_quote(self.text[found.start() : self.position + 1])}", start)


def _unicode(character: str) -> str:
    return f"U+{ord(character):04X} {character!r}"


# --- nodes ------------------------------------------------------------------------------------------------------


@dataclass
class Node:
    line: int


@dataclass
class Text(Node):
    text: str


@dataclass
class Field(Node):
    """``.A.B``: a chain of keys looked up from dot."""

    names: list[str]


@dataclass
class Variable(Node):
    """``$x.A.B``: a variable, then a chain of keys."""

    name: str
    names: list[str]


@dataclass
class Chain(Node):
    """``(pipeline).A.B``: keys looked up on a term that is neither dot, a field nor a variable."""

    term: Node
    names: list[str]


@dataclass
class Identifier(Node):
    """A function's name."""

    name: str


@dataclass
class Dot(Node):
    pass


@dataclass
class Nil(Node):
    pass


@dataclass
class Constant(Node):
    """A string, number, character or boolean literal, with its Go value."""

    value: object
    source: str


@dataclass
class Command(Node):
    arguments: list[Node]


@dataclass
class Pipeline(Node):
    declarations: list[str]
    commands: list[Command]
    assign: bool = False


@dataclass
class Action(Node):
    pipeline: Pipeline


@dataclass
class Branch(Node):
    """``if``, ``with`` or ``range``: the body runs (for range: per element) when the pipeline is true."""

    keyword: str
    pipeline: Pipeline
    body: list[Node]
    otherwise: list[Node]


@dataclass
class LoopControl(Node):
    keyword: str


@dataclass
class TemplateCall(Node):
    name: str
    pipeline: Pipeline | None


@dataclass
class Tree:
    root: list[Node]
    templates: dict[str, list[Node]] = field(default_factory=dict)


# --- literals ---------------------------------------------------------------------------------------------------

_ESCAPES = {"a": "\a", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v", "\\": "\\"}
_ESCAPE = re.compile(r"\\(?:([abfnrtv\\'\"])|x([0-9a-fA-F]{2})|u([0-9a-fA-F]{4})|U([0-9a-fA-F]{8})|([0-7]{3})|(.?))")


def unquote(literal: str, quote: str) -> str:
    """Go's strconv.Unquote for interpreted strings and character constants."""

    def escape(found: re.Match[str]) -> str:
        simple, hex2, hex4, hex8, octal, bad = found.groups()
        if simple is not None:
            if (simple == "'" and quote == '"') or (simple == '"' and quote == "'"):
                raise ValueError(simple)
            return _ESCAPES.get(simple, simple)
        if bad is not None:
            raise ValueError(bad)
        number = int(hex2 or hex4 or hex8 or octal, 8 if octal else 16)
        if number > _MAX_RUNE or number in _SURROGATES:
            raise ValueError(number)
        return chr(number)

    return _ESCAPE.sub(escape, literal[1:-1])


def number(text: str) -> int | float:
    """A numeric constant's value as Go's template evaluates it: an int unless it is written as a float."""
    if text.endswith("i"):
        raise ValueError(text)
    digits = text.replace("_", "")
    lowered = digits.lower().lstrip("+-")
    is_hex = lowered.startswith("0x")
    if (not is_hex and any(c in lowered for c in ".e")) or (is_hex and "p" in lowered):
        return float.fromhex(digits) if is_hex else float(digits)
    sign = -1 if digits.startswith("-") else 1
    body = digits.lstrip("+-")
    base = 16 if is_hex else 2 if lowered.startswith("0b") else 8 if lowered.startswith("0o") or (len(body) > 1 and body.startswith("0")) else 10
    if base in {2, 8, 16} and body[:2].lower() in {"0x", "0b", "0o"}:
        body = body[2:]
    return sign * int(body, base)


# --- parser -----------------------------------------------------------------------------------------------------


class _Parser:
    """A recursive-descent parser over the lexer's tokens, following Go's parse.Tree (declarations, chains, checks)."""

    def __init__(self, text: str, functions: Container[str]) -> None:
        self.tokens = _Lexer(text).run()
        self.index = 0
        self.functions = functions
        self.variables: list[str] = ["$"]
        self.ranges = 0
        self.tree = Tree(root=[])

    # tokens
    def peek(self) -> Token:
        return self.tokens[self.index]

    def next(self) -> Token:
        token = self.tokens[self.index]
        self.index += 1
        return token

    def peek_non_space(self) -> Token:
        while self.tokens[self.index].kind is Kind.SPACE:
            self.index += 1
        return self.tokens[self.index]

    def next_non_space(self) -> Token:
        token = self.peek_non_space()
        self.index += 1
        return token

    def fail(self, token: Token, message: str) -> TemplateError:
        return TemplateError(f"line {token.line}: {message}")

    def unexpected(self, token: Token, context: str) -> TemplateError:
        return self.fail(token, f"unexpected {token.describe()} in {context}")

    # structure
    def parse(self) -> Tree:
        while self.peek().kind is not Kind.EOF:
            if self.peek().kind is Kind.LEFT and self._define_follows():
                self._define()
                continue
            node = self._text_or_action(None)
            if isinstance(node, _Delimiter):
                raise self.fail(node.token, f"unexpected {{{{{node.token.value}}}}}")
            self.tree.root.append(node)
        return self.tree

    def _define_follows(self) -> bool:
        after = self.index + 1
        while self.tokens[after].kind is Kind.SPACE:
            after += 1
        return self.tokens[after].kind is Kind.KEYWORD and self.tokens[after].value == "define"

    def _define(self) -> None:
        self.next()
        keyword = self.next_non_space()
        name = self._template_name(keyword, "define")
        if (closing := self.next_non_space()).kind is not Kind.RIGHT:
            raise self.unexpected(closing, "define clause")
        saved, self.variables = self.variables, ["$"]
        body, end = self._list(keyword)
        self.variables = saved
        if end.token.value != "end":
            raise self.fail(end.token, f"unexpected {{{{{end.token.value}}}}}")
        self._add_template(name, body, keyword)

    def _add_template(self, name: str, body: list[Node], token: Token) -> None:
        existing = self.tree.templates.get(name)
        if existing is not None and any(not (isinstance(n, Text) and not n.text.strip()) for n in existing):
            if any(not (isinstance(n, Text) and not n.text.strip()) for n in body):
                raise self.fail(token, f"template: multiple definition of template {_go_quote(name)}")
            return
        self.tree.templates[name] = body

    def _template_name(self, token: Token, keyword: str) -> str:
        name = self.next_non_space()
        if name.kind is Kind.STRING:
            return self._string(name)
        if name.kind is Kind.RAW_STRING:
            return name.value[1:-1]
        raise self.fail(token, f"{keyword} needs a quoted template name")

    def _list(self, opener: Token) -> tuple[list[Node], _Delimiter]:
        """Nodes up to an ``{{end}}`` or ``{{else}}``, which is returned."""
        nodes: list[Node] = []
        while self.peek().kind is not Kind.EOF:
            node = self._text_or_action(opener)
            if isinstance(node, _Delimiter):
                return nodes, node
            nodes.append(node)
        raise self.fail(opener, f"unexpected EOF: {{{{{opener.value}}}}} has no {{{{end}}}}")

    def _text_or_action(self, opener: Token | None) -> Node | _Delimiter:
        token = self.next()
        if token.kind is Kind.TEXT:
            return Text(token.line, token.value)
        keyword = self.peek_non_space()
        if keyword.kind is Kind.KEYWORD:
            self.next()
            handler = self._keywords.get(keyword.value)
            if handler is None:
                raise self.unexpected(keyword, "command")
            return handler(self, keyword, opener)
        pipeline = self._pipeline("command", Kind.RIGHT)
        return Action(token.line, pipeline)

    def _end(self, keyword: Token, _opener: Token | None) -> _Delimiter:
        if (closing := self.next_non_space()).kind is not Kind.RIGHT:
            raise self.unexpected(closing, "end")
        return _Delimiter(keyword)

    def _else(self, keyword: Token, opener: Token | None) -> _Delimiter:
        if opener is None or opener.value not in {"if", "with", "range"}:
            raise self.fail(keyword, "unexpected {{else}}")
        following = self.peek_non_space()
        if following.kind is Kind.KEYWORD and following.value in {"if", "with"}:
            # {{else if x}} is {{else}}{{if x}}...{{end}}, sharing the outer {{end}}: the keyword is left to be read.
            return _Delimiter(keyword, chained=True)
        if (closing := self.next_non_space()).kind is not Kind.RIGHT:
            raise self.unexpected(closing, "else")
        return _Delimiter(keyword)

    def _control(self, keyword: Token, _opener: Token | None) -> Node:
        depth = len(self.variables)
        if keyword.value == "range":
            self.ranges += 1
        pipeline = self._pipeline(keyword.value, Kind.RIGHT)
        body, delimiter = self._list(keyword)
        otherwise: list[Node] = []
        if delimiter.token.value == "else":
            if delimiter.chained:
                nested = self.next_non_space()
                if nested.value != keyword.value:
                    raise self.unexpected(nested, "input")
                otherwise = [self._control(nested, None)]
            else:
                otherwise, delimiter = self._list(keyword)
                if delimiter.token.value != "end":
                    raise self.fail(delimiter.token, "expected end; found {{else}}")
        if keyword.value == "range":
            self.ranges -= 1
        del self.variables[depth:]
        return Branch(keyword.line, keyword.value, pipeline, body, otherwise)

    def _loop_control(self, keyword: Token, _opener: Token | None) -> Node:
        if (closing := self.next_non_space()).kind is not Kind.RIGHT:
            raise self.unexpected(closing, f"{{{{{keyword.value}}}}}")
        if not self.ranges:
            raise self.fail(keyword, f"{{{{{keyword.value}}}}} outside {{{{range}}}}")
        return LoopControl(keyword.line, keyword.value)

    def _template(self, keyword: Token, _opener: Token | None) -> Node:
        name = self._template_name(keyword, "template")
        pipeline = None
        if self.peek_non_space().kind is not Kind.RIGHT:
            pipeline = self._pipeline("template clause", Kind.RIGHT)
        else:
            self.next_non_space()
        return TemplateCall(keyword.line, name, pipeline)

    def _block(self, keyword: Token, _opener: Token | None) -> Node:
        name = self._template_name(keyword, "block")
        pipeline = self._pipeline("block clause", Kind.RIGHT)
        # The body is a template of its own: its variables and loops are not the enclosing ones.
        saved, self.variables, ranges, self.ranges = self.variables, ["$"], self.ranges, 0
        body, end = self._list(keyword)
        self.variables, self.ranges = saved, ranges
        if end.token.value != "end":
            raise self.fail(end.token, "unexpected {{else}}")
        self._add_template(name, body, keyword)
        return TemplateCall(keyword.line, name, pipeline)

    _keywords: ClassVar[dict[str, Callable[[_Parser, Token, Token | None], Node | _Delimiter]]] = {
        "end": _end,
        "else": _else,
        "if": _control,
        "with": _control,
        "range": _control,
        "break": _loop_control,
        "continue": _loop_control,
        "template": _template,
        "block": _block,
    }

    # pipelines
    def _pipeline(self, context: str, end: Kind) -> Pipeline:
        first = self.peek_non_space()
        pipeline = Pipeline(first.line, [], [])
        self._declarations(pipeline, context)
        while True:
            token = self.next_non_space()
            if token.kind is end:
                self._check(pipeline, context, token)
                return pipeline
            if token.kind in _OPERAND_STARTS:
                self.index -= 1
                pipeline.commands.append(self._command())
            else:
                raise self.unexpected(token, context)

    def _declarations(self, pipeline: Pipeline, context: str) -> None:
        while (variable := self.peek_non_space()).kind is Kind.VARIABLE:
            start = self.index
            self.next()
            following = self.peek_non_space()
            if following.kind in {Kind.DECLARE, Kind.ASSIGN}:
                self.next_non_space()
                pipeline.assign = following.kind is Kind.ASSIGN
                pipeline.declarations.append(variable.value)
                self.variables.append(variable.value)
                return
            if following.kind is Kind.COMMA:
                self.next_non_space()
                pipeline.declarations.append(variable.value)
                self.variables.append(variable.value)
                if context == "range" and len(pipeline.declarations) < _RANGE_VARIABLES:
                    if self.peek_non_space().kind in {Kind.VARIABLE, Kind.RIGHT, Kind.RIGHT_PAREN}:
                        continue
                    raise self.fail(variable, "range can only initialize variables")
                raise self.fail(variable, f"too many declarations in {context}")
            self.index = start
            return

    def _check(self, pipeline: Pipeline, context: str, token: Token) -> None:
        if not pipeline.commands:
            raise self.fail(token, f"missing value for {context}")
        for stage, command in enumerate(pipeline.commands[1:], start=2):
            if isinstance(command.arguments[0], Dot | Nil | Constant):
                raise self.fail(token, f"non executable command in pipeline stage {stage}")

    def _command(self) -> Command:
        command = Command(self.peek_non_space().line, [])
        while True:
            self.peek_non_space()
            operand = self._operand()
            if operand is not None:
                command.arguments.append(operand)
            token = self.next()
            if token.kind is Kind.SPACE:
                continue
            if token.kind in {Kind.RIGHT, Kind.RIGHT_PAREN}:
                self.index -= 1
            elif token.kind is not Kind.PIPE:
                raise self.unexpected(token, "operand")
            break
        if not command.arguments:
            raise self.fail(token, "empty command")
        return command

    def _operand(self) -> Node | None:
        term = self._term()
        if term is None or self.peek().kind is not Kind.FIELD:
            return term
        names: list[str] = []
        while self.peek().kind is Kind.FIELD:
            names.append(self.next().value[1:])
        if isinstance(term, Field):
            return Field(term.line, term.names + names)
        if isinstance(term, Variable):
            return Variable(term.line, term.name, term.names + names)
        if isinstance(term, Dot | Nil | Constant):
            raise self.fail(self.peek(), f"unexpected . after term {_source(term)!r}")
        return Chain(term.line, term, names)

    def _term(self) -> Node | None:  # noqa: PLR0911 - one return per kind of term, as in Go's parser
        token = self.next_non_space()
        kind = token.kind
        if kind is Kind.IDENTIFIER:
            if token.value not in self.functions:
                raise self.fail(token, f"function {_go_quote(token.value)} not defined")
            return Identifier(token.line, token.value)
        if kind is Kind.DOT:
            return Dot(token.line)
        if kind is Kind.NIL:
            return Nil(token.line)
        if kind is Kind.VARIABLE:
            if token.value not in self.variables:
                raise self.fail(token, f"undefined variable {_go_quote(token.value)}")
            return Variable(token.line, token.value, [])
        if kind is Kind.FIELD:
            return Field(token.line, [token.value[1:]])
        if kind is Kind.LEFT_PAREN:
            return self._pipeline("parenthesized pipeline", Kind.RIGHT_PAREN)
        if kind in _LITERALS:
            return self._literal(token)
        self.index -= 1
        return None

    def _literal(self, token: Token) -> Constant:
        value: object
        if token.kind is Kind.BOOL:
            value = token.value == "true"
        elif token.kind is Kind.STRING:
            value = self._string(token)
        elif token.kind is Kind.RAW_STRING:
            value = token.value[1:-1].replace("\r", "")
        elif token.kind is Kind.CHAR:
            value = self._char(token)
        else:
            try:
                value = number(token.value)
            except ValueError:
                raise self.fail(token, f"illegal number syntax: {token.value}") from None
        return Constant(token.line, value, token.value)

    def _char(self, token: Token) -> int:
        try:
            character = unquote(token.value, "'")
        except ValueError:
            character = ""
        if len(character) != 1:
            raise self.fail(token, f"malformed character constant: {token.value}")
        return ord(character)

    def _string(self, token: Token) -> str:
        try:
            return unquote(token.value, '"')
        except ValueError:
            raise self.fail(token, f"invalid syntax: {token.value}") from None


_LITERALS = frozenset({Kind.BOOL, Kind.STRING, Kind.RAW_STRING, Kind.CHAR, Kind.NUMBER})
_OPERAND_STARTS = _LITERALS | {Kind.DOT, Kind.FIELD, Kind.IDENTIFIER, Kind.NIL, Kind.VARIABLE, Kind.LEFT_PAREN}


@dataclass
class _Delimiter:
    """An ``{{end}}`` or ``{{else}}`` that closes the list being read."""

    token: Token
    chained: bool = False


def _source(node: Node) -> str:
    if isinstance(node, Constant):
        return node.source
    return "nil" if isinstance(node, Nil) else "."


def parse(text: str, functions: Container[str]) -> Tree:
    """The template's tree; ``functions`` are the names a template may call."""
    return _Parser(text, functions).parse()
