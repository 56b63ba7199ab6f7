"""Damage of every stored file kind is found and repaired: the answers are a fresh index's, with one
warning line, exit 0, and no traceback — through the real CLI.

Each stored file (the SQLite index, the graph's and the literal index's state files and their bases,
the retrieval arrays, the token counts and secrets caches) is truncated, zeroed (6 KB in the middle), overwritten with random bytes,
or swapped for another repository's file of the same kind (renamed into place with its seal); the
index is also swapped for one written under another user's key. The index and the counts and
secrets caches are kept by content (blob SHA), so another repository's copy is no damage: it must
give the fresh answers with no warning. `pack`, `search` and `map` must then
answer exactly as with a fresh index, say so in exactly one warning line, and leave the store
repaired (the next run says nothing).
"""
from __future__ import annotations

import os
import random
import shutil
import sqlite3
from pathlib import Path

import pytest

from conftest import make_repo, run_cli

QUERY = "session cookie expiry refresh"


def _files(flavour: str) -> dict[str, str]:
    """Forty Python modules with enough shared words that a search has 20 results to give."""
    out = {}
    for i in range(40):
        out[f"pkg/mod{i:02d}.py"] = (
            f'"""Module {i} of the {flavour} sessions."""\nfrom pkg.mod{(i + 1) % 40:02d} import session_{(i + 1) % 40}\n\n\n'
            + "".join(f"def session_{i}_{k}(cookie, expiry={k}):\n    '''Refresh the session cookie {k}.'''\n"
                      f"    token = 'session-{flavour}-{i}-{k}'\n    return session_{(i + 1) % 40}(cookie) + expiry\n\n\n"
                      for k in range(6))
            + f"def session_{i}(cookie):\n    return len(cookie) + {i}\n")
    return out


COMMANDS = {
    "pack": ["pack", "--query", QUERY, "--budget", "6k"],
    "search": ["search", "session", "--limit", "20"],
    "map": ["map"],
    "whole": ["pack", "--mode", "whole", "--budget", "100k"],
    "graph": ["graph", "--format", "json"],
}


def _run(repo: Path, index: Path, command: str, key_home: Path) -> tuple[str, list[str]]:
    r = run_cli(*COMMANDS[command], cwd=repo,
                env={"REPOCTX_INDEX": str(index), "XDG_CACHE_HOME": str(key_home)})
    assert r.returncode == 0, r.stderr
    assert "Traceback" not in r.stderr, r.stderr
    return r.stdout, [ln for ln in r.stderr.splitlines() if ln.startswith("repoctx: warning:")]


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """Two repositories, each with a warm index of every kind (`pack`, `search`, `map` run once),
    and the answers of those fresh indexes."""
    base = tmp_path_factory.mktemp("damage")
    home = base / "home"
    out = {"home": home, "base": base}
    for name in ("a", "b"):
        repo = make_repo(base / name, _files(name))
        index = base / f"ix-{name}" / "index.sqlite"
        answers = {}
        for command in COMMANDS:
            answers[command], warnings = _run(repo, index, command, home)
            assert not warnings
        out[name] = (repo, index, answers)
    assert out["a"][2]["search"].count("\n") >= 20 and "def session_" in out["a"][2]["pack"]
    assert "pkg/mod39.py" in out["a"][2]["whole"] and "pkg/mod00.py" in out["a"][2]["map"]
    return out


def _stored(index: Path, kind: str) -> Path:
    """The stored file of `kind` beside `index` (one per kind in a warm index of one state)."""
    if kind == "index":
        return index
    if kind in ("counts", "secrets"):
        return index.parent / {"counts": "counts.sealed", "secrets": "secrets.sealed"}[kind]
    [file] = [p for p in (index.parent / kind).iterdir() if not p.name.endswith(".seal")]
    return file


def _checkpoint(index: Path) -> None:
    """Fold the WAL into the file, so that damage to the file is damage to the data."""
    db = sqlite3.connect(index)
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()


