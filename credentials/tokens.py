"""One-time tokens: what they are for, how they are made, and the only form of them that is stored."""

from __future__ import annotations

import hashlib
import secrets
from enum import StrEnum


class TokenType(StrEnum):
    RUNTIME = "Runtime"
    APPLICATION = "Application"
    CSR = "CSR"  # issued by the Connector's `configuration` for the signing call


def new_token() -> str:
    """64 random bytes, URL-safe base64, as Compass's tokens."""
    return secrets.token_urlsafe(64)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
