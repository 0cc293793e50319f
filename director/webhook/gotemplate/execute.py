"""Executes a parsed template against plain data with Go's semantics under ``missingkey=zero`` (as Compass runs it).

Execution is bounded: a template may not call templates more than ``MAX_DEPTH`` deep, take more than ``MAX_STEPS``
steps (nodes run and loop iterations), write more than ``MAX_OUTPUT`` characters, or have a function make a string
longer than that (refused before it is made where the size is known from the arguments: repeat, indent, replace,
join, printf widths, printing nested lists); Go bounds only the depth.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field

from director.webhook.gotemplate.functions import AND_OR, FUNCTIONS, FunctionError
from director.webhook.gotemplate.parse import (
    Action,
    Branch,
    Chain,
    Command,
    Constant,
    Dot,
    Field,
    Identifier,
    LoopControl,
    Nil,
    Node,
    Pipeline,
    TemplateCall,
    TemplateError,
    Text,
    Tree,
    Variable,
)
from director.webhook.gotemplate.values import (
    MAX_OUTPUT,
    MISSING,
    OutputTooLarge,
    StringMap,
    go_string,
    is_list,
    truth,
    type_name,
)

MAX_DEPTH = 100
MAX_STEPS = 100_000

_NO_FINAL = object()  # Go's missingVal: no value piped in from the previous command
# Go's builtins that take reflect.Value parameters, to which an explicit nil cannot be passed.
_REFLECT_VALUE_BUILTINS = frozenset({"and", "or", "not", "len", "index", "slice", "eq", "ne", "lt", "le", "gt", "ge"})


class _Break(Exception):
    """{{break}}: control flow, not an error."""


class _Continue(Exception):
    """{{continue}}: control flow, not an error."""


class _Failure(Exception):
    """An execution error, before the line and the node it happened at are known."""


def _describe(node: Node) -> str:  # noqa: PLR0911 - one form per node
    if isinstance(node, Field):
        return "." + ".".join(node.names)
    if isinstance(node, Variable):
        return ".".join([node.name, *node.names])
    if isinstance(node, Identifier):
        return node.name
    if isinstance(node, Chain):
        return f"({_describe(node.term)})." + ".".join(node.names)
    if isinstance(node, Pipeline):
        return " | ".join(" ".join(_describe(argument) for argument in command.arguments) for command in node.commands)
    if isinstance(node, Constant):
        return node.source
    return "nil" if isinstance(node, Nil) else "."


@dataclass
class _State:
    tree: Tree
    output: list[str] = field(default_factory=list)
    variables: list[tuple[str, object]] = field(default_factory=list)
    depth: int = 0
    steps: int = 0
    written: int = 0

    def step(self) -> None:
        self.steps += 1
        if self.steps > MAX_STEPS:
            raise _Failure(f"template takes more than {MAX_STEPS} steps")

    def write(self, text: str) -> None:
        self.written += len(text)
        if self.written > MAX_OUTPUT:
            raise _Failure(f"template writes more than {MAX_OUTPUT} characters")
        self.output.append(text)

    def printed(self, value: object) -> str:
        try:
            return go_string(value)
        except OutputTooLarge:
            raise _Failure(f"template writes more than {MAX_OUTPUT} characters") from None

    # nodes
    def walk(self, dot: object, nodes: list[Node]) -> None:
        for node in nodes:
            self.step()
            if isinstance(node, Text):
                self.write(node.text)
            elif isinstance(node, Action):
                with _at(node.pipeline):
                    value = self.pipeline(dot, node.pipeline)
                if not node.pipeline.declarations:
                    self.write("<no value>" if value is MISSING else self.printed(value))
            elif isinstance(node, Branch):
                self.branch(dot, node)
            elif isinstance(node, LoopControl):
                raise _Break if node.keyword == "break" else _Continue
            elif isinstance(node, TemplateCall):
                self.call(dot, node)

    def branch(self, dot: object, node: Branch) -> None:
        mark = len(self.variables)
        try:
            if node.keyword == "range":
                self.range(dot, node)
                return
            with _at(node.pipeline):
                value = self.pipeline(dot, node.pipeline)
            if truth(value):
                self.walk(value if node.keyword == "with" else dot, node.body)
            else:
                self.walk(dot, node.otherwise)
        finally:
            del self.variables[mark:]

    def range(self, dot: object, node: Branch) -> None:
        with _at(node.pipeline):
            items = _iterate(self.pipeline(dot, node.pipeline), len(node.pipeline.declarations))
        if not items:
            self.walk(dot, node.otherwise)
            return
        for key, element in items:
            self.step()
            mark = len(self.variables)
            self.declare_loop(node.pipeline, key, element)
            try:
                self.walk(element, node.body)
            except _Break:
                break
            except _Continue:
                continue
            finally:
                del self.variables[mark:]

    def declare_loop(self, pipeline: Pipeline, key: object, element: object) -> None:
        names = pipeline.declarations
        if not names:
            return
        if pipeline.assign:
            values = [key, element] if len(names) > 1 else [element]
            for name, value in zip(names, values, strict=True):
                self.set(name, value)
            return
        # The pipeline pushed its variables; the last one is the element, a first of two the key.
        self.variables[-1] = (names[-1], element)
        if len(names) > 1:
            self.variables[-2] = (names[0], key)

    def call(self, dot: object, node: TemplateCall) -> None:
        body = self.tree.templates.get(node.name)
        if body is None:
            raise TemplateError(f'line {node.line}: no such template "{node.name}"')
        value: object = MISSING
        if node.pipeline is not None:
            with _at(node.pipeline):
                value = self.pipeline(dot, node.pipeline)
        if self.depth >= MAX_DEPTH:
            raise TemplateError(f"line {node.line}: exceeded maximum template depth ({MAX_DEPTH})")
        saved, self.variables = self.variables, [("$", value)]
        self.depth += 1
        try:
            self.walk(value, body)
        finally:
            self.depth -= 1
            self.variables = saved

    # variables
    def lookup(self, name: str) -> object:
        for declared, value in reversed(self.variables):
            if declared == name:
                return value
        raise _Failure(f"undefined variable: {name}")

    def set(self, name: str, value: object) -> None:
        for index in range(len(self.variables) - 1, -1, -1):
            if self.variables[index][0] == name:
                self.variables[index] = (name, value)
                return
        raise _Failure(f"undefined variable: {name}")

    # pipelines
    def pipeline(self, dot: object, pipeline: Pipeline) -> object:
        value: object = _NO_FINAL
        for command in pipeline.commands:
            value = self.command(dot, command, value)
        for name in pipeline.declarations:
            if pipeline.assign:
                self.set(name, value)
            else:
                self.variables.append((name, value))
        return value

    def command(self, dot: object, command: Command, final: object) -> object:  # noqa: PLR0911 - Go's evalCommand
        first = command.arguments[0]
        if isinstance(first, Field):
            return _field_chain(dot, first.names, command.arguments, final)
        if isinstance(first, Chain):
            return _field_chain(self.argument(dot, first.term), first.names, command.arguments, final)
        if isinstance(first, Variable):
            value = self.lookup(first.name)
            if not first.names:
                _not_a_function(command.arguments, final)
                return value
            return _field_chain(value, first.names, command.arguments, final)
        if isinstance(first, Identifier):
            return self.function(dot, first.name, command.arguments, final)
        _not_a_function(command.arguments, final)
        if isinstance(first, Pipeline):
            return self.pipeline(dot, first)
        if isinstance(first, Nil):
            raise _Failure("nil is not a command")
        return self.argument(dot, first)

    def argument(self, dot: object, node: Node) -> object:
        """An operand's value (Go's evalArg for an ``interface{}`` parameter)."""
        if isinstance(node, Constant):
            return node.value
        if isinstance(node, Dot):
            return dot
        if isinstance(node, Nil):
            return MISSING
        if isinstance(node, Pipeline):
            return self.pipeline(dot, node)
        if isinstance(node, Identifier):
            return self.function(dot, node.name, [node], _NO_FINAL)
        return self.command(dot, Command(node.line, [node]), _NO_FINAL)

    def function(self, dot: object, name: str, arguments: list[Node], final: object) -> object:
        operands = arguments[1:]
        count = len(operands) + (final is not _NO_FINAL)
        if name in _REFLECT_VALUE_BUILTINS and any(isinstance(operand, Nil) for operand in operands):
            raise _Failure("cannot assign nil to reflect.Value")
        if name in AND_OR:
            if count < 1:
                raise _Failure(f"wrong number of args for {name}: want at least 1 got 0")
            value: object = MISSING
            for operand in operands:
                value = self.argument(dot, operand)
                if truth(value) == (name == "or"):
                    return value
            return final if final is not _NO_FINAL else value
        function = FUNCTIONS[name]
        if count < function.minimum or (function.maximum is not None and count > function.maximum):
            want = function.minimum if function.maximum is not None else f"at least {function.minimum}"
            raise _Failure(f"wrong number of args for {name}: want {want} got {count}")
        values = [self.argument(dot, operand) for operand in operands]
        if final is not _NO_FINAL:
            values.append(final)
        try:
            result = function.call(*values)
        except (FunctionError, OutputTooLarge) as error:
            raise _Failure(f"error calling {name}: {error}") from None
        if isinstance(result, str) and len(result) > MAX_OUTPUT:
            raise _Failure(f"error calling {name}: {OutputTooLarge()}")
        return result


@contextmanager
def _at(node: Node) -> Iterator[None]:
    """Names the node and its line in an execution error, as Go's ``executing ... at <node>`` does."""
    try:
        yield
    except _Failure as failure:
        raise TemplateError(f"line {node.line}: executing at <{_describe(node)}>: {failure}") from None


