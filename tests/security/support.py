"""What the security suite shares: the proxy address its server trusts, and the access matrix the tests fill in
(printed at the end of the run by conftest.py)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

TRUSTED_PROXY = "127.0.0.1"
UNTRUSTED_ADDRESS = "127.0.0.2"
SERVER_SETTINGS: dict[str, Any] = {"redemptions_per_second": 10_000, "trusted_proxies": [TRUSTED_PROXY]}


@dataclass(frozen=True)
class Cell:
    """What one attack on one operation got: refused (how), or not."""

    refused: bool
    outcome: str


MATRIX: dict[str, dict[tuple[str, str], Cell]] = {}
"""backend → (operation, case) → cell; filled by test_access_matrix.py, printed by pytest_terminal_summary."""


def record(backend: str, operation: str, case: str, cell: Cell) -> None:
    MATRIX.setdefault(backend, {})[(operation, case)] = cell


def table(cells: dict[tuple[str, str], Cell]) -> list[str]:
    operations = list(dict.fromkeys(operation for operation, _ in cells))
    cases = list(dict.fromkeys(case for _, case in cells))
    widths = [
        max(
            len(case),
            *(
                len(cells[(operation, case)].outcome)
                for operation in operations
                if (operation, case) in cells
            ),
        )
        for case in cases
    ]
    first = max(len(operation) for operation in operations)
    lines = [
        " | ".join([" " * first, *(case.ljust(width) for case, width in zip(cases, widths, strict=True))])
    ]
    lines.append("-+-".join(["-" * first, *("-" * width for width in widths)]))
    for operation in operations:
        row = [
            cells[(operation, case)].outcome if (operation, case) in cells else "(not run)" for case in cases
        ]
        lines.append(
            " | ".join(
                [
                    operation.ljust(first),
                    *(text.ljust(width) for text, width in zip(row, widths, strict=True)),
                ]
            )
        )
    refused = sum(cell.refused for cell in cells.values())
    lines.append(f"{len(operations)} operations x {len(cases)} cases = {len(cells)} cells, {refused} refused")
    return lines
