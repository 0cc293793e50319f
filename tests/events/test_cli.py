"""The `compass-events` command as an operator runs it: a fresh process, settings from EVENTS_* variables."""

from __future__ import annotations

import subprocess
from importlib.metadata import version
from pathlib import Path

from testing.client_certificates import ClientCertificateAuthority
from testing.events import EVENTS
from testing.ports import free_port, loopback_socket
from testing.served import run_command
from tests.fixtures.events_served import StartEvents


def compass_events(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return run_command(EVENTS, *args, **env)


def serve_settings(directory: Path, ca_file: Path, **overrides: str) -> dict[str, str]:
    """Free ports for both listeners, directories under ``directory``, the CA file, then ``overrides``."""
    return {
        "EVENTS_MANIFEST_DIR": str(directory / "manifests"),
        "EVENTS_DATA_DIR": str(directory / "data"),
        "EVENTS_CA_FILE": str(ca_file),
        "EVENTS_PORT": str(free_port()),
        "EVENTS_API_PORT": str(free_port()),
        **overrides,
    }


def test_version_prints_the_package_version() -> None:
    printed = compass_events("--version")

    assert printed.returncode == 0, printed.stderr
    assert printed.stdout == f"compass-events {version('pycompass')}\n"


def test_serving_without_the_ca_file_exits_2_naming_the_setting(tmp_path: Path) -> None:
    served = compass_events("serve", **serve_settings(tmp_path, tmp_path / "agent" / "ca.crt"))

    assert served.returncode == 2
    [line] = served.stderr.splitlines()
    assert "EVENTS_CA_FILE" in line
    assert str(tmp_path / "agent" / "ca.crt") in line


def test_a_port_in_use_exits_1_with_one_line_naming_the_listener_and_the_port(
    tmp_path: Path, application_ca: ClientCertificateAuthority
) -> None:
    with loopback_socket() as taken:
        taken.listen()  # a bound socket alone does not keep a SO_REUSEADDR bind out
        port = taken.getsockname()[1]
        served = compass_events(
            "serve", **serve_settings(tmp_path, application_ca.ca_file, EVENTS_PORT=str(port))
        )

    assert served.returncode == 1
    [line] = (served.stdout + served.stderr).splitlines()
    assert "event ingress" in line
    assert f"127.0.0.1:{port} " in line


def test_an_invalid_setting_exits_2_naming_it(
    tmp_path: Path, application_ca: ClientCertificateAuthority
) -> None:
    served = compass_events("serve", **serve_settings(tmp_path, application_ca.ca_file, EVENTS_BUS="kafka"))

    assert served.returncode == 2
    assert served.stderr.startswith("invalid setting")
    assert "EVENTS_BUS" in served.stderr
    assert "Traceback" not in served.stderr


def test_sigterm_stops_the_ingress_with_exit_status_0(events_factory: StartEvents) -> None:
    served = events_factory()

    assert served.process.stop() == 0
