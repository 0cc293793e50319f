"""The functions a Compass webhook template may call: Go's builtins, Compass's own, and sprig's.

Compass executes templates with ``sprig.TxtFuncMap()`` plus its templatehelper functions (``contains`` replaces
sprig's, with Compass's argument order). Every name in that map parses, as in Compass. These sprig functions run here:
toString quote squote default empty coalesce ternary toJson toRawJson toPrettyJson fromJson lower upper trim
trimPrefix trimSuffix trimAll hasPrefix hasSuffix replace repeat substr nospace cat indent nindent join splitList
list dict get hasKey keys first last b64enc b64dec atoi int int64 add add1 sub mul div mod. The others (dates,
random values, crypto, semver, regex, paths, network, environment) parse but fail when executed, naming the function:
none of Compass's templates calls them, and several would make a rendering depend on the clock, chance or the host.
"""

from __future__ import annotations

import base64
import binascii
import inspect
import json
import re
import urllib.parse
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from director.webhook.gotemplate.values import (
    MISSING,
    StringMap,
    bounded,
    go_json,
    go_quote,
    go_string,
    is_list,
    sprint,
    sprintf,
    truth,
    type_name,
)


class FunctionError(Exception):
    """A function's refusal; the evaluator reports it as Go does (``error calling index: ...``)."""


@dataclass(frozen=True)
class Function:
    call: Callable[..., object]
    minimum: int
    maximum: int | None  # None: variadic


FUNCTIONS: dict[str, Function] = {}
_F = TypeVar("_F", bound=Callable[..., object])


def _register(*names: str, like: Callable[..., object] | None = None) -> Callable[[_F], _F]:
    """Registers a function under ``names``, with the arity of its signature (or of ``like``'s)."""

    def register(call: _F) -> _F:
        parameters = inspect.signature(like or call).parameters.values()
        fixed = sum(1 for p in parameters if p.kind is p.POSITIONAL_OR_KEYWORD)
        variadic = any(p.kind is p.VAR_POSITIONAL for p in parameters)
        for name in names:
            FUNCTIONS[name] = Function(call, fixed, None if variadic else fixed)
        return call

    return register


# --- argument conversion, as Go's reflection converts a value to a parameter's type -----------------------------


def _string(value: object) -> str:
    if isinstance(value, str):
        return value
    if value is None:
        raise FunctionError("dereference of nil pointer of type string")
    raise FunctionError(f"wrong type for value; expected string; got {_got(value)}")


def _integer(value: object) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    raise FunctionError(f"wrong type for value; expected int; got {_got(value)}")


def _got(value: object) -> str:
    return "interface {}" if value is MISSING else type_name(value)


def _strval(value: object) -> str:
    """sprig's strval: strings as they are, anything else as %v prints it."""
    return value if isinstance(value, str) else go_string(value)


def _to_int(value: object) -> int:
    """sprig's toInt64: numbers truncated, numeric strings parsed, anything else 0."""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int | float):
        return int(value)
    if isinstance(value, str):
        try:
            return int(float(value)) if re.fullmatch(r"\s*[+-]?\d+(\.\d*)?([eE][+-]?\d+)?\s*", value) else 0
        except (ValueError, OverflowError):
            return 0
    return 0


# --- Go's builtins ----------------------------------------------------------------------------------------------

AND_OR = frozenset({"and", "or"})  # short-circuiting: the evaluator runs them
_COMPARISON_TYPE = "invalid type for comparison"
_INCOMPATIBLE = "incompatible types for comparison"


@_register("not")
def _not(value: object) -> bool:
    return not truth(value)


@_register("len")
def _len(item: object) -> int:
    if item is None or item is MISSING:
        raise FunctionError("len of nil pointer")
    if isinstance(item, str):
        return len(item.encode())
    if isinstance(item, Mapping) or is_list(item):
        return len(item)
    raise FunctionError(f"len of type {type_name(item)}")


