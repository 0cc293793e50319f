"""The bundle instance auth domain's own inputs and status conditions."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from director.bundle.inputs import AuthInput


class BundleInstanceAuthStatusCondition(Enum):
    PENDING = "PENDING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    UNUSED = "UNUSED"


class BundleInstanceAuthSetStatusCondition(Enum):
    """What an application may report about the credentials it set."""

    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"


@dataclass(frozen=True)
class BundleInstanceAuthRequestInput:
    """``context`` and ``input_params`` are JSON text; ``input_params`` is checked against the bundle's schema."""

    id: str | None = None
    context: str | None = None
    input_params: str | None = None


@dataclass(frozen=True, kw_only=True)
class BundleInstanceAuthStatusInput:
    condition: BundleInstanceAuthSetStatusCondition = BundleInstanceAuthSetStatusCondition.SUCCEEDED
    message: str
    reason: str


@dataclass(frozen=True)
class BundleInstanceAuthSetInput:
    """Credentials an application sets for a request; FAILED carries no auth."""

    auth: AuthInput | None = None
    status: BundleInstanceAuthStatusInput | None = None


@dataclass(frozen=True, kw_only=True)
class BundleInstanceAuthCreateInput:
    """Credentials the caller sets itself for one consumer: exactly one of ``runtime_id``, ``runtime_context_id``."""

    auth: AuthInput
    context: str | None = None
    input_params: str | None = None
    runtime_id: str | None = None
    runtime_context_id: str | None = None


@dataclass(frozen=True)
class BundleInstanceAuthUpdateInput:
    """What is given replaces what is stored; the status stays."""

    context: str | None = None
    input_params: str | None = None
    auth: AuthInput | None = None
