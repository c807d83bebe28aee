"""The ASGI entry's settings come from the environment, with clear refusals of bad values."""

from __future__ import annotations

import pytest

from duckstring.catchment.asgi import config_from_environment
from duckstring.catchment.launcher import DUCK_NICENESS
from duckstring.catchment.service import default_linger_bytes, default_linger_max


def test_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (
        "ROOT",
        "API_KEY",
        "QUERY_TIMEOUT",
        "DUCK_LINGER",
        "DUCK_LINGER_MAX",
        "DUCK_NICE",
        "DUCK_SPARES",
        "DUCK_LINGER_MIB",
        "ALLOW_LOCAL_GIT",
    ):
        monkeypatch.delenv(f"DUCKSTRING_{name}", raising=False)
    config = config_from_environment()
    assert config.api_key is None and config.query_timeout == 30.0
    assert config.allow_local_git is False
    assert config.duck_linger == 60.0 and config.duck_linger_max == default_linger_max()
    assert config.duck_niceness == DUCK_NICENESS == 19 and config.duck_prestart == 16
    assert 4 <= config.duck_linger_max <= 128
    assert config.duck_linger_bytes >> 20 == default_linger_bytes() >> 20
    assert config.duck_spares == 2


def test_every_knob_is_read(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = {
        "DUCKSTRING_QUERY_TIMEOUT": "2.5",
        "DUCKSTRING_DUCK_LINGER": "0",
        "DUCKSTRING_DUCK_LINGER_MAX": "3",
        "DUCKSTRING_DUCK_PRESTART": "0",
        "DUCKSTRING_DUCK_NICE": "7",
        "DUCKSTRING_DUCK_SILENCE": "7",
        "DUCKSTRING_DUCK_SPARES": "0",
        "DUCKSTRING_DUCK_LINGER_MIB": "300",
        "DUCKSTRING_ALLOW_LOCAL_GIT": "1",
    }
    for name, value in settings.items():
        monkeypatch.setenv(name, value)
    config = config_from_environment()
    assert config.query_timeout == 2.5 and config.duck_linger == 0.0
    assert config.duck_linger_max == 3 and config.duck_prestart == 0
    assert config.duck_niceness == 7
    assert config.duck_silence == 7.0 and config.duck_spares == 0
    assert config.duck_linger_bytes == 300 * 1024 * 1024
    assert config.allow_local_git is True


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("DUCKSTRING_QUERY_TIMEOUT", "soon", "must be a number of seconds"),
        ("DUCKSTRING_QUERY_TIMEOUT", "0", "must be positive"),
        ("DUCKSTRING_QUERY_TIMEOUT", "inf", "must be at most"),
        ("DUCKSTRING_QUERY_TIMEOUT", "1e12", "must be at most"),
        ("DUCKSTRING_DUCK_LINGER", "-1", "must be at least 0"),
        ("DUCKSTRING_DUCK_LINGER", "nan", "must be at least 0"),
        ("DUCKSTRING_DUCK_LINGER_MAX", "2.5", "must be a whole number"),
        ("DUCKSTRING_DUCK_NICE", "-3", "must not be negative"),
        ("DUCKSTRING_DUCK_NICE", "40", "must be at most 19"),
        ("DUCKSTRING_DUCK_SPARES", "17", "must be at most 16"),
        ("DUCKSTRING_DUCK_LINGER_MIB", "lots", "must be a whole number"),
        ("DUCKSTRING_ALLOW_LOCAL_GIT", "maybe", "must be 1 or 0"),
    ],
)
def test_bad_values_are_refused_by_name(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str, message: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(SystemExit) as refused:
        config_from_environment()
    assert name in str(refused.value) and message in str(refused.value)


def test_the_alert_delivery_knobs_are_read_and_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("ALERT_TIMEOUT", "ALERT_ATTEMPTS", "ALERT_BACKOFF"):
        monkeypatch.delenv(f"DUCKSTRING_{name}", raising=False)
    config = config_from_environment()
    assert (config.alert_timeout, config.alert_attempts, config.alert_backoff) == (10.0, 6, 5.0)
    monkeypatch.setenv("DUCKSTRING_ALERT_TIMEOUT", "2.5")
    monkeypatch.setenv("DUCKSTRING_ALERT_ATTEMPTS", "3")
    monkeypatch.setenv("DUCKSTRING_ALERT_BACKOFF", "0.5")
    config = config_from_environment()
    assert (config.alert_timeout, config.alert_attempts, config.alert_backoff) == (2.5, 3, 0.5)
    for name, value, message in (
        ("DUCKSTRING_ALERT_ATTEMPTS", "0", "must be at least 1"),
        ("DUCKSTRING_ALERT_TIMEOUT", "301", "must be at most 300"),
        ("DUCKSTRING_ALERT_BACKOFF", "never", "must be a number of seconds"),
    ):
        monkeypatch.setenv(name, value)
        with pytest.raises(SystemExit) as refused:
            config_from_environment()
        assert name in str(refused.value) and message in str(refused.value)
        monkeypatch.setenv(name, "1")