def _position(index: object, length: int, *, limit: int | None = None) -> int:
    if index is None or index is MISSING:
        raise FunctionError("cannot index slice/array with nil")
    if not isinstance(index, int) or isinstance(index, bool):
        raise FunctionError(f"cannot index slice/array with type {type_name(index)}")
    if index < 0 or index >= (length if limit is None else limit + 1):
        raise FunctionError(f"index out of range: {index}")
    return index


@_register("index")
def _index(item: object, *indexes: object) -> object:
    if item is MISSING:
        raise FunctionError("index of untyped nil")
    for index in indexes:
        if item is None or item is MISSING:
            raise FunctionError("index of nil pointer")
        if isinstance(item, str):
            item = item.encode()[_position(index, len(item.encode()))]
        elif is_list(item):
            item = item[_position(index, len(item))]
        elif isinstance(item, Mapping):
            if not isinstance(index, str):
                raise FunctionError(f"value has type {_got(index)}; should be string")
            item = item.get(index, "" if isinstance(item, StringMap) else MISSING)
        else:
            raise FunctionError(f"can't index item of type {type_name(item)}")
    return item


@_register("slice")
def _slice(item: object, *indexes: object) -> object:
    if item is None or item is MISSING:
        raise FunctionError("slice of untyped nil")
    if len(indexes) > 3:  # noqa: PLR2004 - Go's full slice expression has three indexes
        raise FunctionError(f"too many slice indexes: {len(indexes)}")
    if isinstance(item, str):
        if len(indexes) == 3:  # noqa: PLR2004
            raise FunctionError("cannot 3-index slice a string")
        sequence: Any = item.encode()
    elif is_list(item):
        sequence = list(item)
    else:
        raise FunctionError(f"can't slice item of type {type_name(item)}")
    bounds = [_position(index, len(sequence), limit=len(sequence)) for index in indexes]
    low = bounds[0] if bounds else 0
    high = bounds[1] if len(bounds) > 1 else len(sequence)
    if low > high or (len(bounds) == 3 and high > bounds[2]):  # noqa: PLR2004
        raise FunctionError(f"invalid slice index: {low} > {high}")
    part = sequence[low:high]
    return part.decode(errors="replace") if isinstance(item, str) else part


@_register("print")
def _print(*arguments: object) -> str:
    return sprint(arguments)


@_register("printf")
def _printf(template: object, *arguments: object) -> str:
    return sprintf(_string(template), arguments)


@_register("println")
def _println(*arguments: object) -> str:
    return " ".join(go_string(argument) for argument in arguments) + "\n"


def _basic(value: object) -> str:
    if value is MISSING or value is None:
        return "nil"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float"
    if isinstance(value, str):
        return "string"
    return "other"


def _equal(first: object, second: object) -> bool:
    kinds = (_basic(first), _basic(second))
    if "nil" in kinds:
        return kinds[0] == kinds[1]
    if kinds[0] != kinds[1]:
        raise FunctionError(_INCOMPATIBLE)
    if kinds[0] == "other":
        raise FunctionError(f"non-comparable type {go_string(first)}: {type_name(first)}")
    return first == second


@_register("eq")
def _eq(first: object, *others: object) -> bool:
    if not others:
        raise FunctionError("missing argument for comparison")
    return any(_equal(first, other) for other in others)


@_register("ne")
def _ne(first: object, second: object) -> bool:
    return not _equal(first, second)


def _less(first: object, second: object) -> bool:
    kinds = (_basic(first), _basic(second))
    if any(kind in {"nil", "other", "bool"} for kind in kinds):
        raise FunctionError(_COMPARISON_TYPE)
    if kinds[0] != kinds[1]:
        raise FunctionError(_INCOMPATIBLE)
    return first < second  # type: ignore[operator]


@_register("lt")
def _lt(first: object, second: object) -> bool:
    return _less(first, second)


@_register("le")
def _le(first: object, second: object) -> bool:
    return _less(first, second) or _equal(first, second)


@_register("gt")
def _gt(first: object, second: object) -> bool:
    return not (_less(first, second) or _equal(first, second))


