"""The `compass-broker` command as an operator runs it: a fresh process, settings from BROKER_* variables."""

from __future__ import annotations

import subprocess
from importlib.metadata import version
from pathlib import Path

from testing.broker import BROKER
from testing.ports import free_port
from testing.served import run_command


def compass_broker(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return run_command(BROKER, *args, **env)


def test_version_prints_the_package_version() -> None:
    printed = compass_broker("--version")

    assert printed.returncode == 0, printed.stderr
    assert printed.stdout == f"compass-broker {version('pycompass')}\n"


def test_serving_without_the_platforms_credentials_exits_2_naming_both(tmp_path: Path) -> None:
    served = compass_broker("serve", AGENT_STATE_DIR=str(tmp_path), BROKER_PORT=str(free_port()))

    assert served.returncode == 2
    assert served.stderr.splitlines() == [
        "invalid setting BROKER_USERNAME: Field required",
        "invalid setting BROKER_PASSWORD: Field required",
    ]


def test_an_unusable_kubernetes_configuration_is_one_line_and_exit_1(tmp_path: Path) -> None:
    served = compass_broker(
        "serve",
        AGENT_STATE_DIR=str(tmp_path),
        BROKER_USERNAME="platform",
        BROKER_PASSWORD="secret-for-the-test",
        BROKER_SOURCE="kubernetes",
        BROKER_KUBECONFIG=str(tmp_path / "missing-kubeconfig"),
        BROKER_PORT=str(free_port()),
        BROKER_API_PORT=str(free_port()),
    )

    assert served.returncode == 1
    assert served.stderr.startswith("cannot start: no usable Kubernetes configuration")
    assert "Traceback" not in served.stderr


def test_password_without_the_key_exits_2_naming_it() -> None:
    printed = compass_broker("password", "--namespace", "production")

    assert printed.returncode == 2
    assert printed.stderr == "invalid setting BROKER_PASSWORD: Field required\n"


def test_password_of_a_name_that_cannot_be_a_namespace_exits_2() -> None:
    printed = compass_broker("password", "--namespace", "Not_A_Namespace", BROKER_PASSWORD="key")

    assert printed.returncode == 2
    assert "cannot be a namespace's name" in printed.stderr
