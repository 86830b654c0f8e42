"""The one settings model: every variable read in one place, no silent table names in a function."""

from __future__ import annotations

import pytest

from costmetrics import config
from costmetrics.config import VARIABLES, MissingSetting, Settings

TABLES = {
    "AGENTS_TABLE": "a",
    "PRICING_TABLE": "p",
    "ROLLUPS_TABLE": "r",
    "EVENTS_TABLE": "e",
    "INGEST_KEYS_TABLE": "k",
}


def test_every_variable_lands_in_its_field() -> None:
    env = {var: f"value-of-{var}" for var in VARIABLES.values()} | {"EVENT_RETENTION_DAYS": "30"}
    chosen = Settings.from_env(env)
    for field, var in VARIABLES.items():
        expected = 30 if field == "event_retention_days" else f"value-of-{var}"
        assert getattr(chosen, field) == expected, var


def test_a_function_without_a_table_name_fails_naming_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    for var, value in TABLES.items():
        monkeypatch.setenv(var, value)
    monkeypatch.delenv("EVENTS_TABLE")
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "CostAnalysisFunction")
    config.settings.cache_clear()
    try:
        with pytest.raises(MissingSetting, match=r"^EVENTS_TABLE not set"):
            config.settings()
        monkeypatch.setenv("EVENTS_TABLE", "e")
        config.settings.cache_clear()
        assert config.settings().events_table == "e"
    finally:
        config.settings.cache_clear()


def test_the_settings_module_is_the_only_reader_of_the_functions_variables() -> None:
    from pathlib import Path

    root = Path(__file__).parents[2]
    sources = [*root.glob("layers/common/costmetrics/**/*.py"), *root.glob("functions/*/app.py")]
    readers = {
        str(path.relative_to(root))
        for path in sources
        for var in VARIABLES.values()
        if f'"{var}"' in path.read_text() and path.name != "config.py"
    }
    assert readers == set()