@_register("ge")
def _ge(first: object, second: object) -> bool:
    return not _less(first, second)


def _joined(arguments: tuple[object, ...]) -> str:
    """Go's evalArgs: a single string as it is, otherwise the operands printed (no value as ``<no value>``)."""
    if len(arguments) == 1 and isinstance(arguments[0], str):
        return arguments[0]
    return sprint([argument if argument is not MISSING else "<no value>" for argument in arguments])


_HTML = {"<": "&lt;", ">": "&gt;", "&": "&amp;", "'": "&#39;", '"': "&#34;", "\x00": "\ufffd"}


@_register("html")
def _html(*arguments: object) -> str:
    return "".join(_HTML.get(character, character) for character in _joined(arguments))


_JS = {"\\": "\\\\", "'": "\\'", '"': '\\"', "<": "\\u003C", ">": "\\u003E", "&": "\\u0026", "=": "\\u003D"}


@_register("js")
def _js(*arguments: object) -> str:
    out = []
    for character in _joined(arguments):
        if character in _JS:
            out.append(_JS[character])
        elif ord(character) < 0x20 or not character.isprintable():  # noqa: PLR2004 - Go escapes controls
            out.append(f"\\u{ord(character):04X}")
        else:
            out.append(character)
    return "".join(out)


@_register("urlquery")
def _urlquery(*arguments: object) -> str:
    return urllib.parse.quote_plus(_joined(arguments), safe="-_.~")


@_register("call")
def _call(function: object, *_arguments: object) -> object:
    raise FunctionError(f"non-function {go_string(function)} of type {type_name(function)}")


# --- Compass's templatehelper -----------------------------------------------------------------------------------


@_register("contains")
def _contains(document: object, text: object) -> bool:
    return _string(text) in _string(document)


@_register("Join")
def _join_strings(elements: object) -> str:
    if not is_list(elements) or not all(isinstance(element, str) for element in elements):
        raise FunctionError(f"wrong type for value; expected []string; got {_got(elements)}")
    return '"' + '", "'.join(elements) + '"' if elements else ""


@_register("mkslice")
def _mkslice(*arguments: object) -> list[str]:
    return [_string(argument) for argument in arguments]


@_register("stringify")
def _stringify(value: object) -> str:
    return "" if value is None else _strval(value)


def _path(path: str) -> list[str]:
    """gjson's dotted path: ``a.b.0``, with ``\\.`` for a dot inside a key."""
    return [part.replace("\\.", ".") for part in re.split(r"(?<!\\)\.", path)]


def _raw_value(document: str, path: str) -> str | None:
    """The raw JSON text at ``path`` in ``document`` (as gjson's Result.Raw), or None where nothing is there."""
    decoder = json.JSONDecoder()
    position = 0
    try:
        for key in _path(path):
            position = _skip_space(document, position)
            if document.startswith("{", position):
                position = _member(document, position + 1, key, decoder)
            elif document.startswith("[", position) and key.isdigit():
                position = _element(document, position + 1, int(key), decoder)
            else:
                return None
            if position < 0:
                return None
        position = _skip_space(document, position)
        _, end = decoder.raw_decode(document, position)
    except (ValueError, IndexError):
        return None
    return document[position:end]


def _skip_space(document: str, position: int) -> int:
    while position < len(document) and document[position] in " \t\r\n":
        position += 1
    return position


def _member(document: str, position: int, key: str, decoder: json.JSONDecoder) -> int:
    while True:
        position = _skip_space(document, position)
        if document.startswith("}", position):
            return -1
        name, position = decoder.raw_decode(document, position)
        position = _skip_space(document, position)
        position = _skip_space(document, position + 1)  # the colon
        if name == key:
            return position
        _, position = decoder.raw_decode(document, position)
        position = _skip_space(document, position) + 1  # the comma or the closing brace
        if document[position - 1] == "}":
            return -1


