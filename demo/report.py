"""What the demo prints: each step, what it did, and what it proved; a summary at the end."""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from typing import TextIO

INDENT = "   "
WIDTH = 36


def compact(value: object, limit: int = 160) -> str:
    """A JSON value on one line, cut at ``limit`` characters."""
    text = json.dumps(value, separators=(", ", ": "))
    return text if len(text) <= limit else text[: limit - 1] + "…"


@dataclass
class Report:
    """Steps are numbered as they begin; each keeps its proofs for the summary."""

    out: TextIO = sys.stdout
    total: int = 5
    steps: list[str] = field(default_factory=list)
    proofs: dict[str, list[str]] = field(default_factory=dict)

    def _line(self, text: str = "") -> None:
        print(text, file=self.out, flush=True)

    def title(self, text: str) -> None:
        self._line(text)

    def step(self, title: str) -> None:
        self.steps.append(title)
        self.proofs[title] = []
        self._line()
        self._line(f"== {len(self.steps)}/{self.total} {title}")

    def ran(self, command: str, outcome: str) -> None:
        """A command the demo ran, as a user would type it, and what it gave."""
        self._line(f"{INDENT}$ {command:<{WIDTH - 2}} -> {outcome}")

    def did(self, action: str, outcome: str) -> None:
        """A call the demo made as the operator, the application, a workload or the subscriber."""
        self._line(f"{INDENT}{action:<{WIDTH}} -> {outcome}")

    def proved(self, claim: str) -> None:
        self.proofs[self.steps[-1]].append(claim)
        self._line(f"{INDENT}proved: {claim}")

    def failed(self, message: str) -> None:
        where = f"step {len(self.steps)} ({self.steps[-1]})" if self.steps else "the start"
        self._line()
        self._line(f"FAILED in {where}: {message}")

    def interrupted(self, signal_name: str) -> None:
        self._line()
        self._line(f"interrupted by {signal_name}: stopping everything")

    def summary(self, closing: str) -> None:
        proved = self.steps[:]
        self.step("Summary: every step proved what it claims")
        for number, title in enumerate(proved, start=1):
            count = len(self.proofs[title])
            self._line(f"{INDENT}ok {number} {title} ({count} {'proof' if count == 1 else 'proofs'})")
        self._line(f"{INDENT}{closing}")
