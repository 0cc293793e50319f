"""Go's view of the Python values a template renders: truth, type names, and fmt's printing (%v and printf's verbs).

Data is plain Python: ``dict`` is a Go ``map[string]interface{}`` (Compass's structs become dicts keyed by their Go
field names), ``list``/``tuple`` a slice, ``str``/``int``/``float``/``bool`` the Go kinds, ``None`` a nil pointer
(Compass's unset ``*string`` fields, which Go prints as ``<nil>``). ``MISSING`` is Go's "no value": what a key absent
from a map yields under ``missingkey=zero`` (a nil interface), printed as ``<no value>`` by an action.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any, Final, TypeGuard


class _Missing:
    """Go's invalid reflect.Value / nil interface: the value of a missing map key. There is one, compared by ``is``."""

    def __repr__(self) -> str:
        return "<no value>"


MISSING: Final = _Missing()


class StringMap(dict[str, str]):
    """A Go ``map[string]string`` (Compass's ``Labels``): a missing key is ``""``, not ``<no value>``."""


def is_list(value: object) -> TypeGuard[list[Any] | tuple[Any, ...]]:
    return isinstance(value, list | tuple)


def truth(value: object) -> bool:
    """Go's template truth: false is the zero value (false, 0, "", nil, an empty slice or map)."""
    if value is MISSING or value is None:
        return False
    if isinstance(value, bool | int | float | str):
        return bool(value)
    if isinstance(value, Mapping | list | tuple):
        return len(value) > 0
    return True


_TYPE_NAMES: tuple[tuple[type | tuple[type, ...], str], ...] = (
    (bool, "bool"),
    (int, "int"),
    (float, "float64"),
    (str, "string"),
    (Mapping, "map[string]interface {}"),
    ((list, tuple), "[]interface {}"),
)


def type_name(value: object) -> str:
    """The Go type Compass's value would have: how Go's errors and %T name it."""
    if value is None:
        return "*interface {}"
    if value is MISSING:
        return "<nil>"
    return next((name for kind, name in _TYPE_NAMES if isinstance(value, kind)), type(value).__name__)


# --- numbers ----------------------------------------------------------------------------------------------------


# %v writes a float in fixed form for decimal exponents in [-4, 6); encoding/json for magnitudes in [1e-6, 1e21).
_FIXED_EXPONENTS = (-4, 6)
_JSON_FIXED = (1e-6, 1e21)
_ASCII = 0x80
_BMP = 0x10000


def _shortest(number: float) -> tuple[str, int]:
    """The shortest digits that read back as ``number`` (as Go's strconv finds them) and the decimal point's place."""
    _, digits, exponent = Decimal(repr(abs(number))).as_tuple()
    text = "".join(map(str, digits)).rstrip("0") or "0"
    point = len(digits) + int(exponent)
    return text, point


def _exponent_form(digits: str, point: int, separator: str = "e") -> str:
    mantissa = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
    exponent = point - 1
    return f"{mantissa}{separator}{'-' if exponent < 0 else '+'}{abs(exponent):02d}"


def _fixed_form(digits: str, point: int) -> str:
    if point <= 0:
        return "0." + "0" * -point + digits
    if point >= len(digits):
        return digits + "0" * (point - len(digits))
    return digits[:point] + "." + digits[point:]


def _special(number: float) -> str | None:
    if math.isnan(number):
        return "NaN"
    if math.isinf(number):
        return "+Inf" if number > 0 else "-Inf"
    if number == 0:
        return "-0" if math.copysign(1, number) < 0 else "0"
    return None


def format_float(number: float) -> str:
    """Go's %v of a float64: the shortest digits that read back, in exponent form below 1e-4 and from 1e+06 up."""
    if (special := _special(number)) is not None:
        return special
    digits, point = _shortest(number)
    sign = "-" if number < 0 else ""
    if not _FIXED_EXPONENTS[0] <= point - 1 < _FIXED_EXPONENTS[1]:
        return sign + _exponent_form(digits, point)
    return sign + _fixed_form(digits, point)


