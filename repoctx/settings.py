"""Project settings: `.repoctx.toml` or `[tool.repoctx]` in `pyproject.toml` at the repository root.

Precedence, lowest first: the built-in defaults of `Settings`, then one settings file, then
command-line flags (`Settings.merged`). Exactly one file is used, never a merge of two:
`.repoctx.toml` (top-level keys) when it exists, else the `[tool.repoctx]` table of `pyproject.toml`.
When both hold settings, the pyproject table is ignored and `Settings.notes` says so.

`include` / `exclude` take a list of gitignore-style globs; a single string is accepted as a
one-element list. A flag given on the command line replaces the file's value (lists too).

A pyproject.toml that does not mention `repoctx` anywhere is not parsed, so a repository with a
broken pyproject.toml of its own can still be packed; once it mentions repoctx, its errors count.

Redaction is the user's to turn off, never the repository's: a settings file's `redact = false` is
ignored with a note (a cloned repository would otherwise choose to have its readers' secrets sent).
The user turns it off with a flag (`--no-redact`), an editor's own settings, or for every front end
at once the environment variable REPOCTX_REDACT=off (`REDACT_ENV`).
"""
from __future__ import annotations

import dataclasses
import os
import re
from dataclasses import dataclass, field

from repoctx.files import read_file, write_atomic

# tomllib, json, difflib and decimal are imported where a file is parsed or an error worded: a
# command whose repository has no settings file starts without them (`repoctx --help` without any).


def _tomllib():
    """tomllib (tomli on Python 3.10)."""
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib
    return tomllib


def __getattr__(name: str):
    """`settings.tomllib`: the TOML reader settings files are read with, for tests."""
    if name == "tomllib":
        return _tomllib()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

CONFIG_FILE = ".repoctx.toml"
REDACT_ENV = "REPOCTX_REDACT"
PYPROJECT_FILE = "pyproject.toml"
FORMATS = ("xml", "markdown", "plain", "json")
MODES = ("auto", "whole", "slice")


class ConfigError(Exception):
    """Settings that cannot be used; the message names the file and the key at fault."""


@dataclass(frozen=True)
class Settings:
    """The options for one repository: built-in defaults, overlaid by a settings file and then by flags."""

    budget: int = 32_000              # tokens for `repoctx pack`
    encoding: str | None = None       # token encoding or model name; None = best available
    format: str = "xml"               # one of FORMATS
    mode: str = "auto"                # one of MODES
    include: tuple[str, ...] = ()     # gitignore-style globs; when given, only matching files are kept
    exclude: tuple[str, ...] = ()
    max_file_size: int = 1_000_000    # bytes; larger files are skipped
    line_numbers: bool = False
    map_budget: int = 4_000           # tokens for `repoctx map`
    snapshot_max_count: int = 200     # pre-commit snapshots kept (oldest removed first)
    snapshot_max_bytes: int = 50_000_000  # and their total size
    redact: bool = True               # redact secrets in packs and leave out secret files
    # Where the values came from; not settings, so equality ignores them (compare=False).
    source: str | None = field(default=None, compare=False)   # the file read, or None for defaults
    notes: tuple[str, ...] = field(default=(), compare=False)  # things the user should be told

    def merged(self, **overrides: object) -> Settings:
        """A copy with `overrides` applied, skipping those that are None (flags the user did not give).
        Values are checked like file values ("8k" works); an unknown name is a TypeError."""
        unknown = sorted(set(overrides) - set(KEYS))
        if unknown:
            raise TypeError(f"Settings.merged: unknown setting(s): {', '.join(unknown)}")
        changes = {k: check(k, v, "override:") for k, v in overrides.items() if v is not None}
        return dataclasses.replace(self, **changes)


#: The setting names, in the order of the dataclass (source and notes are not settings).
KEYS = tuple(f.name for f in dataclasses.fields(Settings) if f.compare)

_COUNT = re.compile(r"(\d+(?:_\d+)*(?:\.\d+)?)\s*([km]?)", re.IGNORECASE)


def parse_count(value: int | str) -> int:
    """A positive whole count from an int or a string with an optional suffix: k = 1,000,
    m = 1,000,000 ("500", "32k", "1.5m", "32_000"). Raises ValueError otherwise (zero, negative,
    fractional, bool, float, anything else)."""
    if isinstance(value, int) and not isinstance(value, bool):
        count = value
    else:
        m = _COUNT.fullmatch(value.strip()) if isinstance(value, str) else None
        if m is None:
            raise ValueError(f'not a count: {value!r} (use e.g. 500, "32k", "1m")')
        digits, scale = m[1].replace("_", ""), 1_000 if m[2].lower() == "k" else 1_000_000 if m[2] else 1
        if "." in digits:  # "1.5m": exact decimal arithmetic, never a float's rounding
            from decimal import Decimal
            exact = Decimal(digits) * scale
            if exact != exact.to_integral_value():
                raise ValueError(f"not a whole number: {value!r}")
            count = int(exact)
        else:
            count = int(digits) * scale
    if count <= 0:
        raise ValueError(f"must be positive: {value!r}")
    return count


