"""~/.duckstring/config.toml: private, readable back exactly, Catchment names as spelt."""

import stat
from pathlib import Path

import pytest

from duckstring.remote.config import (
    Config,
    ConfigError,
    Registration,
    catchment_name_problem,
    check_catchment_name,
    default_root,
    load,
    save,
)
from duckstring.remote.config import home as home_folder


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


VALID_NAMES = ["T", "Prod", "prod", "dev-2", "eu.west.1", "a_b", "7", "x" * 64]


def test_catchment_names_keep_their_case_and_dots_through_the_file(home: Path) -> None:
    config = Config(default="Prod")
    for index, name in enumerate(VALID_NAMES):
        config.catchments[name] = Registration(name, f"http://127.0.0.1:{7000 + index}")
    save(config)
    again = load()
    assert again == config
    assert list(again.catchments) == sorted(VALID_NAMES)
    # Exact spelling, exact match: Prod and prod are two registrations.
    assert again.resolve("Prod").url == "http://127.0.0.1:7001"
    assert again.resolve("prod").url == "http://127.0.0.1:7002"
    assert again.resolve(None).name == "Prod"
    with pytest.raises(ConfigError, match="no Catchment named 'PROD' is registered"):
        again.resolve("PROD")


@pytest.mark.parametrize("name", VALID_NAMES)
def test_valid_catchment_names(name: str) -> None:
    assert catchment_name_problem(name) is None
    assert default_root(name) == home_folder() / name


@pytest.mark.parametrize(
    ("name", "says"),
    [
        ("", "must not be empty"),
        ("x" * 65, "longer than 64 characters"),
        ("a/b", "is not allowed: use letters"),
        ("/etc", "is not allowed"),
        ("..", "is not allowed"),
        ("a..b", "must not contain '..'"),
        (".", "is not allowed"),
        ("...", "is not allowed"),
        (".hidden", "starting with a letter or digit"),
        ("-x", "starting with a letter or digit"),
        ("_x", "starting with a letter or digit"),
        ("a b", "is not allowed"),
        (" a", "is not allowed"),
        ("a\n", "is not allowed"),
        ("a\tb", "is not allowed"),
        ("a\\b", "is not allowed"),
        ("~x", "is not allowed"),
        ("é", "is not allowed"),
    ],
)
def test_invalid_catchment_names_are_refused_saying_why(name: str, says: str) -> None:
    problem = catchment_name_problem(name)
    assert problem is not None and says in problem
    assert "\n" not in problem.replace(repr(name), "")
    with pytest.raises(ConfigError, match="Catchment name"):
        check_catchment_name(name)
    with pytest.raises(ConfigError, match="Catchment name"):
        default_root(name)
    with pytest.raises(ConfigError, match="Catchment name"):
        Config().resolve(name)
