"""Project settings: .repoctx.toml, [tool.repoctx] in pyproject.toml, overrides, `init`."""
from __future__ import annotations

import os

import pytest

from repoctx.settings import (ConfigError, KEYS, Settings, load_settings, parse_count,
                            write_default_config)


def write(root, name: str, text: str) -> None:
    (root / name).write_text(text, encoding="utf-8")


def error_of(root) -> str:
    with pytest.raises(ConfigError) as info:
        load_settings(str(root))
    return str(info.value)


# --- where settings come from ---------------------------------------------------------------

def test_defaults_without_any_file(tmp_path):
    s = load_settings(str(tmp_path))
    assert s == Settings()
    assert (s.budget, s.encoding, s.format, s.mode) == (32_000, None, "xml", "auto")
    assert (s.include, s.exclude, s.max_file_size, s.line_numbers, s.map_budget) == ((), (), 1_000_000, False, 4_000)
    assert s.source is None and s.notes == ()


def test_pyproject_without_our_table_gives_defaults(tmp_path):
    write(tmp_path, "pyproject.toml", '[project]\nname = "repoctx-demo"\n[tool.black]\nline-length = 100\n')
    assert load_settings(str(tmp_path)) == Settings()


def test_broken_pyproject_that_never_mentions_repoctx_is_not_ours(tmp_path):
    write(tmp_path, "pyproject.toml", "[project\nname = \n")
    assert load_settings(str(tmp_path)) == Settings()


def test_values_from_pyproject(tmp_path):
    write(tmp_path, "pyproject.toml", """
[project]
name = "demo"

[tool.repoctx]
budget = "128k"
encoding = "cl100k_base"
format = "markdown"
mode = "slice"
include = ["src/**", "*.py"]
exclude = "tests/"
max_file_size = "2m"
line_numbers = true
map_budget = 2000
""")
    s = load_settings(str(tmp_path))
    assert s == Settings(budget=128_000, encoding="cl100k_base", format="markdown", mode="slice",
                         include=("src/**", "*.py"), exclude=("tests/",), max_file_size=2_000_000,
                         line_numbers=True, map_budget=2_000)
    assert s.source == os.path.join(str(tmp_path), "pyproject.toml")


def test_values_from_repoctx_toml(tmp_path):
    write(tmp_path, ".repoctx.toml", 'budget = 8000\nformat = "json"\nexclude = ["docs/", "*.md"]\n')
    s = load_settings(str(tmp_path))
    assert s == Settings(budget=8_000, format="json", exclude=("docs/", "*.md"))
    assert s.source == os.path.join(str(tmp_path), ".repoctx.toml")
    assert s.notes == ()


def test_repoctx_toml_wins_over_pyproject_and_says_so(tmp_path):
    write(tmp_path, "pyproject.toml", '[tool.repoctx]\nbudget = "64k"\nmode = "whole"\n')
    write(tmp_path, ".repoctx.toml", 'budget = "16k"\n')
    s = load_settings(str(tmp_path))
    assert s.budget == 16_000
    assert s.mode == "auto"  # not merged: the pyproject table is ignored as a whole
    assert len(s.notes) == 1 and "[tool.repoctx] ignored" in s.notes[0] and ".repoctx.toml" in s.notes[0]


def test_no_note_when_pyproject_has_no_table(tmp_path):
    write(tmp_path, "pyproject.toml", '[project]\nname = "repoctx"\n')
    write(tmp_path, ".repoctx.toml", "budget = 1000\n")
    assert load_settings(str(tmp_path)).notes == ()


def test_bad_pyproject_table_is_ignored_when_repoctx_toml_exists(tmp_path):
    write(tmp_path, "pyproject.toml", '[tool.repoctx]\nbudjet = "lots"\n')
    write(tmp_path, ".repoctx.toml", "budget = 1000\n")
    assert load_settings(str(tmp_path)).budget == 1_000


# --- overrides ------------------------------------------------------------------------------

def test_overrides_replace_file_values_and_none_is_ignored():
    base = Settings(budget=8_000, mode="slice", exclude=("docs/",), line_numbers=True)
    s = base.merged(budget=100_000, mode=None, exclude=None, format="plain", line_numbers=False)
    assert s == Settings(budget=100_000, mode="slice", exclude=("docs/",), format="plain", line_numbers=False)
    assert base.budget == 8_000  # the original is unchanged


def test_overrides_are_checked_like_file_values():
    assert Settings().merged(budget="8k", include=["a/**"]) == Settings(budget=8_000, include=("a/**",))
    assert Settings().merged(encoding=" cl100k_base ").encoding == "cl100k_base"
    with pytest.raises(ConfigError, match="mode"):
        Settings().merged(mode="sideways")
    with pytest.raises(TypeError, match="budjet"):
        Settings().merged(budjet=1)


def test_merged_keeps_source_and_notes(tmp_path):
    write(tmp_path, "pyproject.toml", "[tool.repoctx]\nbudget = 1\n")
    write(tmp_path, ".repoctx.toml", "budget = 2\n")
    s = load_settings(str(tmp_path)).merged(budget=3)
    assert s.budget == 3 and s.source.endswith(".repoctx.toml") and len(s.notes) == 1


# --- counts ---------------------------------------------------------------------------------

@pytest.mark.parametrize("text, expected", [
    ("32k", 32_000), ("32K", 32_000), ("1m", 1_000_000), ("1.5k", 1_500), (" 8k ", 8_000),
    ("500", 500), ("32_000", 32_000), (7, 7),
])
def test_parse_count(text, expected):
    assert parse_count(text) == expected