_EXPECTED = {
    "budget": 'a positive token count like 32000 or "32k"',
    "encoding": 'an encoding or model name like "o200k_base"',
    "format": "one of " + ", ".join(f'"{f}"' for f in FORMATS),
    "mode": "one of " + ", ".join(f'"{m}"' for m in MODES),
    "include": 'a list of gitignore-style globs like ["src/**"]',
    "exclude": 'a list of gitignore-style globs like ["tests/"]',
    "max_file_size": 'a positive size in bytes like 1000000 or "1m"',
    "line_numbers": "true or false",
    "redact": "true or false",
    "map_budget": 'a positive token count like 4000 or "4k"',
    "snapshot_max_count": "a positive count like 200",
    "snapshot_max_bytes": 'a positive size in bytes like 50000000 or "50m"',
}


def check(key: str, value: object, where: str = "") -> object:
    """`value` normalised for setting `key`, or ConfigError "<where> <key>: expected …, got …"."""
    if key in ("budget", "max_file_size", "map_budget", "snapshot_max_count", "snapshot_max_bytes"):
        try:
            return parse_count(value)  # type: ignore[arg-type]
        except ValueError:
            pass
    elif key == "encoding":
        if isinstance(value, str) and value.strip():
            return value.strip()
    elif key == "format":
        if isinstance(value, str) and value in FORMATS:
            return value
    elif key == "mode":
        if isinstance(value, str) and value in MODES:
            return value
    elif key in ("include", "exclude"):
        if isinstance(value, str):
            return (value,)
        if isinstance(value, (list, tuple)) and all(isinstance(g, str) for g in value):
            return tuple(value)
    elif key in ("line_numbers", "redact") and isinstance(value, bool):
        return value
    raise ConfigError(f"{where} {key}: expected {_EXPECTED[key]}, got {_shown(value)}".lstrip())


def _shown(value: object) -> str:
    """A bad value as an error message shows it: as JSON (json is imported only for an error)."""
    import json
    return json.dumps(value, ensure_ascii=False, default=str)


#: Setting names as editors send them (initializationOptions, didChangeConfiguration): camelCase.
CLIENT_KEYS = {"".join(w if i == 0 else w.title() for i, w in enumerate(k.split("_"))): k for k in KEYS}


def from_client(options: object) -> dict:
    """Settings overrides from an editor's or agent's options (camelCase keys, e.g. `lineNumbers`),
    each checked as a settings file's value is; keys that are not settings are ignored, None means
    "not given". Raises ConfigError for a bad value."""
    if not isinstance(options, dict):
        return {}
    return {CLIENT_KEYS[k]: check(CLIENT_KEYS[k], v, "setting") for k, v in options.items()
            if k in CLIENT_KEYS and v is not None}


def _from_table(table: dict, where: str, source: str, notes: tuple[str, ...] = ()) -> Settings:
    """Settings from one TOML table, every key checked; `where` prefixes error messages."""
    for key in table:
        if key not in KEYS:
            import difflib
            close = difflib.get_close_matches(key, KEYS, n=1)
            hint = f"did you mean {close[0]!r}? " if close else ""
            raise ConfigError(f"{where} unknown key {key!r} ({hint}known: {', '.join(KEYS)})")
    values = {key: check(key, value, where) for key, value in table.items()}
    if values.pop("redact", True) is False:
        notes += (f"{where} redact = false ignored: a repository cannot turn redaction off "
                  f"(the user can: --no-redact, or {REDACT_ENV}=off)".lstrip(),)
    return Settings(**values, source=source, notes=notes)  # type: ignore[arg-type]


def _read_toml(path: str, name: str) -> dict:
    """The parsed file, or ConfigError naming the file (and, for syntax errors, the line)."""
    tomllib = _tomllib()
    try:
        return tomllib.loads(read_file("", path, follow=True).decode("utf-8"))  # a FIFO never blocks
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{name}: TOML syntax error: {exc}") from None  # "… (at line 3, column 9)"
    except UnicodeDecodeError:
        raise ConfigError(f"{name}: not UTF-8 text") from None
    except OSError as exc:
        raise ConfigError(f"{name}: cannot read {path}: {exc.strerror or exc}") from None


