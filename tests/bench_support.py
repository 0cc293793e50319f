"""What the benches' smoke tests share: a bench run as its command line, and a section of what it printed."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def bench_output(script: str, *arguments: str) -> str:
    """What `python <script> <arguments>` prints, run from the repository's root; it must exit 0."""
    completed = subprocess.run(
        [sys.executable, script, *arguments],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    return completed.stdout


def section(output: str, header: str) -> list[str]:
    """The lines under ``header`` up to the next blank line."""
    lines = output.splitlines()
    start = lines.index(header) + 1
    end = next((index for index in range(start, len(lines)) if not lines[index].strip()), len(lines))
    return lines[start:end]