def _not_a_function(arguments: list[Node], final: object) -> None:
    if len(arguments) > 1 or final is not _NO_FINAL:
        raise _Failure(f"can't give argument to non-function {_describe(arguments[0])}")


def _field_chain(receiver: object, names: list[str], arguments: list[Node], final: object) -> object:
    for name in names[:-1]:
        receiver = _field(receiver, name, has_arguments=False)
    return _field(receiver, names[-1], has_arguments=len(arguments) > 1 or final is not _NO_FINAL)


def _field(receiver: object, name: str, *, has_arguments: bool) -> object:
    if receiver is MISSING:
        raise _Failure(f"nil pointer evaluating interface {{}}.{name}")
    if receiver is None:
        raise _Failure(f"nil pointer evaluating *interface {{}}.{name}")
    if isinstance(receiver, Mapping):
        if has_arguments:
            raise _Failure(f"{name} is not a method but has arguments")
        if name in receiver:
            return receiver[name]
        return "" if isinstance(receiver, StringMap) else MISSING
    raise _Failure(f"can't evaluate field {name} in type {type_name(receiver)}")


def _iterate(value: object, variables: int) -> list[tuple[object, object]]:
    """What ``range`` visits: a slice's (index, element), a map's (key, value) sorted by key, 0..n-1 for an int."""
    if value is MISSING or value is None:
        return []
    if is_list(value):
        return list(enumerate(value))
    if isinstance(value, Mapping):
        return sorted(value.items(), key=lambda item: (not isinstance(item[0], int | float), item[0]))
    if isinstance(value, int) and not isinstance(value, bool):
        if variables > 1:
            raise _Failure(f"can't use {value} to iterate over more than one variable")
        return [(index, index) for index in range(value)]
    raise _Failure(f"range can't iterate over {go_string(value)}")


def execute(tree: Tree, data: object) -> str:
    state = _State(tree, variables=[("$", data)])
    try:
        state.walk(data, tree.root)
    except _Failure as failure:
        raise TemplateError(str(failure)) from None
    return "".join(state.output)