def _pyproject_table(path: str) -> dict | None:
    """The `[tool.repoctx]` table of pyproject.toml, or None when there is none (or no file, or a
    file that never mentions repoctx). Raises ConfigError for a broken file that does mention it."""
    try:
        if b"repoctx" not in read_file("", path, follow=True):
            return None
    except OSError:
        return None  # no pyproject.toml (or not a readable file): nothing of ours in it
    tool = _read_toml(path, PYPROJECT_FILE).get("tool")
    table = tool.get("repoctx") if isinstance(tool, dict) else None
    if table is not None and not isinstance(table, dict):
        raise ConfigError(f"{PYPROJECT_FILE}: [tool.repoctx] must be a table, got {_shown(table)}")
    return table


def load_settings(root: str) -> Settings:
    """The settings of the repository at `root`: `.repoctx.toml` if present, else `[tool.repoctx]`
    in pyproject.toml, else the defaults; then the user's REPOCTX_REDACT. Raises ConfigError for
    anything it cannot use."""
    settings = _repository_settings(root)
    value = os.environ.get(REDACT_ENV, "").strip().lower()
    if not value:
        return settings
    if value not in ("on", "off", "true", "false", "1", "0", "yes", "no"):
        raise ConfigError(f"{REDACT_ENV}: expected on or off, got {os.environ[REDACT_ENV]!r}")
    return dataclasses.replace(settings, redact=value in ("on", "true", "1", "yes"))


def _repository_settings(root: str) -> Settings:
    """The settings the repository's own file gives (redaction stays on, see the module docstring)."""
    config = os.path.join(root, CONFIG_FILE)
    pyproject = os.path.join(root, PYPROJECT_FILE)
    if os.path.lexists(config):
        notes: tuple[str, ...] = ()
        try:
            if _pyproject_table(pyproject) is not None:
                notes = (f"{PYPROJECT_FILE}: [tool.repoctx] ignored; {CONFIG_FILE} takes precedence",)
        except ConfigError:
            pass  # a pyproject.toml that will not be used anyway
        return _from_table(_read_toml(config, CONFIG_FILE), f"{CONFIG_FILE}:", config, notes)
    table = _pyproject_table(pyproject)
    if table is None:
        return Settings()
    return _from_table(table, f"{PYPROJECT_FILE}: [tool.repoctx]", pyproject)


_COMMENTS = {
    "budget": 'Token budget for `repoctx pack`: a count like 32000, or "32k", "1m".',
    "encoding": 'Token encoding or model name ("o200k_base", "cl100k_base", "gpt-4o"); unset = best available.',
    "format": 'Output format: "xml", "markdown", "plain" or "json".',
    "mode": '"auto" (whole repository if it fits, else slices), "whole" or "slice".',
    "include": "Only files matching these gitignore-style globs ([] = every file).",
    "exclude": "Leave out files matching these gitignore-style globs.",
    "max_file_size": 'Skip files larger than this many bytes (or "1m"-style).',
    "line_numbers": "Prefix each code line with its line number.",
    "map_budget": "Token budget for `repoctx map`.",
    "snapshot_max_count": "Pre-commit snapshots kept in .repoctx/snapshots; the oldest go first.",
    "snapshot_max_bytes": 'Their total size in bytes (or "50m"-style).',
    "redact": ("Redact secrets found in packs and leave out secret files (.env, keys). Only the user turns it off "
               f"(--no-redact, {REDACT_ENV}=off): false here is ignored."),
}


def _toml_value(value: object) -> str:
    import json
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return f"{value:_}"
    if isinstance(value, tuple):
        return "[" + ", ".join(json.dumps(v) for v in value) + "]"
    return json.dumps(value)


def _default_text() -> str:
    """The commented `.repoctx.toml` that `write_default_config` writes: every key at its default."""
    lines = ["# repoctx settings for this repository. Command-line flags override them;",
             "# delete a line to use the built-in default.", ""]
    for key in KEYS:
        default = getattr(Settings(), key)
        lines.append(f"# {_COMMENTS[key]}")
        if default is None:
            lines.append(f'# {key} = "o200k_base"')  # None cannot be written in TOML: leave it unset
        else:
            lines.append(f"{key} = {_toml_value(default)}")
        lines.append("")
    return "\n".join(lines)


def write_default_config(root: str, force: bool = False) -> str:
    """Write a commented `.repoctx.toml` holding the defaults into `root`, atomically (a temporary
    file beside it, then a rename), and return its path. An existing file is kept, with a
    ConfigError, unless `force`."""
    path = os.path.join(root, CONFIG_FILE)
    if os.path.lexists(path) and not force:
        raise ConfigError(f"{path} already exists; not overwriting it (use --force to replace it)")
    write_atomic(path, _default_text(), mode=0o644)  # a settings file is meant to be shared
    return path
