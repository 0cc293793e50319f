"""The `compass-gateway` command as an operator runs it: a fresh process, settings from GATEWAY_* variables."""

from __future__ import annotations

import subprocess
from importlib.metadata import version
from pathlib import Path

from testing.gateway import GATEWAY
from testing.ports import free_port, loopback_socket
from testing.served import run_command
from tests.fixtures.gateway import StartGateway


def compass_gateway(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return run_command(GATEWAY, *args, **env)


def serve_settings(manifest_dir: Path, **overrides: str) -> dict[str, str]:
    """Free ports for the three listeners and a manifest directory, then ``overrides``."""
    return {
        "GATEWAY_MANIFEST_DIR": str(manifest_dir),
        "GATEWAY_PORT": str(free_port()),
        "GATEWAY_COMPASS_PORT": str(free_port()),
        "GATEWAY_API_PORT": str(free_port()),
        **overrides,
    }


def test_version_prints_the_package_version() -> None:
    printed = compass_gateway("--version")

    assert printed.returncode == 0, printed.stderr
    assert printed.stdout == f"compass-gateway {version('pycompass')}\n"


def test_a_port_in_use_exits_1_with_one_line_naming_the_listener_and_the_port(tmp_path: Path) -> None:
    with loopback_socket() as taken:
        taken.listen()  # a bound socket alone does not keep a SO_REUSEADDR bind out
        port = taken.getsockname()[1]
        served = compass_gateway("serve", **serve_settings(tmp_path, GATEWAY_COMPASS_PORT=str(port)))

    assert served.returncode == 1
    [line] = (served.stdout + served.stderr).splitlines()
    assert "Compass proxy" in line
    assert f"127.0.0.1:{port} " in line


def test_an_invalid_setting_exits_2_naming_it(tmp_path: Path) -> None:
    served = compass_gateway("serve", **serve_settings(tmp_path, GATEWAY_PORT="abc"))

    assert served.returncode == 2
    assert served.stderr.startswith("invalid setting")
    assert "GATEWAY_PORT" in served.stderr
    assert "Traceback" not in served.stderr


def test_sigterm_stops_the_gateway_with_exit_status_0(gateway_factory: StartGateway) -> None:
    served = gateway_factory()

    assert served.process.stop() == 0
