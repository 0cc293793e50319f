"""One log format for everything: structlog events and stdlib records (uvicorn, sqlalchemy, alembic).

Event names are snake_case (``http_request``, ``db_migrated``); context goes in key/value pairs, never
interpolated into the event, so the JSON lines stay queryable.
"""

from __future__ import annotations

import logging
import sys
from typing import Final

import structlog
from structlog.typing import Processor

#: Third-party loggers that install their own handlers; we strip those and let records propagate to root
#: so they are rendered by our single handler instead of in their own format.
_ROUTED_LOGGERS: Final[tuple[str, ...]] = (
    "uvicorn",
    "uvicorn.error",
    "uvicorn.access",
    "sqlalchemy",
    "alembic",
)

#: Marks the handler we install, so a second call replaces it instead of duplicating output.
_HANDLER_MARKER: Final = "_compass_observability_handler"


def _parse_level(level: str) -> int:
    """Map ``"info"``/``"DEBUG"`` to a stdlib level; a typo fails loudly instead of logging nothing."""
    mapping = logging.getLevelNamesMapping()
    try:
        return mapping[level.upper()]
    except KeyError:
        raise ValueError(f"unknown log level {level!r}") from None


def _shared_processors() -> list[Processor]:
    """Processors run for both structlog and foreign (stdlib) records, so both carry the same keys."""
    return [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_logger_name,
        structlog.stdlib.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.StackInfoRenderer(),
    ]


def configure_logging(*, level: str = "info", json: bool = True) -> None:
    """Route structlog and stdlib logging through one ``ProcessorFormatter`` on the root logger.

    Safe to call more than once (e.g. by the CLI and again by an app factory): the previous handler
    installed here is replaced, never stacked. Loggers are not cached on first use, so a later call
    with a different level or renderer applies to module-level ``structlog.get_logger()`` proxies too.
    """
    numeric_level = _parse_level(level)
    shared = _shared_processors()

    renderer: Processor
    final: list[Processor]
    if json:
        # Tracebacks must become a string (or dict) before JSON rendering; the console renderer
        # formats exc_info itself and warns if format_exc_info ran first.
        renderer = structlog.processors.JSONRenderer()
        final = [structlog.processors.format_exc_info, renderer]
    else:
        # With rich installed (typer brings it) tracebacks would show every frame's local variables:
        # passwords and client secrets on their way to the database among them.
        renderer = structlog.dev.ConsoleRenderer(
            exception_formatter=structlog.dev.RichTracebackFormatter(show_locals=False)
        )
        final = [renderer]

    structlog.configure(
        processors=[
            structlog.stdlib.filter_by_level,
            *shared,
            structlog.stdlib.PositionalArgumentsFormatter(),
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=False,
    )

    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, *final],
    )
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(formatter)
    setattr(handler, _HANDLER_MARKER, True)

    root = logging.getLogger()
    for existing in list(root.handlers):
        if getattr(existing, _HANDLER_MARKER, False):
            root.removeHandler(existing)
    root.addHandler(handler)
    root.setLevel(numeric_level)

    for name in _ROUTED_LOGGERS:
        routed = logging.getLogger(name)
        routed.handlers.clear()
        routed.propagate = True
