"""The graph after an edit is relinked from the previous state's file (graph/store.py), and must be
the graph a cold build of the new state makes: each case here is an edit whose effect reaches files
the edit did not touch — through a header another header includes, a re-export, a star import, a
renamed definition — so relinking only the edited file would leave those files' links stale.

Each case writes a repository (real git), packs and exports the graph with one index, edits a file
(the set of paths unchanged: an update, not a whole build), and compares the graph and a pack with
a fresh index of the edited state. A previous graph file that is damaged after it was sealed is no
base: the graph is built whole, with one warning.
"""
from __future__ import annotations

import contextlib
import io
import json
import os
from pathlib import Path

import pytest
from conftest import make_repo

from repoctx import cli
from repoctx.graph import store

CASES = {
    # main.c reaches twin() through a.h's include: b.h's, then c.h's
    "header": ({"main.c": '#include "a.h"\n\nint main(void) {\n  return twin(1);\n}\n',
                "a.h": '#include "b.h"\n\nint a_only(int x);\n',
                "b.h": "int twin(int x) { return x; }\n", "c.h": "int twin(int x) { return -x; }\n"},
               {"a.h": '#include "c.h"\n\nint a_only(int x);\n'},
               ("main.c:main", "c.h:twin")),
    # app.py's `thing` is what pkg/__init__.py re-exports: impl's, then other's
    "reexport": ({"pkg/__init__.py": "from .impl import thing\n",
                  "pkg/impl.py": "def thing():\n    return 1\n", "pkg/other.py": "def thing():\n    return 2\n",
                  "app.py": "from pkg import thing\n\n\ndef run():\n    return thing()\n"},
                 {"pkg/__init__.py": "from .other import thing\n"},
                 ("app.py:run", "pkg/other.py:thing")),
    # the same through a star import
    "star": ({"pkg/__init__.py": "from .impl import *\n",
              "pkg/impl.py": "def thing():\n    return 1\n", "pkg/other.py": "def thing():\n    return 2\n",
              "app.py": "from pkg import thing\n\n\ndef run():\n    return thing()\n"},
             {"pkg/__init__.py": "from .other import *\n"},
             ("app.py:run", "pkg/other.py:thing")),
    # a definition renamed: its callers elsewhere link to the new name's definition
    "renamed": ({"pkg/__init__.py": "", "pkg/impl.py": "def thing():\n    return 1\n\n\ndef stuff():\n    return 3\n",
                 "app.py": "from pkg import impl\n\n\ndef run():\n    return impl.stuff() + impl.thing()\n"},
                {"pkg/impl.py": "def thing():\n    return 1\n"},
                ("app.py:run", "pkg/impl.py:thing")),
}

#: Files no edit reaches: what makes relinking a few files cheaper than a whole build (store.MAX_SHARE).
PADDING = {f"pad/p{i}.py": f"def pad_{i}(x):\n    return x + {i}\n" for i in range(12)}


def _run(*args: str) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = cli.main(list(args))
    assert code == 0, (args, err.getvalue())
    return out.getvalue(), err.getvalue()


def _store_warnings(err: str) -> list[str]:
    """The warnings about stored files (not those about the query or the budget)."""
    return [ln for ln in err.splitlines() if ln.startswith("repoctx: warning:") and "cache" in ln]


def _answers(root: Path, index: Path) -> tuple[list[str], str]:
    common = ("--index", str(index))
    graph, err = _run("graph", str(root), "--format", "json", *common)
    pack, err2 = _run("pack", str(root), "--query", "thing twin run", "--budget", "2k", "--mode", "slice", *common)
    return [graph, pack], err + err2


@pytest.mark.parametrize("case", sorted(CASES))
def test_an_edit_relinks_what_it_reaches(tmp_path, monkeypatch, case):
    before, edit, (source, target) = CASES[case]
    root = make_repo(tmp_path / "repo", before | PADDING)
    walked = tmp_path / "walked" / "index.sqlite"
    _answers(root, walked)
    plans = []
    monkeypatch.setattr(store, "_plan", lambda *args, real=store._plan: plans.append(out := real(*args)) or out)
    for path, text in edit.items():
        (root / path).write_text(text)
    got, warnings = _answers(root, walked)
    assert plans and plans[0] is not None, "the graph was built whole, not updated"
    assert sorted(plans[0].changed) == sorted(edit)
    want, _ = _answers(root, tmp_path / "cold" / "index.sqlite")
    assert got == want
    assert not _store_warnings(warnings)
    refs = {(r["source"], r["target"]) for r in json.loads(got[0])["references"]}
    assert (source, target) in refs, refs  # the case means what it says


def test_a_damaged_previous_graph_is_built_whole_with_one_warning(tmp_path, monkeypatch):
    before, edit, _ = CASES["reexport"]
    root = make_repo(tmp_path / "repo", before | PADDING)
    walked = tmp_path / "walked" / "index.sqlite"
    _answers(root, walked)
    [old] = [p for p in (walked.parent / "graph").iterdir() if p.suffix == ".sqlite"]
    data = bytearray(old.read_bytes())
    mid = len(data) // 2
    data[mid:mid + 512] = bytes(b ^ 0xFF for b in data[mid:mid + 512])  # sealed, then changed (whatever was there)
    old.write_bytes(bytes(data))
    for path, text in edit.items():
        (root / path).write_text(text)
    built = []
    monkeypatch.setattr(store, "_plan", lambda *args: built.append(args))
    got, err = _answers(root, walked)
    assert not built  # never planned from the damaged file
    assert got == _answers(root, tmp_path / "cold" / "index.sqlite")[0]
    assert len(_store_warnings(err)) == 1 and "graph cache" in err, err
    assert not _store_warnings(_answers(root, walked)[1])  # repaired: the next run says nothing


