"""A bench's load client process: ``python -m bench.load_client MODULE:FUNCTION`` reads its configuration as
a JSON line on stdin, runs ``FUNCTION(configuration)`` (a coroutine function) on uvloop, whose clock and I/O
cost the client least, and writes the result as a JSON line on stdout.

The load runs in a process of its own so that the client's CPU is not counted as the server's, nor the
server's as the client's. ``command`` is what a bench starts.
"""

from __future__ import annotations

import importlib
import json
import sys


def command(function: str) -> list[str]:
    """The command line of a load client running ``function`` ("bench.director:load_process"), to be run in
    the repository's root."""
    return [sys.executable, "-m", "bench.load_client", function]


def main(function: str) -> None:
    import uvloop

    module, _, name = function.partition(":")
    run = getattr(importlib.import_module(module), name)
    config = json.loads(sys.stdin.readline())
    sys.stdout.write(json.dumps(uvloop.run(run(config))) + "\n")


if __name__ == "__main__":
    main(sys.argv[1])