def _element(document: str, position: int, wanted: int, decoder: json.JSONDecoder) -> int:
    index = 0
    while True:
        position = _skip_space(document, position)
        if document.startswith("]", position):
            return -1
        if index == wanted:
            return position
        _, position = decoder.raw_decode(document, position)
        position = _skip_space(document, position) + 1
        if document[position - 1] == "]":
            return -1
        index += 1


def _gjson_string(document: str, path: str) -> str:
    """gjson's Get(...).String(): a string's text, null and nothing as "", anything else as its raw JSON."""
    raw = _raw_value(document, path)
    if raw is None or raw == "null":
        return ""
    if raw.startswith('"'):
        value = json.loads(raw)
        return value if isinstance(value, str) else raw
    return raw


@_register("copy")
def _copy(document: object, path: object) -> str:
    text, where = _string(document), _string(path)
    return text if where in {".", ""} else _gjson_string(text, where)


def _set(document: str, path: str, raw: str) -> str:
    """sjson's SetRaw for the dotted-object subset: missing objects are created, an existing key keeps its place."""
    root = json.loads(document) if document.strip() else {}
    if not isinstance(root, dict):
        raise FunctionError("cannot set a key on a non-object")
    target = root
    *parents, last = _path(path)
    if not last:
        raise FunctionError("path cannot be empty")
    for key in parents:
        child = target.get(key)
        if not isinstance(child, dict):
            child = target[key] = {}
        target = child
    target[last] = json.loads(raw)
    return json.dumps(root, separators=(",", ":"), ensure_ascii=False)


@_register("updateAndCopy")
def _update_and_copy(document: object, path: object, entries: object) -> str:
    content = _copy(document, path)
    if not is_list(entries):
        raise FunctionError(f"wrong type for value; expected []string; got {_got(entries)}")
    for entry in entries:
        text = _string(entry)
        key, value = _gjson_string(text, "key"), _gjson_string(text, "value")
        raw = value if _is_json(value) else json.dumps(value, ensure_ascii=False)
        try:
            content = _set(content, key, raw)
        except (FunctionError, ValueError):
            return ""  # Compass logs the failure and renders nothing
    return go_quote(content)


def _is_json(text: str) -> bool:
    try:
        json.loads(text)
    except ValueError:
        return False
    return True


# --- sprig ------------------------------------------------------------------------------------------------------


def _empty(value: object) -> bool:
    return value is MISSING or value is None or (not truth(value) and not isinstance(value, Mapping | list | tuple)) or (
        isinstance(value, Mapping | list | tuple) and not value
    )


_register("toString")(_strval)
_register("empty")(_empty)


@_register("quote")
def _quote(*values: object) -> str:
    return " ".join(go_quote(_strval(value)) for value in values if value is not MISSING)


@_register("squote")
def _squote(*values: object) -> str:
    return " ".join(f"'{_strval(value)}'" for value in values if value is not MISSING)


@_register("default")
def _default(fallback: object, *given: object) -> object:
    return fallback if not given or _empty(given[0]) else given[0]


@_register("coalesce")
def _coalesce(*values: object) -> object:
    return next((value for value in values if not _empty(value)), MISSING)


@_register("ternary")
def _ternary(if_true: object, if_false: object, condition: object) -> object:
    if not isinstance(condition, bool):
        raise FunctionError(f"wrong type for value; expected bool; got {_got(condition)}")
    return if_true if condition else if_false


def _marshal(value: object, *, escape_html: bool, indent: str = "") -> str:
    try:
        return go_json(value, escape_html=escape_html, indent=indent)
    except (ValueError, TypeError):
        return ""


@_register("toJson")
def _to_json(value: object) -> str:
    return _marshal(value, escape_html=True)


@_register("toRawJson")
def _to_raw_json(value: object) -> str:
    return _marshal(value, escape_html=False)


@_register("toPrettyJson")
def _to_pretty_json(value: object) -> str:
    return _marshal(value, escape_html=True, indent="  ")


@_register("fromJson")
def _from_json(text: object) -> object:
    try:
        return json.loads(_string(text), parse_int=float)
    except ValueError:
        return MISSING


