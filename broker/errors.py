"""The broker's one expected failure: answered with the Open Service Broker API's error body."""

from __future__ import annotations

from dataclasses import dataclass, field

from starlette.responses import JSONResponse


@dataclass
class OSBError(Exception):
    """``code`` is the stable ``error`` field: the spec's own where it names one (``AsyncRequired``,
    ``ConcurrencyError``), else the broker's, in the spec's CamelCase."""

    status: int
    code: str
    description: str
    headers: dict[str, str] = field(default_factory=dict)

    def response(self) -> JSONResponse:
        return JSONResponse(
            {"error": self.code, "description": self.description}, self.status, headers=self.headers
        )
