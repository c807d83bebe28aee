"""~/.duckstring/config.toml: private, and readable back exactly."""

import stat
from pathlib import Path

import pytest

from duckstring.remote.config import Config, ConfigError, Registration, load, save


@pytest.fixture(autouse=True)
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("DUCKSTRING_HOME", str(tmp_path / "dshome"))
    return tmp_path / "dshome"


def test_config_is_written_0600_and_reads_back(home: Path) -> None:
    config = Config(default="dev")
    config.catchments["dev"] = Registration(
        "dev",
        "http://127.0.0.1:7474",
        root="/r",
        host="127.0.0.1",
        port=7474,
        key='k"e\\y',
        headers={"Authorization": "Key x", "X-A": "b"},
    )
    path = save(config)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(home.stat().st_mode) == 0o700
    assert load() == config


def test_the_only_registration_is_implicitly_the_default() -> None:
    config = Config()
    config.catchments["x"] = Registration("x", "http://h")
    assert config.resolve(None).name == "x"


def test_no_registration_says_how_to_create_one() -> None:
    with pytest.raises(ConfigError, match="catchment init"):
        Config().resolve(None)