def _damage(file: Path, how: str, other: Path) -> None:
    data = bytearray(file.read_bytes())
    mid = len(data) // 2
    if how == "truncated":
        data = data[:mid]
    elif how in ("zeroed", "random"):  # 6 KB in the middle (a third of a smaller file)
        n = min(6144, len(data) // 3)
        a = mid - n // 2
        data[a:a + n] = bytes(n) if how == "zeroed" else random.Random(24).randbytes(n)
    elif how == "swapped":  # another repository's file of the same kind, renamed into place with its seal
        data = bytearray(other.read_bytes())
        if os.path.exists(f"{other}.seal"):
            shutil.copyfile(f"{other}.seal", f"{file}.seal")
    file.write_bytes(bytes(data))


KINDS = ["index", "retrieval", "graph", "graph-base", "literals", "literals-base", "counts", "secrets"]
DAMAGE = ["truncated", "zeroed", "random", "swapped"]
#: Kept by content (blob SHA, text hash), not by repository state: another repository's copy holds
#: true values, so a swap is no damage (the answers must still be the fresh ones).
CONTENT_ADDRESSED = ("index", "counts", "secrets")
#: Which command reads each kind (every one reads the index).
READER = {"index": ["pack", "search", "map"], "retrieval": ["pack", "search"], "graph": ["graph"],
          "graph-base": ["graph", "pack"], "literals": ["pack"], "literals-base": ["pack"], "counts": ["whole"],
          "secrets": ["pack"]}


@pytest.mark.parametrize("how", DAMAGE)
@pytest.mark.parametrize("kind", KINDS)
def test_damage_is_repaired_with_one_warning(world, tmp_path, kind, how):
    repo, index, answers = world["a"]
    other = world["b"][1]
    for command in READER[kind]:
        ix = tmp_path / command / "index.sqlite"
        shutil.copytree(index.parent, ix.parent)
        if kind == "index":
            _checkpoint(ix)
        theirs = tmp_path / f"{command}-b" / "index.sqlite"
        shutil.copytree(other.parent, theirs.parent)
        _checkpoint(theirs)
        file = _stored(ix, kind)
        _damage(file, how, _stored(theirs, kind))
        if kind in CONTENT_ADDRESSED and how == "swapped":  # another repository's rows are true here too
            got, warnings = _run(repo, ix, command, world["home"])
            assert (got, warnings) == (answers[command], []), command
            continue
        got, warnings = _run(repo, ix, command, world["home"])
        assert got == answers[command], command
        assert len(warnings) == 1, (command, warnings)
        assert _run(repo, ix, command, world["home"]) == (answers[command], []), command  # repaired


def test_an_index_written_under_another_key_is_rebuilt_once(world, tmp_path):
    repo, index, answers = world["a"]
    ix = tmp_path / "ix" / "index.sqlite"
    shutil.copytree(index.parent, ix.parent)
    elsewhere = tmp_path / "another-user"
    got, warnings = _run(repo, ix, "pack", elsewhere)
    assert got == answers["pack"] and len(warnings) == 1 and "another user's key" in warnings[0]
    assert _run(repo, ix, "pack", elsewhere) == (answers["pack"], [])


@pytest.mark.parametrize("how", ["truncated", "zeroed", "random"])
def test_repoctx_index_repairs_a_damaged_index(world, tmp_path, how):
    repo, index, answers = world["a"]
    ix = tmp_path / "ix" / "index.sqlite"
    shutil.copytree(index.parent, ix.parent)
    _checkpoint(ix)
    _damage(ix, how, ix)
    r = run_cli("index", cwd=repo, env={"REPOCTX_INDEX": str(ix), "XDG_CACHE_HOME": str(world["home"])})
    assert r.returncode == 0 and "Traceback" not in r.stderr, r.stderr
    assert r.stderr.count("repoctx: warning:") == 1, r.stderr
    assert _run(repo, ix, "pack", world["home"]) == (answers["pack"], [])