def _replace(old: str, new: str, text: str) -> str:
    bounded(len(text) + (text.count(old) if old else len(text) + 1) * (len(new) - len(old)))
    return text.replace(old, new)


def _string_function(call: Callable[..., object]) -> Callable[..., object]:
    """A sprig function over strings: its arguments converted as Go converts them to ``string``."""

    def converted(*arguments: object) -> object:
        return call(*(_string(argument) for argument in arguments))

    return converted


_STRING_FUNCTIONS: dict[str, Callable[..., object]] = {
    "lower": lambda s: s.lower(),
    "upper": lambda s: s.upper(),
    "trim": lambda s: s.strip(),
    "trimPrefix": lambda prefix, s: s.removeprefix(prefix),
    "trimSuffix": lambda suffix, s: s.removesuffix(suffix),
    "trimAll": lambda cutset, s: s.strip(cutset),
    "hasPrefix": lambda prefix, s: s.startswith(prefix),
    "hasSuffix": lambda suffix, s: s.endswith(suffix),
    "replace": _replace,
    "nospace": lambda s: re.sub(r"\s", "", s),
    "splitList": lambda separator, s: s.split(separator) if separator else list(s),
    "b64enc": lambda s: base64.b64encode(s.encode()).decode(),
    "atoi": lambda s: int(s) if re.fullmatch(r"[+-]?\d+", s) else 0,
}
for _name, _function in _STRING_FUNCTIONS.items():
    _register(_name, like=_function)(_string_function(_function))


@_register("b64dec")
def _b64dec(text: object) -> str:
    try:
        return base64.b64decode(_string(text), validate=True).decode(errors="replace")
    except (binascii.Error, ValueError) as error:
        return str(error)


@_register("repeat")
def _repeat(count: object, text: object) -> str:
    times, value = max(_integer(count), 0), _string(text)
    bounded(times * len(value))
    return value * times


@_register("substr")
def _substr(start: object, end: object, text: object) -> str:
    first, last, value = _integer(start), _integer(end), _string(text)
    if first < 0:
        return value[:last]
    if last < 0 or last > len(value):
        return value[first:]
    return value[first:last]


@_register("cat")
def _cat(*values: object) -> str:
    return " ".join(go_string(value) for value in values if value is not MISSING)


@_register("indent")
def _indent(spaces: object, text: object) -> str:
    width, value = max(_integer(spaces), 0), _string(text)
    bounded(len(value) + width * (value.count("\n") + 1))
    pad = " " * width
    return pad + value.replace("\n", "\n" + pad)


@_register("nindent")
def _nindent(spaces: object, text: object) -> str:
    return "\n" + _indent(spaces, text)


def _strings(value: object) -> list[str]:
    """sprig's strslice: a list's non-nil items as strings; a lone value as a one-item list."""
    if value is MISSING or value is None:
        return []
    if is_list(value):
        return [_strval(item) for item in value if item is not MISSING and item is not None]
    return [_strval(value)]


@_register("join")
def _join(separator: object, values: object) -> str:
    between, items = _string(separator), _strings(values)
    bounded(sum(map(len, items)) + max(len(items) - 1, 0) * len(between))
    return between.join(items)


@_register("list")
def _list(*values: object) -> list[object]:
    return list(values)


@_register("dict")
def _dict(*pairs: object) -> dict[str, object]:
    padded = [*pairs, ""] if len(pairs) % 2 else list(pairs)
    return {_strval(padded[i]): padded[i + 1] for i in range(0, len(padded), 2)}


def _mapping(value: object) -> Mapping[str, object]:
    if not isinstance(value, Mapping):
        raise FunctionError(f"wrong type for value; expected map[string]interface {{}}; got {_got(value)}")
    return value


@_register("get")
def _get(mapping: object, key: object) -> object:
    return _mapping(mapping).get(_string(key), "")


@_register("hasKey")
def _has_key(mapping: object, key: object) -> bool:
    return _string(key) in _mapping(mapping)


@_register("keys")
def _keys(*mappings: object) -> list[str]:
    return [key for mapping in mappings for key in _mapping(mapping)]


