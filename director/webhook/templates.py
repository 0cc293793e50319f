"""Webhook templates are Go ``text/template`` documents, which Compass parses when a webhook is written and executes
when it calls one. ``check_template`` refuses what Go's parser refuses, with Compass's function map (sprig's
functions and Compass's own; an unknown one is ``function "x" not defined``); ``render`` and ``render_json`` execute
a template as Compass does; ``response_data`` is what Compass gives output and status templates. The engine is
director.webhook.gotemplate.
"""

from __future__ import annotations

import json
from collections.abc import Iterable

from director.webhook.gotemplate import MISSING, StringMap, TemplateError, check, render, render_json
from director.webhook.gotemplate.values import go_json, go_quote

__all__ = ["MISSING", "StringMap", "TemplateError", "check_template", "render", "render_json", "response_data"]

# The name validation has always called; the engine calls it ``check``.
check_template = check


def _canonical(name: str) -> str:
    """Go's canonical header key (``content-type`` -> ``Content-Type``), as http.Header holds them."""
    if not name or any(not (c.isalnum() or c in "-!#$%&'*+.^_`|~") for c in name):
        return name
    return "-".join(part[:1].upper() + part[1:].lower() for part in name.split("-"))


def response_data(headers: Iterable[tuple[str, str]], body: bytes) -> dict[str, StringMap]:
    """Compass's webhook ResponseObject: ``.Headers`` is each header's first value under its canonical name;
    ``.Body`` the members of the JSON object answered, strings as they are and other values as their JSON text
    escaped to sit inside a JSON string, null members left out (both are ``map[string]string``: a missing key is "").
    TemplateError when a non-empty body is not a JSON object, as Compass refuses it."""
    found = StringMap()
    for name, value in headers:
        found.setdefault(_canonical(name), value)
    members = StringMap()
    if body:
        try:
            document = json.loads(body, parse_int=float)  # Go decodes every JSON number as a float64
        except ValueError as error:
            raise TemplateError(f"failed to unmarshall HTTP response with body: {error}") from None
        if not isinstance(document, dict):
            raise TemplateError("failed to unmarshall HTTP response with body: not a JSON object")
        for key, value in document.items():
            if value is not None:
                members[key] = value if isinstance(value, str) else go_quote(go_json(value, escape_html=True))[1:-1]
    return {"Headers": found, "Body": members}
