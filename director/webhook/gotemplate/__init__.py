"""Go's ``text/template`` as Compass runs webhook templates: parsed to a tree, executed with Go's semantics.

Compass executes ``urlTemplate``, ``inputTemplate`` and ``headerTemplate`` against the request object, and
``outputTemplate``/``statusTemplate`` against the response, with sprig's functions and its own
(components/director/pkg/templatehelper), under ``missingkey=zero``, then turns ``"<nil>"`` into ``""`` and a bare
``<nil>`` into ``null`` and parses the result as JSON. ``render`` and ``render_json`` do the same to Python data:
see values.py for how Python values stand for Go's, functions.py for the functions.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from director.webhook.gotemplate.execute import execute
from director.webhook.gotemplate.functions import NAMES
from director.webhook.gotemplate.parse import TemplateError, Tree, parse
from director.webhook.gotemplate.values import MISSING, StringMap

__all__ = ["MISSING", "StringMap", "TemplateError", "check", "render", "render_json"]


@lru_cache(maxsize=256)
def _tree(template: str) -> Tree:
    """Templates are stored per webhook and rendered per notification: each is parsed once."""
    try:
        return parse(template, NAMES)
    except RecursionError:
        raise TemplateError("line 1: template nests too deeply") from None


def check(template: str) -> None:
    """Raises TemplateError if Go's parser, with Compass's functions, would refuse ``template``."""
    _tree(template)


def render(template: str, data: Mapping[str, Any]) -> str:
    """The text Go writes executing ``template`` on ``data``; TemplateError if it does not parse or execute."""
    try:
        return execute(_tree(template), data)
    except RecursionError:
        raise TemplateError("line 1: template nests too deeply") from None


def render_json(template: str, data: Mapping[str, Any]) -> Any:
    """What Compass's ParseTemplate reads: the rendering, nil placeholders replaced, parsed as JSON."""
    text = render(template, data).replace('"<nil>"', '""').replace("<nil>", "null")
    try:
        return json.loads(text)
    except ValueError as error:
        raise TemplateError(f"the rendered template is not valid JSON: {error}") from None