@pytest.mark.parametrize("bad", ["0", "0k", 0, -5, "-5", "lots", "", "k", "1.2345k", "0.5", "32kb", True, 1.5, None])
def test_parse_count_rejects(bad):
    with pytest.raises(ValueError):
        parse_count(bad)


# --- errors name the file and the key -------------------------------------------------------

def test_unknown_key(tmp_path):
    write(tmp_path, ".repoctx.toml", "budjet = 1000\n")
    msg = error_of(tmp_path)
    assert msg.startswith(".repoctx.toml: unknown key 'budjet'")
    assert "did you mean 'budget'" in msg and "known: budget, encoding, format" in msg


def test_unknown_key_in_pyproject(tmp_path):
    write(tmp_path, "pyproject.toml", "[tool.repoctx]\ncolour = true\n")
    assert error_of(tmp_path).startswith("pyproject.toml: [tool.repoctx] unknown key 'colour'")


def test_nested_table_is_an_unknown_key(tmp_path):
    write(tmp_path, ".repoctx.toml", "[pack]\nbudget = 1\n")
    assert "unknown key 'pack'" in error_of(tmp_path)


def test_bad_budget_in_pyproject(tmp_path):
    write(tmp_path, "pyproject.toml", '[tool.repoctx]\nbudget = "lots"\n')
    assert error_of(tmp_path) == ('pyproject.toml: [tool.repoctx] budget: expected a positive token count '
                                  'like 32000 or "32k", got "lots"')


@pytest.mark.parametrize("line, key, shown", [
    ("budget = 0", "budget", "got 0"),
    ("budget = -100", "budget", "got -100"),
    ("map_budget = 1.5", "map_budget", "got 1.5"),
    ('max_file_size = "big"', "max_file_size", 'got "big"'),
    ('line_numbers = "yes"', "line_numbers", 'got "yes"'),
    ("encoding = 200", "encoding", "got 200"),
    ('encoding = ""', "encoding", 'got ""'),
    ("include = [1, 2]", "include", "got [1, 2]"),
    ("exclude = 3", "exclude", "got 3"),
    ('mode = "sideways"', "mode", 'got "sideways"'),
    ('format = "html"', "format", 'got "html"'),
    ('format = ["xml"]', "format", 'got ["xml"]'),
])
def test_bad_values(tmp_path, line, key, shown):
    write(tmp_path, ".repoctx.toml", line + "\n")
    msg = error_of(tmp_path)
    assert msg.startswith(f".repoctx.toml: {key}: expected ")
    assert msg.endswith(shown)


def test_bad_mode_and_format_list_the_choices(tmp_path):
    write(tmp_path, ".repoctx.toml", 'mode = "sideways"\n')
    assert '"auto", "whole", "slice"' in error_of(tmp_path)
    write(tmp_path, ".repoctx.toml", 'format = "html"\n')
    assert '"xml", "markdown", "plain", "json"' in error_of(tmp_path)


def test_toml_syntax_error_names_file_and_line(tmp_path):
    write(tmp_path, ".repoctx.toml", 'budget = 1000\nmode = \n')
    msg = error_of(tmp_path)
    assert msg.startswith(".repoctx.toml: TOML syntax error")
    assert "line 2" in msg


def test_pyproject_syntax_error_names_file_and_line(tmp_path):
    write(tmp_path, "pyproject.toml", '[tool.repoctx]\nbudget = 1000\nformat = "xml\n')
    msg = error_of(tmp_path)
    assert msg.startswith("pyproject.toml: TOML syntax error")
    assert "line 3" in msg


def test_tool_repoctx_must_be_a_table(tmp_path):
    write(tmp_path, "pyproject.toml", "[tool]\nrepoctx = 5\n")
    assert error_of(tmp_path) == "pyproject.toml: [tool.repoctx] must be a table, got 5"


def test_settings_file_that_is_not_utf8(tmp_path):
    (tmp_path / ".repoctx.toml").write_bytes(b'encoding = "\xff"\n')
    assert error_of(tmp_path).startswith(".repoctx.toml: ")


# --- init -----------------------------------------------------------------------------------

def test_init_writes_commented_defaults_that_load_back(tmp_path):
    path = write_default_config(str(tmp_path))
    assert path == os.path.join(str(tmp_path), ".repoctx.toml")
    text = (tmp_path / ".repoctx.toml").read_text(encoding="utf-8")
    lines = text.splitlines()
    for key in KEYS:  # every key at its default; encoding (default None) can only be shown commented out
        prefix = f"# {key} = " if key == "encoding" else f"{key} = "
        assert any(line.startswith(prefix) for line in lines), key
    assert text.count("\n# ") >= len(KEYS)  # a comment for every key
    assert load_settings(str(tmp_path)) == Settings()
    assert [p.name for p in tmp_path.iterdir()] == [".repoctx.toml"]  # no temporary file left behind


def test_init_refuses_to_overwrite_unless_forced(tmp_path):
    write(tmp_path, ".repoctx.toml", "budget = 1000\n")
    with pytest.raises(ConfigError, match="already exists"):
        write_default_config(str(tmp_path))
    assert load_settings(str(tmp_path)).budget == 1_000  # untouched
    write_default_config(str(tmp_path), force=True)
    assert load_settings(str(tmp_path)) == Settings()


def test_init_leaves_no_temporary_file_when_the_rename_fails(tmp_path, monkeypatch):
    def fail(src, dst):
        raise OSError("disk full")
    monkeypatch.setattr(os, "replace", fail)
    with pytest.raises(OSError, match="disk full"):
        write_default_config(str(tmp_path))
    assert list(tmp_path.iterdir()) == []


def test_init_into_a_missing_folder(tmp_path):
    with pytest.raises(OSError, match="cannot write"):
        write_default_config(str(tmp_path / "nope"))