def test_a_previous_graph_of_other_linking_code_is_no_base(tmp_path, monkeypatch):
    """A graph file written by other linking code (a rule changed, GRAPH_VERSION not bumped) is not
    updated from: its links of the files an edit does not reach would stay the old rules'."""
    before, edit, _ = CASES["renamed"]
    root = make_repo(tmp_path / "repo", before | PADDING)
    walked = tmp_path / "walked" / "index.sqlite"
    monkeypatch.setattr(store, "_code_digest", lambda: "other code")
    _answers(root, walked)
    monkeypatch.undo()
    plans = []
    monkeypatch.setattr(store, "_plan", lambda *args, real=store._plan: plans.append(out := real(*args)) or out)
    for path, text in edit.items():
        (root / path).write_text(text)
    got, err = _answers(root, walked)
    assert plans == [None] and not _store_warnings(err)
    assert got == _answers(root, tmp_path / "cold" / "index.sqlite")[0]


def _edited(tmp_path: Path, monkeypatch) -> tuple[Path, Path]:
    """A repository and its walked index: a state (a base and an empty delta), then an edit whose
    state is a delta over that base (MERGE_SHARE raised: a delta over sixteen files merges at once)."""
    monkeypatch.setattr(store, "MERGE_SHARE", 1.0)
    before, edit, _ = CASES["reexport"]
    root = make_repo(tmp_path / "repo", before | PADDING)
    walked = tmp_path / "walked" / "index.sqlite"
    _answers(root, walked)
    for path, text in edit.items():
        (root / path).write_text(text)
    _answers(root, walked)
    return root, walked


def _sqlite(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.suffix == ".sqlite")


def test_an_edit_writes_a_delta_over_the_base_not_a_copy(tmp_path, monkeypatch):
    """The graph folder does not grow by a whole graph per edit: the edited state's file holds the
    relinked files' rows over the first state's base, and reads as a cold build's graph."""
    root, walked = _edited(tmp_path, monkeypatch)
    [base] = _sqlite(walked.parent / "graph-base")
    states = _sqlite(walked.parent / "graph")
    assert len(states) == 2
    views = [store._View(str(s)) for s in states]
    try:
        assert {v.base_path for v in views} == {str(base)}
        assert sorted(len(v.stale_paths) for v in views) == [0, 1]  # the edited file's rows superseded
    finally:
        for v in views:
            v.close()
    assert _answers(root, walked)[0] == _answers(root, tmp_path / "cold" / "index.sqlite")[0]


@pytest.mark.parametrize("then", ["query", "edit"])
@pytest.mark.parametrize("how", ["zeroed", "another base sealed in its name"])
def test_a_damaged_base_under_a_delta_is_built_again_with_one_warning(tmp_path, monkeypatch, how, then):
    """A base changed after a delta was written over it — zeroed, or replaced by another base of
    ours sealed under its name (a valid graph, of another repository) — is never read with the
    delta: the state is built again, with one warning, and the answers are a cold index's."""
    from repoctx.index import seal
    root, walked = _edited(tmp_path, monkeypatch)
    [base] = _sqlite(walked.parent / "graph-base")
    if how == "zeroed":
        data = bytearray(base.read_bytes())
        mid = len(data) // 2
        data[mid:mid + 4096] = bytes(4096)
        base.write_bytes(bytes(data))
    else:
        other = make_repo(tmp_path / "other", CASES["header"][0] | PADDING)
        _answers(other, tmp_path / "other-ix" / "index.sqlite")
        [theirs] = _sqlite(tmp_path / "other-ix" / "graph-base")
        base.write_bytes(theirs.read_bytes())
        seal.seal_file(str(base), f"graph-base/{base.name}")
    if then == "edit":
        (root / "pad" / "p3.py").write_text("def pad_3(x):\n    return x - 3\n")
    got, err = _answers(root, walked)
    assert got == _answers(root, tmp_path / "cold" / "index.sqlite")[0]
    assert len(_store_warnings(err)) == 1, err
    assert not _store_warnings(_answers(root, walked)[1])  # repaired: the next run says nothing


def test_bases_no_kept_state_names_are_removed(tmp_path, monkeypatch):
    """Each merge writes a new base; once the states over an old base are pruned (cache.KEEP), the
    old base goes too, whether the next state is a base or a delta: the folder holds the bases the
    kept states read, not one per merge."""
    from repoctx.index.cache import KEEP
    root = make_repo(tmp_path / "repo", CASES["renamed"][0] | PADDING)
    walked = tmp_path / "walked" / "index.sqlite"
    for n, share in enumerate([0.0] * 4 + [1.0] * (KEEP + 2)):  # merged at every edit, then deltas
        monkeypatch.setattr(store, "MERGE_SHARE", share)
        (root / "pad" / "p1.py").write_text(f"def pad_1(x):\n    return x + {n}\n")
        _answers(root, walked)
    named = set()
    for state in _sqlite(walked.parent / "graph"):
        view = store._View(str(state))
        named.add(os.path.basename(view.base_path))
        view.close()
    assert {p.name for p in _sqlite(walked.parent / "graph-base")} == named and len(named) == 1
