"""AgentSettings: Kyma's names, from the environment or a Secret-like directory (one file per value)."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from agent.settings import AgentSettings, ConfigurationError

VARIABLES = (
    "CONNECTOR_URL",
    "RUNTIME_ID",
    "TENANT",
    "TOKEN",
    "AGENT_CONFIG_DIR",
    "AGENT_SYNC_PERIOD",
    "AGENT_RENEWAL_THRESHOLD",
    "AGENT_EVENT_GATEWAY_URL",
    "AGENT_GATEWAY_URL",
    "AGENT_CONSOLE_URL",
    "AGENT_STATE_DIR",
    "AGENT_SINK",
    "AGENT_MANIFEST_DIR",
    "AGENT_HTTP_TIMEOUT",
    "AGENT_KEY_TYPE",
    "AGENT_PUSH",
)


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in VARIABLES:
        monkeypatch.delenv(name, raising=False)


def mounted_secret(directory: Path, **values: str) -> Path:
    """A directory as Kubernetes mounts a Secret: each key a symlink into a ``..data`` directory."""
    data = directory / "..2026_11_25_09_00_00.000000001"
    data.mkdir(parents=True)
    for name, value in values.items():
        (data / name).write_text(value)
    (directory / "..data").symlink_to(data.name)
    for name in values:
        (directory / name).symlink_to(Path("..data") / name)
    return directory


def test_reads_kyma_names_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    # given
    monkeypatch.setenv("CONNECTOR_URL", "http://compass:3000/connector/graphql")
    monkeypatch.setenv("RUNTIME_ID", "runtime-1")
    monkeypatch.setenv("TENANT", "tenant-1")
    monkeypatch.setenv("TOKEN", "one-time")
    monkeypatch.setenv("AGENT_SYNC_PERIOD", "30")
    monkeypatch.setenv("AGENT_RENEWAL_THRESHOLD", "0.25")
    monkeypatch.setenv("AGENT_EVENT_GATEWAY_URL", "https://gateway.example.com")
    monkeypatch.setenv("AGENT_CONSOLE_URL", "https://console.example.com")
    monkeypatch.setenv("AGENT_GATEWAY_URL", "http://proxy.example.com:8082")
    monkeypatch.setenv("AGENT_SINK", "kubernetes")

    # when
    settings = AgentSettings.load()

    # then
    assert settings.connector_url == "http://compass:3000/connector/graphql"
    assert (settings.runtime_id, settings.tenant) == ("runtime-1", "tenant-1")
    assert settings.token_value() == "one-time"
    assert (settings.sync_period, settings.renewal_threshold) == (30.0, 0.25)
    assert settings.event_gateway_url == "https://gateway.example.com"
    assert settings.console_url == "https://console.example.com"
    assert settings.gateway_url == "http://proxy.example.com:8082"
    assert settings.sink == "kubernetes"


def test_defaults_are_compass_agents() -> None:
    settings = AgentSettings.load()

    assert settings.sync_period == 15.0
    assert settings.renewal_threshold == 0.3
    assert settings.state_dir == Path(".compass-agent")
    assert settings.sink == "directory"
    assert settings.key_type == "rsa4096"
    assert settings.gateway_url == "http://central-application-gateway.kyma-system.svc.cluster.local:8082"
    assert settings.push is True


def test_agent_push_false_turns_the_change_stream_off(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AGENT_PUSH", "false")

    assert AgentSettings.load().push is False


def test_manifest_dir_defaults_to_manifests_in_the_state_dir(tmp_path: Path) -> None:
    settings = AgentSettings.load(state_dir=tmp_path / "state")

    assert settings.manifest_dir == tmp_path / "state" / "manifests"


def test_reads_a_mounted_secret_directory_one_file_per_value(tmp_path: Path) -> None:
    # given
    directory = mounted_secret(
        tmp_path / "config", CONNECTOR_URL="http://compass/graphql", RUNTIME_ID="runtime-2", TOKEN="t\n"
    )

    # when
    settings = AgentSettings.load(directory)

    # then
    assert (settings.connector_url, settings.runtime_id, settings.token_value()) == (
        "http://compass/graphql",
        "runtime-2",
        "t",
    )


def test_the_directory_comes_from_agent_config_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    directory = mounted_secret(tmp_path / "config", RUNTIME_ID="runtime-3")
    monkeypatch.setenv("AGENT_CONFIG_DIR", str(directory))

    assert AgentSettings.load().runtime_id == "runtime-3"


def test_the_environment_wins_over_the_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # given
    directory = mounted_secret(tmp_path / "config", RUNTIME_ID="from-file", TENANT="tenant-from-file")
    monkeypatch.setenv("RUNTIME_ID", "from-environment")

    # when
    settings = AgentSettings.load(directory)

    # then
    assert settings.runtime_id == "from-environment"
    assert settings.tenant == "tenant-from-file"


def test_a_new_token_in_the_directory_is_read_by_the_next_load(tmp_path: Path) -> None:
    directory = tmp_path / "config"
    directory.mkdir()
    (directory / "TOKEN").write_text("first")
    assert AgentSettings.load(directory).token_value() == "first"

    (directory / "TOKEN").write_text("second")

    assert AgentSettings.load(directory).token_value() == "second"


def test_a_missing_configuration_directory_is_a_configuration_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="does not exist"):
        AgentSettings.load(tmp_path / "absent")


def test_the_token_is_not_shown_when_settings_are_printed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TOKEN", "very-secret-token")

    settings = AgentSettings.load()

    assert "very-secret-token" not in repr(settings)
    assert "very-secret-token" not in str(settings.model_dump())


@pytest.mark.parametrize("threshold", ["0", "1", "1.5", "-0.1"])
def test_a_renewal_threshold_outside_zero_to_one_is_refused(
    threshold: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AGENT_RENEWAL_THRESHOLD", threshold)

    with pytest.raises(ValidationError):
        AgentSettings.load()


def test_an_unknown_sink_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AGENT_SINK", "s3")

    with pytest.raises(ValidationError):
        AgentSettings.load()


def test_connection_settings_name_what_is_missing() -> None:
    settings = AgentSettings.load(runtime_id="runtime-4")

    with pytest.raises(ConfigurationError, match="CONNECTOR_URL") as raised:
        settings.require_connection_settings()
    assert "RUNTIME_ID" not in str(raised.value)


def test_only_the_settings_module_reads_the_environment() -> None:
    agent_dir = Path(__file__).resolve().parents[2] / "agent"
    readers = [
        path.name
        for path in agent_dir.rglob("*.py")
        if "os.environ" in path.read_text() or "os.getenv" in path.read_text()
    ]
    assert readers == ["settings.py"], readers
