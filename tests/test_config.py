"""Configuration errors: exit code 2 and a message naming the file, the key and the value."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from docketwatch import bootstrap
from tests.conftest import run_cli

GOOD_CASE = '''
[[cases]]
name = "Kadrey v. Meta Platforms, Inc."
court = "cand"
docket_number = "3:23-cv-03417-VC"
'''


def write(tmp_path, text: str):
    path = tmp_path / "bad.toml"
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    "text, expected",
    [
        ('[sources.courtlistener]\nbase_url = "https://x"\ntokn = "abc"\n' + GOOD_CASE,
         ["unknown key 'sources.courtlistener.tokn'", "check its spelling"]),
        (GOOD_CASE + GOOD_CASE.replace("3:23-cv-03417-VC", "3:23-xx-03417/7").replace("Kadrey", "Other"),
         ["cases[2].docket_number", "'3:23-xx-03417/7'", "3:23-cv-03417"]),
        (GOOD_CASE.replace('"cand"', '"cand9"'),
         ["cases[1].court = 'cand9'", "is not a CourtListener court id"]),
        ('[sources.courtlistener]\ntoken = "${DW_TEST_UNSET_TOKEN}"\n' + GOOD_CASE,
         ["sources.courtlistener.token", "DW_TEST_UNSET_TOKEN is not set"]),
        (GOOD_CASE.replace('name = "Kadrey v. Meta Platforms, Inc."\n', ""), ["cases[1].name is required"]),
        (GOOD_CASE + '[sources.courtlistener]\ndaily_request_budget = "lots"\n',
         ["sources.courtlistener.daily_request_budget = 'lots'"]),
        (GOOD_CASE.replace('docket_number = "3:23-cv-03417-VC"', 'docket_number = "3:23-cv-03417-VC"\nsources = ["pacr"]'),
         ["cases[1].sources = ['pacr']", "'courtlistener'"]),
        (GOOD_CASE + GOOD_CASE.replace("Kadrey v. Meta Platforms, Inc.", "Kadrey again").replace("-VC", ""),
         ["cases[2] ('Kadrey again') is the same docket as cases[1]"]),
        ("[[cases]\nname = 1", ["not valid TOML"]),
        (GOOD_CASE + "courtlistner_id = 67569326\n", ["unknown key 'cases[1].courtlistner_id'", "no source reads it"]),
        (GOOD_CASE + 'courtlistener_id = "abc"\nsources = ["pacer_rss"]\n', ["cases[1].courtlistener_id = 'abc'"]),
    ],
)
def test_bad_configuration_is_named_precisely(tmp_path, text, expected):
    path = write(tmp_path, text)
    with pytest.raises(bootstrap.ConfigError) as caught:
        bootstrap.load(path)
    message = str(caught.value)
    assert message.startswith(str(path))
    for fragment in expected:
        assert fragment in message


def test_cli_exits_2_with_the_message_and_stores_nothing(tmp_path):
    path = write(tmp_path, f'[database]\nurl = "sqlite:///{tmp_path}/dw.db"\n' + GOOD_CASE.replace('"cand"', '"nowhere"'))
    proc = run_cli(path, "check")
    assert proc.returncode == 2
    assert str(path) in proc.stderr and "cases[1].court = 'nowhere'" in proc.stderr
    assert not (tmp_path / "dw.db").exists()


def test_missing_file_and_unknown_case_are_usage_errors(tmp_path):
    assert run_cli(tmp_path / "nope.toml", "status").returncode == 2
    path = write(tmp_path, f'[database]\nurl = "sqlite:///{tmp_path}/dw.db"\n' + GOOD_CASE)
    proc = run_cli(path, "status", "Silverman")
    assert proc.returncode == 2 and "no configured case matches 'Silverman'" in proc.stderr
    # The court and number, as `status` shows them, select the case; another court's does not.
    assert run_cli(path, "status", "cand 3:23-cv-03417").returncode == 0
    assert run_cli(path, "status", "CAND 23-cv-3417").returncode == 0
    proc = run_cli(path, "status", "nysd 3:23-cv-03417")
    assert proc.returncode == 2 and "no configured case matches 'nysd 3:23-cv-03417'" in proc.stderr


def test_environment_values_are_substituted(tmp_path, monkeypatch):
    monkeypatch.setenv("DW_TEST_TOKEN", "tok-123")
    path = write(tmp_path, '[sources.courtlistener]\ntoken = "${DW_TEST_TOKEN}"\n' + GOOD_CASE)
    loaded = bootstrap.load(path)
    assert loaded.source_plugins["courtlistener"].settings.token == "tok-123"
    assert loaded.cases[0].docket_number == "3:23-cv-03417"


def test_the_bundled_watchlist_loads_and_cases_match_by_name_or_number(tmp_path):
    loaded = bootstrap.load(bootstrap.resolve_path(None))
    assert len(loaded.cases) >= 20
    assert all(loaded.pinned_ids(c).get("courtlistener") for c in loaded.cases)
    assert [c.name for c in loaded.select(["kadrey"])] == ["Kadrey v. Meta Platforms, Inc."]
    assert [c.name for c in loaded.select(["3:24-cv-05417-WHA"])] == ["Bartz v. Anthropic PBC"]


def test_a_file_in_toml_1_1_is_read_as_the_editor_reads_it(tmp_path):
    """`add`, `pause` and `remove` edit the file with tomlkit, which reads TOML 1.1 (an inline
    table over several lines, a trailing comma); reading it for any command accepts the same."""
    text = '[sources]\ncourtlistener = {\n    daily_request_budget = 100,\n}\n' + GOOD_CASE
    loaded = bootstrap.load(write(tmp_path, text))
    assert loaded.source_plugins["courtlistener"].settings.daily_request_budget == 100
    assert loaded.cases[0].docket_number == "3:23-cv-03417"


def test_config_option_wins_over_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("DOCKETWATCH_CONFIG", str(tmp_path / "from-env.toml"))
    assert bootstrap.resolve_path(None) == tmp_path / "from-env.toml"
    assert bootstrap.resolve_path("given.toml").name == "given.toml"


def test_a_source_reads_its_own_keys_of_a_case_table(tmp_path):
    """`courtlistener_id` belongs to the courtlistener source: it pins the docket there. Kept
    after the case stops using that source, it is still checked, and pins nothing."""
    pinned = bootstrap.load(write(tmp_path, GOOD_CASE + "courtlistener_id = 67569326\n"))
    assert pinned.pinned_ids(pinned.cases[0]) == {"courtlistener": "67569326"}
    assert pinned.cases[0].source_keys == {"courtlistener_id": 67569326}
    kept = bootstrap.load(write(tmp_path, GOOD_CASE + 'courtlistener_id = 67569326\nsources = ["pacer_rss"]\n'))
    assert kept.pinned_ids(kept.cases[0]) == {}


@pytest.mark.parametrize("written, where", [("dw.db", "conf/dw.db"), ("data/dw.db", "conf/data/dw.db"),
                                            ("~/dw.db", "home/dw.db")])
def test_a_relative_sqlite_path_is_taken_from_the_configuration_files_folder(tmp_path, monkeypatch, written, where):
    """`run` started by systemd or cron, or `check` from another folder, uses the same file."""
    (tmp_path / "conf").mkdir()
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    (tmp_path / "conf" / "dw.toml").write_text(f'[database]\nurl = "sqlite:///{written}"\n' + GOOD_CASE)
    monkeypatch.chdir(tmp_path / "elsewhere")
    result = run_cli(Path("../conf/dw.toml"), "status", "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["database"] == f"sqlite:///{tmp_path / where}"
    assert (tmp_path / where).is_file() and not any((tmp_path / "elsewhere").iterdir())


@pytest.mark.parametrize("argv", [["--config", "", "cases"], ["cases", "--config", ""]], ids=["before", "after"])
def test_an_empty_config_option_is_a_usage_error_not_the_bundled_watchlist(argv):
    """`--config "$CFG"` with CFG unset must not quietly watch the bundled cases instead."""
    result = run_cli(None, *argv)
    assert result.returncode == 2 and "Invalid value for '--config': is empty" in result.stderr
    assert result.stdout == "" and "Traceback" not in result.stderr


def test_an_empty_docketwatch_config_variable_is_an_error_not_the_bundled_watchlist():
    """An environment file with `DOCKETWATCH_CONFIG=` must not quietly watch the bundled cases."""
    result = run_cli(None, "status", "--json", env={"DOCKETWATCH_CONFIG": ""})
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.strip().splitlines()[-1] == (
        "Error: DOCKETWATCH_CONFIG is set but empty: set it to the configuration file's path, or unset it to use "
        "the bundled watchlist")
