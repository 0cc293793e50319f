"""Webhook templates are Go ``text/template`` documents (Compass executes them with Go's engine). This checks what
Go's parser checks, so that a template Compass would refuse as unparsable is refused here too, with the reason:
actions closed, strings and comments terminated, parentheses balanced, ``if``/``range``/``with``/``define``/
``block`` closed by ``end``, ``else`` and ``break``/``continue`` only where Go allows them, ``define``/``template``/
``block`` naming a quoted template, no empty actions or conditions.

What is not checked: whether a function name exists (Go knows Compass's function map, sprig's ~200 functions,
at parse time), and what the template renders (Compass also executes it against an empty request and parses the
result as JSON); both need Go's engine and Compass's objects.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

_OPENING = frozenset({"if", "range", "with", "define", "block"})
_NAMED = frozenset({"define", "template", "block"})
_STRING = re.compile(r'"(?:[^"\\\n]|\\.)*"|`[^`]*`')
_CHAR = re.compile(r"'(?:[^'\\\n]|\\.)+'")
_COMMENT = re.compile(r"/\*.*?\*/", re.DOTALL)


class TemplateError(ValueError):
    """Why a template would not parse."""


@dataclass
class _Block:
    keyword: str
    line: int
    has_else: bool = False


@dataclass
class _Parser:
    text: str
    stack: list[_Block] = field(default_factory=list)

    def parse(self) -> None:
        position = 0
        while (start := self.text.find("{{", position)) != -1:
            position = self._action(start)
        if self.stack:
            block = self.stack[-1]
            raise TemplateError(f"line {block.line}: unexpected EOF: {{{{{block.keyword}}}}} has no {{{{end}}}}")

    def _line(self, offset: int) -> int:
        return self.text.count("\n", 0, offset) + 1

    def _action(self, start: int) -> int:
        """Checks the action at ``start``; returns the offset after it."""
        line = self._line(start)
        inside = start + 2
        if self.text.startswith("- ", inside) or self.text.startswith("-\t", inside) or self.text.startswith("-\n", inside):
            inside += 1
        rest = self.text[inside:].lstrip(" \t\r\n")
        if rest.startswith("/*"):
            comment = _COMMENT.match(rest)
            if comment is None:
                raise TemplateError(f"line {line}: unclosed comment")
            after = len(self.text) - len(rest) + comment.end()
            closing = re.compile(r"\s*(?:\s-)?}}").match(self.text, after)
            if closing is None:
                raise TemplateError(f"line {line}: comment ends before closing delimiter")
            return closing.end()
        tokens, end = self._tokens(inside, line)
        self._statement(tokens, line)
        return end

    def _tokens(self, position: int, line: int) -> tuple[list[str], int]:
        """The action's words (strings kept whole, parentheses as their own words) and the offset after it."""
        tokens: list[str] = []
        depth = 0
        while position < len(self.text):
            character = self.text[position]
            if self.text.startswith(" -}}", position) or self.text.startswith("}}", position):
                if depth:
                    raise TemplateError(f"line {line}: unclosed left paren")
                return tokens, position + (4 if character == " " else 2)
            if character.isspace():
                position += 1
            elif character in "\"`'":
                literal = (_CHAR if character == "'" else _STRING).match(self.text, position)
                if literal is None:
                    raise TemplateError(f"line {line}: unterminated quoted string")
                tokens.append(literal.group())
                position = literal.end()
            elif character in "()":
                depth += 1 if character == "(" else -1
                if depth < 0:
                    raise TemplateError(f"line {line}: unexpected right paren")
                tokens.append(character)
                position += 1
            else:
                word = re.compile(r"[^\s()\"`']+").match(self.text, position)
                assert word is not None  # noqa: S101 - the character is none of those excluded
                text = word.group()
                if "}}" in text:
                    text = text[: text.index("}}")].removesuffix(" -")
                tokens.append(text)
                position += len(text)
        raise TemplateError(f"line {line}: unclosed action")

    def _statement(self, tokens: list[str], line: int) -> None:
        if not tokens:
            raise TemplateError(f"line {line}: missing value for command")
        keyword, arguments = tokens[0], tokens[1:]
        if keyword == "end":
            self._end(arguments, line)
        elif keyword == "else":
            self._else(arguments, line)
        elif keyword in {"break", "continue"}:
            self._loop_control(keyword, arguments, line)
        elif keyword in _NAMED:
            self._named(keyword, arguments, line)
        elif keyword in _OPENING:
            if not arguments:
                raise TemplateError(f"line {line}: missing value for {keyword}")
            self.stack.append(_Block(keyword, line))

    def _end(self, arguments: list[str], line: int) -> None:
        if arguments:
            raise TemplateError(f"line {line}: unexpected {arguments[0]!r} in end")
        if not self.stack:
            raise TemplateError(f"line {line}: unexpected {{{{end}}}}")
        self.stack.pop()

    def _loop_control(self, keyword: str, arguments: list[str], line: int) -> None:
        if arguments:
            raise TemplateError(f"line {line}: unexpected {arguments[0]!r} in {keyword}")
        if not any(block.keyword == "range" for block in self.stack):
            raise TemplateError(f"line {line}: {{{{{keyword}}}}} outside {{{{range}}}}")

    def _named(self, keyword: str, arguments: list[str], line: int) -> None:
        if not arguments or _STRING.fullmatch(arguments[0]) is None:
            raise TemplateError(f"line {line}: {keyword} needs a quoted template name")
        if keyword == "define" and len(arguments) > 1:
            raise TemplateError(f"line {line}: unexpected {arguments[1]!r} in define clause")
        if keyword != "template":
            self.stack.append(_Block(keyword, line))

    def _else(self, arguments: list[str], line: int) -> None:
        block = self.stack[-1] if self.stack else None
        if block is None or block.keyword not in {"if", "range", "with"}:
            raise TemplateError(f"line {line}: unexpected {{{{else}}}}")
        if block.has_else:
            raise TemplateError(f"line {line}: expected end; found {{{{else}}}}")
        if arguments and arguments[0] in {"if", "with"}:
            # {{else if x}} is {{else}}{{if x}}...{{end}}, sharing the outer {{end}}.
            if len(arguments) == 1:
                raise TemplateError(f"line {line}: missing value for {arguments[0]}")
        elif arguments:
            raise TemplateError(f"line {line}: unexpected {arguments[0]!r} in else")
        else:
            block.has_else = True


def check_template(text: str) -> None:
    """Raises TemplateError if Go's ``text/template`` would refuse to parse ``text``."""
    _Parser(text).parse()
