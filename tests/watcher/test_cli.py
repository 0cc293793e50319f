"""The `compass-watcher` command as an operator runs it: a fresh process, settings from WATCHER_* variables."""

from __future__ import annotations

import json
import subprocess
from importlib.metadata import version
from pathlib import Path

import httpx

from testing.ports import free_port, loopback_socket
from testing.served import run_command
from testing.waiting import wait_until_blocking
from testing.watcher import WATCHER, SilentListener
from tests.watcher.conftest import StartWatcher
from tests.watcher.reviews import admission_review, application


def compass_watcher(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return run_command(WATCHER, *args, **env)


def serve_settings(directory: Path, **overrides: str) -> dict[str, str]:
    """Free ports for both listeners and directories of the test's own, then ``overrides``."""
    return {
        "AGENT_STATE_DIR": str(directory / "agent"),
        "WATCHER_PORT": str(free_port()),
        "WATCHER_API_PORT": str(free_port()),
        **overrides,
    }


def test_version_prints_the_package_version() -> None:
    printed = compass_watcher("--version")

    assert printed.returncode == 0, printed.stderr
    assert printed.stdout == f"compass-watcher {version('pycompass')}\n"


def test_an_invalid_setting_exits_2_naming_it(tmp_path: Path) -> None:
    served = compass_watcher("serve", **serve_settings(tmp_path, WATCHER_SERVICE_NAME="Not A Label"))

    assert served.returncode == 2
    assert served.stderr.startswith("invalid setting WATCHER_SERVICE_NAME")
    assert "Traceback" not in served.stderr


def test_an_overlap_as_long_as_a_third_of_the_ca_s_life_exits_2(tmp_path: Path) -> None:
    settings = serve_settings(tmp_path, WATCHER_CA_DAYS="0.125", WATCHER_CA_OVERLAP_SECONDS="3600")

    served = compass_watcher("serve", **settings)

    assert served.returncode == 2
    assert served.stderr.startswith(
        "invalid setting WATCHER_CA_OVERLAP_SECONDS: Value error, must be shorter than a third of WATCHER_CA_DAYS"
    )


def test_a_port_in_use_exits_1_with_one_line_naming_the_listener_and_the_port(tmp_path: Path) -> None:
    with loopback_socket() as taken:
        taken.listen()  # a bound socket alone does not keep a SO_REUSEADDR bind out
        port = taken.getsockname()[1]
        served = compass_watcher("serve", **serve_settings(tmp_path, WATCHER_PORT=str(port)))

    assert served.returncode == 1
    [line] = (served.stdout + served.stderr).splitlines()
    assert "webhook" in line
    assert f"127.0.0.1:{port} " in line


def test_a_certificate_directory_that_cannot_be_made_exits_1_saying_why(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")

    served = compass_watcher(
        "serve", **serve_settings(tmp_path, WATCHER_TLS_DIR=str(tmp_path / "file" / "tls"))
    )

    assert served.returncode == 1
    assert served.stderr.startswith("cannot start: ")
    assert "Traceback" not in served.stderr


def test_sigterm_stops_the_watcher_with_exit_status_0_while_a_delivery_hangs_its_event_kept(
    watcher_factory: StartWatcher, silent_control_plane: SilentListener
) -> None:
    watcher = watcher_factory(control_plane_url=silent_control_plane.url)
    watcher.post(
        "/validate/compass-runtime-agent",
        json.dumps(admission_review("CREATE", application("a"), None)).encode(),
    )
    wait_until_blocking(lambda: silent_control_plane.accepted > 0, what="the delivery connecting")

    assert watcher.process.stop() == 0
    assert [event.name for event in watcher.spooled()] == ["a"]


def test_the_api_listener_answers_health_and_readiness(watcher_factory: StartWatcher) -> None:
    watcher = watcher_factory()

    for path in ("/healthz", "/readyz"):
        assert httpx.get(f"{watcher.api_url}{path}", timeout=10).status_code == 200, path
