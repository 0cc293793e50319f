"""How the runtime-side commands' settings are read: each setting named by its environment variable, from the
environment or a directory with one file per value (the command's ``*_CONFIG_DIR``). Only this module and its
subclasses' modules read ``os.environ``."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, ClassVar, Self

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

# The agent's default state directory (relative to the working directory), as agent.settings has it.
DEFAULT_AGENT_STATE_DIR = Path(".compass-agent")


def setting(default: Any, name: str, description: str, **constraints: Any) -> Any:
    """A field read from the variable ``name`` only (not from the attribute's name)."""
    return Field(default, validation_alias=AliasChoices(name), description=description, **constraints)


def agent_state_dir_setting(description: str) -> Any:
    """``AGENT_STATE_DIR`` under the agent's own name and default, for a command that reads the agent's files (its
    certificate, ``management-plane.json``): configured alike, both find the same ones."""
    return setting(DEFAULT_AGENT_STATE_DIR, "AGENT_STATE_DIR", description)


def beside(directory_field: str, name: str, variable: str, description: str) -> Any:
    """A directory setting read from ``variable`` whose default is ``<directory_field>/<name>`` (a factory runs
    only when the fields declared before it are valid, ``directory_field`` among them)."""
    return Field(
        default_factory=lambda values: values[directory_field] / name,
        validation_alias=AliasChoices(variable),
        description=description,
    )


class DataplaneSettings(BaseSettings):
    """Base of a command's settings; a subclass names the variable of its configuration directory."""

    model_config = SettingsConfigDict(
        case_sensitive=False, extra="ignore", validate_by_name=True, validate_by_alias=True
    )

    config_dir_variable: ClassVar[str]

    @classmethod
    def load(cls, config_dir: Path | None = None, **overrides: Any) -> Self:
        """``config_dir`` wins over the variable ``config_dir_variable``; ``overrides`` over both."""
        directory = config_dir or cls._config_dir_from_environment()
        return cls(_secrets_dir=directory, **overrides)

    @classmethod
    def _config_dir_from_environment(cls) -> Path | None:
        value = os.environ.get(cls.config_dir_variable, "").strip()
        return Path(value) if value else None
