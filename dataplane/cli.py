"""What every runtime-side command does the same way: ``--version``, failing with an exit code, and reading
its settings (a wrong value is an ``invalid setting NAME: reason`` line and exit 2, never a traceback)."""

from __future__ import annotations

from collections.abc import Callable
from importlib.metadata import version
from typing import NoReturn, Protocol, TypeVar

import typer
from pydantic import ValidationError
from typer.models import OptionInfo

from dataplane.logging import configure_logging


class LoggingSettings(Protocol):
    @property
    def log_level(self) -> str: ...

    @property
    def log_json(self) -> bool: ...


SettingsT = TypeVar("SettingsT", bound=LoggingSettings)


def _version_callback(command: str) -> Callable[[bool], None]:
    """The eager ``--version`` option's callback: prints ``<command> <version>`` and exits 0."""

    def print_version(wanted: bool) -> None:
        if wanted:
            typer.echo(f"{command} {version('pycompass')}")
            raise typer.Exit

    return print_version


def version_option(command: str) -> OptionInfo:
    """``--version``, for ``Annotated[bool, version_option(...)] = False`` on the command's callback."""
    option: OptionInfo = typer.Option(
        "--version", callback=_version_callback(command), is_eager=True, help="Print the version and exit."
    )
    return option


def fail(message: str, code: int = 1) -> NoReturn:
    typer.echo(message, err=True)
    raise typer.Exit(code)


def invalid_settings(error: ValidationError) -> list[str]:
    """One line per refused value, named as the operator set it; without pydantic's links and without the value
    itself (it may be a secret)."""
    return [
        f"invalid setting {'.'.join(str(part) for part in problem['loc']) or 'value'}: {problem['msg']}"
        for problem in error.errors(include_url=False, include_input=False)
    ]


def load_settings(load: Callable[[], SettingsT], *, log_level_variable: str) -> SettingsT:
    """The settings ``load`` reads, with logging configured by them; exits 2 when a value is wrong."""
    try:
        settings = load()
    except ValidationError as error:
        fail("\n".join(invalid_settings(error)), 2)
    try:
        configure_logging(level=settings.log_level, json=settings.log_json)
    except ValueError as error:
        fail(f"invalid setting {log_level_variable}: {error}", 2)
    return settings