def _items(value: object) -> list[object]:
    if not is_list(value):
        raise FunctionError(f"Cannot find first on type {type_name(value)}")
    return list(value)


@_register("first")
def _first(values: object) -> object:
    items = _items(values)
    return items[0] if items else MISSING


@_register("last")
def _last(values: object) -> object:
    items = _items(values)
    return items[-1] if items else MISSING


_register("int", "int64")(_to_int)


@_register("add")
def _add(*values: object) -> int:
    return sum(_to_int(value) for value in values)


@_register("add1")
def _add1(value: object) -> int:
    return _to_int(value) + 1


@_register("sub")
def _sub(first: object, second: object) -> int:
    return _to_int(first) - _to_int(second)


@_register("mul")
def _mul(first: object, *others: object) -> int:
    product = _to_int(first)
    for other in others:
        product *= _to_int(other)
    return product


def _go_division(first: object, second: object) -> tuple[int, int]:
    dividend, divisor = _to_int(first), _to_int(second)
    if divisor == 0:
        raise FunctionError("runtime error: integer divide by zero")
    quotient = abs(dividend) // abs(divisor) * (1 if (dividend >= 0) == (divisor > 0) else -1)
    return quotient, dividend - quotient * divisor


@_register("div")
def _div(first: object, second: object) -> int:
    return _go_division(first, second)[0]


@_register("mod")
def _mod(first: object, second: object) -> int:
    return _go_division(first, second)[1]


# sprig's other functions: known to the parser, as in Compass, refused when executed.
_UNSUPPORTED_SPRIG = (  # noqa: SIM905 - sprig's names, as its function map lists them
    "hello ago date date_in_zone date_modify dateInZone dateModify duration durationRound htmlDate htmlDateInZone "
    "must_date_modify mustDateModify mustToDate now toDate unixEpoch abbrev abbrevboth trunc title untitle trimall "
    "initials randAlphaNum randAlpha randAscii randNumeric randSeededNumeric swapcase shuffle snakecase camelcase "
    "kebabcase wrap wrapWith plural sha1sum sha256sum adler32sum float64 seq toDecimal split splitn toStrings until "
    "untilStep randInt add1f addf subf divf mulf biggest max min maxf minf ceil floor round sortAlpha all any "
    "compact mustCompact mustFromJson mustToJson mustToPrettyJson mustToRawJson deepCopy mustDeepCopy typeOf typeIs "
    "typeIsLike kindOf kindIs deepEqual env expandenv getHostByName base dir clean ext isAbs osBase osClean osDir "
    "osExt osIsAbs b32enc b32dec tuple set unset pluck pick omit merge mergeOverwrite mustMerge mustMergeOverwrite "
    "values append push mustAppend mustPush prepend mustPrepend mustFirst rest mustRest mustLast initial mustInitial "
    "reverse mustReverse uniq mustUniq without mustWithout has mustHas mustSlice concat dig chunk mustChunk bcrypt "
    "htpasswd genPrivateKey derivePassword buildCustomCert genCA genCAWithKey genSelfSignedCert "
    "genSelfSignedCertWithKey genSignedCert genSignedCertWithKey encryptAES decryptAES randBytes uuidv4 semver "
    "semverCompare fail regexMatch mustRegexMatch regexFindAll mustRegexFindAll regexFind mustRegexFind "
    "regexReplaceAll mustRegexReplaceAll regexReplaceAllLiteral mustRegexReplaceAllLiteral regexSplit mustRegexSplit "
    "regexQuoteMeta urlParse urlJoin"
).split()


def _unsupported(name: str) -> Function:
    def refuse(*_arguments: object) -> object:
        raise FunctionError(f"sprig's {name} is not supported by pycompass")

    return Function(refuse, 0, None)


for _name in _UNSUPPORTED_SPRIG:
    FUNCTIONS.setdefault(_name, _unsupported(_name))

NAMES: frozenset[str] = frozenset(FUNCTIONS) | AND_OR
