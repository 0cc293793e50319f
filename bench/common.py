"""What the benches share: the server's paths, an operator's GraphQL over HTTP, and their command lines.

Only the standard library at import time: the fleet's load clients import it and stay free of the server's
packages (and of httpx: the fleet's clients speak HTTP by hand).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import httpx

ROOT = Path(__file__).resolve().parent.parent
DIRECTOR_PATH = "/director/graphql"
CONNECTOR_PATH = "/connector/graphql"
JSON_CONTENT = {"Content-Type": "application/json; charset=utf-8"}


def log(message: str) -> None:
    """Progress on stderr, so that stdout holds the figures alone."""
    print(f"[bench] {message}", file=sys.stderr, flush=True)


def percentile(values: list[float], fraction: float) -> float:
    """The value below which ``fraction`` of ``values`` lie (nearest rank); NaN for none."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


async def graphql(
    client: httpx.AsyncClient, url: str, document: str, headers: dict[str, str], variables: Any = None
) -> dict[str, Any]:
    """The ``data`` of the answer to ``document``; anything but a 200 without errors raises."""
    body = json.dumps({"query": document, "variables": variables}).encode()
    response = await client.post(url, content=body, headers={**JSON_CONTENT, **headers})
    answer = response.json()
    if response.status_code != 200 or answer.get("errors"):
        raise RuntimeError(f"{url} refused {document[:60]!r}: {response.status_code} {answer.get('errors')}")
    return dict(answer["data"])


async def graphql_result(
    client: httpx.AsyncClient, url: str, document: str, headers: dict[str, str], variables: Any = None
) -> dict[str, Any]:
    """The field a document names ``result:`` (as Compass's clients alias their one field)."""
    return dict((await graphql(client, url, document, headers, variables))["result"])


# Command lines ----------------------------------------------------------------------------------------------


def parser(description: str | None, *, sizes: str | None = None) -> argparse.ArgumentParser:
    """A bench's parser with ``--backends`` and, given its default, ``--sizes`` (cumulative numbers of
    applications); ``parse`` reads both into lists."""
    from testing.databases import BACKENDS, POSTGRES_URL_VARIABLE

    formatter = argparse.RawDescriptionHelpFormatter
    arguments = argparse.ArgumentParser(description=description, formatter_class=formatter)
    if sizes is not None:
        arguments.add_argument("--sizes", default=sizes, help=f"numbers of applications (default {sizes})")
    backends = f"sqlite and/or postgresql (needs {POSTGRES_URL_VARIABLE})"
    arguments.add_argument("--backends", default=",".join(BACKENDS), help=backends)
    return arguments


def _listed(text: str) -> list[str]:
    return [item.strip() for item in text.split(",") if item.strip()]


def parse(arguments: argparse.ArgumentParser, argv: list[str] | None) -> argparse.Namespace:
    """The options, ``backends`` and ``sizes`` (ascending: seeding is cumulative) as lists."""
    from testing.databases import BACKENDS

    options = arguments.parse_args(argv)
    options.backends = _listed(options.backends)
    if unknown := set(options.backends) - set(BACKENDS):
        arguments.error(f"unknown backends {sorted(unknown)}; use sqlite and/or postgresql")
    if "sizes" in options:
        try:
            options.sizes = sorted({int(size) for size in _listed(options.sizes)})
        except ValueError:
            arguments.error("--sizes takes whole numbers, comma separated")
        if not options.sizes or options.sizes[0] < 1:
            arguments.error("--sizes must be positive numbers")
    return options
