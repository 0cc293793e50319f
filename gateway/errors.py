"""Errors the gateway answers itself, as Kyma's gateway does: ``{"code": N, "error": "..."}``."""

from __future__ import annotations

import json

CONTENT_TYPE = b"application/json;charset=UTF-8"


class GatewayError(Exception):
    """A refusal or failure with the HTTP status the caller gets and a message that is safe to show."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message

    def body(self) -> bytes:
        return (json.dumps({"code": self.status, "error": self.message}) + "\n").encode("utf-8")
