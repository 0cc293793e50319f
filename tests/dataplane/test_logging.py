"""The runtime side's logs (agent, gateway, event ingress): what they must never carry."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
import structlog

from dataplane.logging import configure_logging

SECRET = "agent-held-client-secret-that-must-stay-out-of-logs"


@pytest.fixture
def restored_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield None
    root.handlers, root.level = handlers, level
    structlog.reset_defaults()


@pytest.mark.parametrize("json", [True, False], ids=["json", "console"])
def test_a_logged_exception_does_not_show_the_secrets_in_its_frames(
    json: bool, restored_logging: None, capsys: pytest.CaptureFixture[str]
) -> None:
    configure_logging(level="info", json=json)

    def fetch(client_secret: str) -> None:
        raise RuntimeError("the token endpoint refused the client")

    try:
        fetch(SECRET)
    except RuntimeError:
        structlog.get_logger("dataplane.test").exception("credential_fetch_failed")

    logged = capsys.readouterr().err
    assert "credential_fetch_failed" in logged and "the token endpoint refused the client" in logged
    assert SECRET not in logged
