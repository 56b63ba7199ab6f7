"""Every option of every command has help text, and the README's command table and `--help` agree
both ways: each command and option `--help` knows is in the table (or the shared options paragraph),
and each command and option the table names exists."""
from __future__ import annotations

import argparse
import re
from pathlib import Path

import pytest

from repoctx import cli
from repoctx_server import language_server, mcp_server

README = (Path(__file__).resolve().parents[1] / "README.md").read_text()
_FLAG = re.compile(r"(?<![\w-])(--[a-z][\w-]*|-[a-zA-Z](?![\w-]))")  # --long, -o; not FILE[:LINE[-LINE]]


def parsers() -> dict[str, argparse.ArgumentParser]:
    """Each command's parser: the CLI's subparsers, with the servers' own for `serve` and `mcp`."""
    sub = next(a for a in cli.build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    found = dict(sub.choices)
    found["serve"] = language_server.build_parser()
    found["mcp"] = mcp_server.build_parser()
    return found


def actions(parser: argparse.ArgumentParser) -> list[argparse.Action]:
    return [a for a in parser._actions if not isinstance(a, argparse._HelpAction)]


def commands_section() -> str:
    return README.split("\n## Commands\n", 1)[1].split("\n## ", 1)[0]


def table() -> dict[str, list[str]]:
    """command → the syntax cells of its rows (`repoctx pack [PATH] ...`)."""
    rows: dict[str, list[str]] = {}
    for line in commands_section().splitlines():
        m = re.match(r"\| `(repoctx [^|]*?(?:\\\|[^|]*?)*)` ", line)
        if m:
            cell = line.split(" | ", 1)[0]
            for name in m[1].split()[1].split("\\|"):  # `repoctx pack\|map URL ...`: a row for each
                rows.setdefault(name, []).append(cell.replace("\\|", "|"))
    return rows


def shared() -> tuple[set[str], set[str]]:
    """(commands, flags) of the paragraph of options shared by the repository commands."""
    para = commands_section().split("Options shared by the repository commands", 1)[1].split("\n\n", 1)[0]
    names, rest = para.split(":", 1)
    return set(re.findall(r"`(\w+)`", names)), set(re.findall(r"`(--[\w-]+)", rest))


def flags(text: str) -> set[str]:
    return set(_FLAG.findall(text))


def test_every_option_of_every_command_has_help():
    missing = [f"{name} {a.option_strings or a.dest}" for name, p in parsers().items() for a in actions(p)
               if not a.help or a.help == argparse.SUPPRESS]
    assert missing == []
    top = next(a for a in cli.build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    assert all(c.help for c in top._choices_actions) and {c.dest for c in top._choices_actions} == set(parsers())


def test_the_readme_table_lists_exactly_the_commands():
    assert set(table()) == set(parsers())


@pytest.mark.parametrize("name", sorted(parsers()))
def test_every_option_is_in_the_readme_and_every_readme_option_exists(name):
    parser, cells = parsers()[name], table()[name]
    syntax = " ".join(cells)
    shared_commands, shared_flags = shared()
    documented = flags(syntax) | (shared_flags if name in shared_commands else set())
    known = {s for a in actions(parser) for s in a.option_strings}
    for a in actions(parser):
        if a.option_strings:  # an option: one of its spellings is in the table
            assert set(a.option_strings) & documented, f"{name}: {a.option_strings} is not in the README table"
        elif a.choices:  # an action word: each choice is shown
            for choice in a.choices:
                assert re.search(rf"\b{re.escape(choice)}\b", syntax), f"{name}: {choice!r} is not in the README"
        else:  # a positional: its metavar, as the table writes it
            shown = (a.metavar or a.dest).upper()
            assert shown in syntax, f"{name}: {shown} is not in the README table"
    assert flags(syntax) - known == set(), f"{name}: the README names options --help does not know"
    if name in shared_commands:
        assert shared_flags <= known, f"{name}: a shared option is missing"


def test_pack_help_says_what_focus_paths_are_and_that_whole_exits_3(capsys):
    with pytest.raises(SystemExit):
        cli.main(["pack", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "FILE is repository-relative" in text and "exit 3" in text