def json_float(number: float) -> str:
    """encoding/json's float64: fixed form from 1e-6 up to 1e21, exponent form (``1e-07``→``1e-7``) outside it."""
    if math.isnan(number) or math.isinf(number):
        raise ValueError(f"json: unsupported value: {format_float(number)}")
    if number == 0:
        return "0" if math.copysign(1, number) > 0 else "-0"
    digits, point = _shortest(number)
    sign = "-" if number < 0 else ""
    if _JSON_FIXED[0] <= abs(number) < _JSON_FIXED[1]:
        return sign + _fixed_form(digits, point)
    return sign + re.sub(r"e([+-])0(\d)$", r"e\1\2", _exponent_form(digits, point))


# --- printing ---------------------------------------------------------------------------------------------------


# Execution writes at most this many characters (execute.py), and no function makes a longer string.
MAX_OUTPUT = 4 * 1024 * 1024
# Go's fmt refuses widths and precisions larger than this (tooLarge).
_MAX_WIDTH = 1_000_000


class OutputTooLarge(Exception):
    """A string longer than ``MAX_OUTPUT`` would be made: refused before it is."""

    def __init__(self) -> None:
        super().__init__(f"result longer than {MAX_OUTPUT} characters")


def bounded(length: int) -> int:
    """``length``, or OutputTooLarge past ``MAX_OUTPUT``."""
    if length > MAX_OUTPUT:
        raise OutputTooLarge
    return length


def _least_length(value: object, seen: dict[int, int]) -> int:
    """A lower bound of the length %v or JSON writes ``value`` in, shared containers counted once per use but
    measured once (a list of itself doubled 40 times is refused at once, not written)."""
    if isinstance(value, str):
        return len(value)
    if not isinstance(value, Mapping) and not is_list(value):
        return 1
    if (known := seen.get(id(value))) is not None:
        return known
    items = [item for pair in value.items() for item in pair] if isinstance(value, Mapping) else list(value)
    total = 2
    for item in items:
        total = bounded(total + 1 + _least_length(item, seen))
    seen[id(value)] = total
    return total


def check_length(value: object) -> None:
    """OutputTooLarge if printing ``value`` would write more than ``MAX_OUTPUT`` characters."""
    if isinstance(value, Mapping) or is_list(value):
        _least_length(value, {})


def go_string(value: object) -> str:
    """fmt's %v (Sprint) of a value: maps as ``map[k:v]`` sorted by key, slices as ``[a b]``, nil as ``<nil>``."""
    check_length(value)
    return _go_string(value)


def _go_string(value: object) -> str:  # noqa: PLR0911 - one form per kind of value
    if value is None or value is MISSING:
        return "<nil>"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return format_float(value)
    if isinstance(value, str | int):
        return str(value)
    if isinstance(value, Mapping):
        pairs = sorted(value.items(), key=lambda item: _sort_key(item[0]))
        return "map[" + " ".join(f"{_go_string(k)}:{_go_string(v)}" for k, v in pairs) + "]"
    if is_list(value):
        return "[" + " ".join(_go_string(item) for item in value) + "]"
    return str(value)


def _sort_key(key: object) -> tuple[int, Any]:
    if isinstance(key, int | float) and not isinstance(key, bool):
        return (0, key)
    return (1, go_string(key))


def sprint(arguments: Sequence[object]) -> str:
    """fmt.Sprint: a space between operands when neither side is a string."""
    out: list[str] = []
    written = 0
    for index, argument in enumerate(arguments):
        if index and not isinstance(argument, str) and not isinstance(arguments[index - 1], str):
            out.append(" ")
        out.append(go_string(argument))
        written = bounded(written + len(out[-1]) + 1)
    return "".join(out)


def go_quote(text: str) -> str:
    """strconv.Quote: Go's escapes, printable characters kept."""
    out = ['"']
    for character in text:
        code = ord(character)
        if character in {'"', "\\"}:
            out.append("\\" + character)
        elif character in _CONTROL_ESCAPES:
            out.append(_CONTROL_ESCAPES[character])
        elif character.isprintable() or character == " ":
            out.append(character)
        elif code < _ASCII:
            out.append(f"\\x{code:02x}")
        elif code < _BMP:
            out.append(f"\\u{code:04x}")
        else:
            out.append(f"\\U{code:08x}")
    out.append('"')
    return "".join(out)


_CONTROL_ESCAPES = {"\a": "\\a", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t", "\v": "\\v"}


def go_json(value: object, *, escape_html: bool, indent: str = "", depth: int = 0) -> str:  # noqa: PLR0911 - one per JSON kind
    """encoding/json's Marshal (MarshalIndent with ``indent``): keys sorted, floats as Go writes them, <>& escaped
    unless told not to; ValueError for what JSON cannot hold."""
    if depth == 0:
        check_length(value)
    if value is None or value is MISSING:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return json_float(value)
    if isinstance(value, str):
        text = json.dumps(value, ensure_ascii=False).replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")
        if escape_html:
            text = text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
        return text
    if isinstance(value, Mapping):
        items = [(go_json(_key_text(k), escape_html=escape_html), v) for k, v in sorted(value.items(), key=lambda kv: _key_text(kv[0]))]
        parts = [f"{k}:{' ' if indent else ''}{go_json(v, escape_html=escape_html, indent=indent, depth=depth + 1)}" for k, v in items]
        return _enclose("{", parts, "}", indent, depth)
    if is_list(value):
        parts = [go_json(v, escape_html=escape_html, indent=indent, depth=depth + 1) for v in value]
        return _enclose("[", parts, "]", indent, depth)
    raise ValueError(f"json: unsupported type: {type_name(value)}")


def _enclose(opening: str, parts: list[str], closing: str, indent: str, depth: int) -> str:
    if not indent or not parts:
        return opening + ",".join(parts) + closing
    inner = "\n" + indent * (depth + 1)
    return opening + inner + ("," + inner).join(parts) + "\n" + indent * depth + closing


def _key_text(value: object) -> str:
    return value if isinstance(value, str) else go_string(value)


# --- printf -----------------------------------------------------------------------------------------------------

_DIRECTIVE = re.compile(r"%([-+# 0]*)(?:\[(\d+)\])?(\d+|\*)?(?:\.(\*|\d*))?(?:\[(\d+)\])?(.?)", re.DOTALL)


def _bad(verb: str, value: object) -> str:
    if value is None or value is MISSING:
        return f"%!{verb}(<nil>)"
    return f"%!{verb}({type_name(value)}={go_string(value)})"


def _pad(text: str, flags: str, width: int | None, *, numeric: bool) -> str:
    if width is None or len(text) >= width:
        return text
    bounded(width)
    if "-" in flags:
        return text.ljust(width)
    if "0" in flags and numeric:
        sign = text[0] if text[:1] in {"-", "+"} else ""
        return sign + text[len(sign) :].rjust(width - len(sign), "0")
    return text.rjust(width)


def _integer(verb: str, value: int, flags: str) -> str:
    sign = "-" if value < 0 else "+" if "+" in flags else " " if " " in flags else ""
    magnitude = abs(value)
    if verb == "d":
        return sign + str(magnitude)
    if verb in {"x", "X"}:
        body = format(magnitude, verb)
        return sign + ("0" + verb if "#" in flags else "") + body
    if verb == "o":
        return sign + ("0" if "#" in flags else "") + format(magnitude, "o")
    if verb == "b":
        return sign + format(magnitude, "b")
    if verb == "c":
        return chr(value)
    return "'" + go_quote(chr(value))[1:-1].replace("'", "\\'") + "'"  # verb q


def _float(verb: str, value: float, flags: str, precision: int | None) -> str:
    sign = "+" if "+" in flags and value >= 0 else " " if " " in flags and value >= 0 else ""
    if (special := _special(value)) is not None and special not in {"0", "-0"}:
        return sign + special if special[0] not in "+-" else special
    if verb in {"g", "G"} and precision is None:
        text = format_float(value)
        return sign + (text.upper() if verb == "G" else text)
    text = format(value, f".{6 if precision is None else precision}{verb}")
    if verb in {"e", "E", "g", "G"}:
        text = re.sub(r"([eE][+-])(\d)$", r"\g<1>0\2", text)
    return sign + text


def _text(verb: str, value: object, flags: str, precision: int | None) -> str | None:
    if verb == "s":
        text = go_string(value)
        return text if precision is None else text[:precision]
    if verb == "q":
        return go_quote(value) if isinstance(value, str) else None
    if verb in {"x", "X"}:
        encoded = value.encode().hex() if isinstance(value, str) else None
        return None if encoded is None else (encoded.upper() if verb == "X" else encoded)
    del flags
    return None


def _format_one(verb: str, value: object, flags: str, precision: int | None) -> str:  # noqa: PLR0911 - one per kind
    if verb == "v":
        return go_string(value)
    if verb == "T":
        return type_name(value) if value is not MISSING and value is not None else "<nil>"
    if is_list(value) and verb in "sdqxXfeEgGtc":
        return "[" + " ".join(_format_one(verb, item, flags, precision) for item in value) + "]"
    if isinstance(value, bool):
        return ("true" if value else "false") if verb == "t" else _bad(verb, value)
    if isinstance(value, int) and verb in "dxXobcq":
        return _integer(verb, value, flags)
    if isinstance(value, float) and verb in "eEfFgG":
        return _float(verb, value, flags, precision)
    if isinstance(value, str) and (text := _text(verb, value, flags, precision)) is not None:
        return text
    if verb == "s" and isinstance(value, Mapping):
        return go_string(value)
    return _bad(verb, value)


def sprintf(template: str, arguments: Sequence[object]) -> str:
    """fmt.Sprintf for the verbs templates use (%v %s %d %q %t %f %e %g %x %c %T %%), with explicit argument
    indexes (``%[2]s``) and Go's error forms."""
    out: list[str] = []
    position = 0
    used = 0
    written = 0
    reordered = False
    while (percent := template.find("%", position)) != -1:
        out.append(template[position:percent])
        directive = _DIRECTIVE.match(template, percent)
        assert directive is not None  # noqa: S101 - every group is optional
        flags, early_index, width, precision, index, verb = directive.groups()
        position = directive.end()
        if _overflows(width) or _overflows(precision):
            # Go's parsenum gives up on the rest of the format at a number this long.
            out.append("%!(NOVERB)")
            position = len(template)
            break
        chosen = index or early_index
        if chosen is not None:
            reordered, used = True, int(chosen) - 1
            if not 0 <= used < len(arguments):
                out.append(f"%!{verb}(BADINDEX)")
                continue
        text, used = _directive(verb, flags, width, precision, arguments=arguments, used=used)
        out.append(text)
        written = bounded(written + len(text))
    out.append(template[position:])
    if not reordered and used < len(arguments):
        extra = ", ".join(
            "<nil>" if value is None or value is MISSING else f"{type_name(value)}={go_string(value)}"
            for value in arguments[used:]
        )
        out.append(f"%!(EXTRA {extra})")
    return "".join(out)


def _directive(
    verb: str, flags: str, width: str | None, precision: str | None, *, arguments: Sequence[object], used: int
) -> tuple[str, int]:
    """One directive's text, and the index of the argument the next one takes."""
    refused = ""
    size: int | None = int(width) if width and width != "*" else None
    if width == "*":
        size, used = _from_argument(arguments, used)
        if size is None:
            refused += "%!(BADWIDTH)"
        elif size < 0:
            size, flags = -size, flags.replace("0", "") + "-"
    places: int | None = int(precision or 0) if precision is not None and precision != "*" else None
    if precision == "*":
        places, used = _from_argument(arguments, used)
        if places is None or places < 0:
            places = None
            refused += "%!(BADPREC)"
    if verb == "%":
        return refused + "%", used
    if not verb:
        return refused + "%!(NOVERB)", used
    if used >= len(arguments):
        return f"{refused}%!{verb}(MISSING)", used
    value = arguments[used]
    text = _format_one(verb, value, flags, places)
    numeric = isinstance(value, int | float) and not isinstance(value, bool)
    return refused + _pad(text, flags, size, numeric=numeric), used + 1


def _overflows(number: str | None) -> bool:
    """Go's parsenum: a literal width or precision overflows once it passes ``_MAX_WIDTH`` with digits left."""
    if number is None or number == "*":
        return False
    value = 0
    for digit in number:
        if value > _MAX_WIDTH:
            return True
        value = value * 10 + int(digit)
    return False


def _from_argument(arguments: Sequence[object], used: int) -> tuple[int | None, int]:
    """Go's intFromArg: a ``*`` width or precision from the next argument; None if it is not an int or is too
    large."""
    if used >= len(arguments):
        return None, used
    value = arguments[used]
    if not isinstance(value, int) or isinstance(value, bool) or abs(value) > _MAX_WIDTH:
        return None, used + 1
    return value, used + 1
