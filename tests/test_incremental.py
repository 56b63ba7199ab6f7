"""Derived state updated from the previous state gives what a cold index of the same state gives.

A real git history (Python, JavaScript, Go and C files; each commit touches 1-5 files: edits, new
files, deletions, renames) is walked forward and back, with one uncommitted edit on the way. At every
step the same queries run against the index that followed the walk (its retrieval index and graph
updated from the previous state's, `retrieve/delta.py`, `graph/store.py`) and against a fresh index
of that state; packs, search results, the map, the whole graph and the retrieval files themselves
must be identical.
"""
from __future__ import annotations

import contextlib
import io
import os
import random
from pathlib import Path

import numpy as np
import pytest
from conftest import git, make_repo, run_cli

from repoctx import cli
from repoctx.graph import store
from repoctx.index.arrays import read_arrays
from repoctx.retrieve import delta

WORDS = ["parse", "value", "token", "buffer", "render", "cache", "index", "route", "handler", "session",
         "query", "budget", "graph", "error", "retry", "stream", "config", "loader", "widget"]


def _py(rng: random.Random, i: int, n: int) -> str:
    other = rng.randrange(n)
    body = [f"from pkg import mod{other}\n\n"]
    for j in range(rng.randint(1, 4)):
        w = rng.choice(WORDS)
        body.append(f"def {w}_{i}_{j}(x):\n    \"\"\"{w} the {rng.choice(WORDS)}.\"\"\"\n"
                    f"    if x is None:\n        raise ValueError(\"cannot {w} {{}} now\".format(x))\n"
                    f"    return mod{other}.helper_{other}(x) + {j}\n\n\n")
    body.append(f"def helper_{i}(x):\n    return x * {i}\n")
    return "".join(body)


def _js(rng: random.Random, i: int, n: int) -> str:
    other = rng.randrange(n)
    w = rng.choice(WORDS)
    return (f"const m = require('./m{other}');\n\nfunction {w}Item{i}(x) {{\n"
            f"  if (!x) throw new Error(`no {w} for ${{x}}`);\n  return m.{rng.choice(WORDS)}Item{other}(x);\n}}\n\n"
            f"module.exports = {{ {w}Item{i} }};\n")


def _go(rng: random.Random, i: int) -> str:
    w = rng.choice(WORDS).capitalize()
    return (f"package svc\n\nimport \"fmt\"\n\n// {w}{i} does the {w.lower()} step.\nfunc {w}{i}(x int) int {{\n"
            f"\tfmt.Println(\"{w.lower()} step\", x)\n\treturn Helper{rng.randrange(6)}(x) + {i}\n}}\n\n"
            f"func Helper{i}(x int) int {{ return x * 2 }}\n")


def _c(rng: random.Random, i: int) -> str:
    """A C header that includes another (so an edit can change what a file reaches through the
    headers it includes), declaring, defining and calling functions named by a word; `twin_0` and
    `twin_1` are each defined in two headers, so which one a call means depends on the headers
    the caller reaches."""
    w, other = rng.choice(WORDS), rng.randrange(4)
    return (f"#include \"h{other}.h\"\n\nint {w}_c{i}(int x);\n\nint {w}_c{i}(int x) {{\n"
            f"  return helper_h{other}(x) + {rng.choice(WORDS)}_c{rng.randrange(4)}(x) + twin_{1 - i % 2}(x);\n}}\n\n"
            f"int helper_h{i}(int x) {{ return x * {i}; }}\n\nint twin_{i % 2}(int x) {{ return x; }}\n")


def _history(root: Path, commits: int = 30, seed: int = 27) -> list[str]:
    """A repository with `commits` commits after the first; the commit ids, oldest first."""
    rng = random.Random(seed)
    files: dict[str, str] = {"pkg/__init__.py": ""}
    files |= {f"pkg/mod{i}.py": _py(rng, i, 8) for i in range(8)}
    files |= {f"web/m{i}.js": _js(rng, i, 6) for i in range(6)}
    files |= {f"svc/s{i}.go": _go(rng, i) for i in range(6)}
    files |= {f"lib/h{i}.h": _c(rng, i) for i in range(4)}
    files["README.md"] = "# demo\n\nParse values and render the cache.\n"
    make_repo(root, files)
    shas = [git(root, "rev-parse", "HEAD").strip()]
    for c in range(commits):
        edits_only = rng.random() < 0.5  # half the commits keep the set of paths (the graph's updates)
        for _ in range(rng.randint(1, 5)):
            path = rng.choice(sorted(p for p in files if p != "pkg/__init__.py"))
            action = rng.random() * (0.6 if edits_only else 1.0)
            if action < 0.6:  # an edit: a file made again, or a line added
                if rng.random() < 0.5:
                    text = files[path] + f"\n# {rng.choice(WORDS)} note {c}\n" if path.endswith(".py") else \
                        files[path] + f"\n// {rng.choice(WORDS)} note {c}\n"
                else:
                    i = int("".join(ch for ch in Path(path).stem if ch.isdigit()) or 0)
                    text = _py(rng, i, 8) if path.endswith(".py") else _js(rng, i, 6) if path.endswith(".js") else \
                        _go(rng, i) if path.endswith(".go") else _c(rng, i % 4) if path.endswith(".h") else \
                        files[path] + "More.\n"
                files[path] = text
                (root / path).write_text(text)
            elif action < 0.75:  # a new file
                i = 100 + c
                new, text = rng.choice([(f"pkg/mod{i}.py", _py(rng, i, 8)), (f"web/m{i}.js", _js(rng, i, 6)),
                                        (f"svc/s{i}.go", _go(rng, i))])
                files[new] = text
                (root / new).write_text(text)
            elif action < 0.9 and len(files) > 12:  # a deletion
                del files[path]
                (root / path).unlink()
            else:  # a rename
                new = path.replace("/", f"/r{c}_", 1) if "/" in path else f"r{c}_{path}"
                files[new] = files.pop(path)
                git(root, "mv", path, new)
        git(root, "add", "-A")
        git(root, "commit", "-q", "-m", f"step {c}")
        shas.append(git(root, "rev-parse", "HEAD").strip())
    return shas


def _run(*args: str) -> str:
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
        code = cli.main(list(args))
    assert code == 0, args
    return out.getvalue()


def _answers(root: Path, index: Path) -> list[str]:
    common = ("--index", str(index))
    return [_run("pack", str(root), "--query", q, "--budget", "8k", "--mode", "slice", *common)
            for q in ("parse value error handler", "ValueError cannot render now", "Helper3 step")] + \
           [_run("search", "render cache route", str(root), "--json", *common),
            _run("map", str(root), "--budget", "4k", *common), _run("graph", str(root), "--format", "json", *common)]


def _derived_arrays(index: Path, kind: str) -> tuple[str, dict[str, np.ndarray]]:
    """(name, arrays) of the one derived file of `kind` of a fresh index."""
    [file] = (p for p in (index.parent / kind).iterdir() if p.suffix == ".arrays")
    return file.name, read_arrays(str(file))[0]


def test_updates_equal_cold_builds_along_a_history(tmp_path, monkeypatch):
    root = tmp_path / "repo"
    shas = _history(root)
    updates, graphs, deltas = [], [], []
    for name in ("_update", "_update_literals"):
        real = getattr(delta, name)
        monkeypatch.setattr(delta, name, lambda *args, real=real: updates.append(out := real(*args)) or out)
    monkeypatch.setattr(delta, "MERGE_SHARE", 0.3)  # a small repository's deltas too, merged now and then
    monkeypatch.setattr(delta, "delta_arrays", lambda *args, real=delta.delta_arrays: deltas.append(out := real(*args)) or out)
    monkeypatch.setattr(store, "_plan", lambda *args, real=store._plan: graphs.append(out := real(*args)) or out)
    monkeypatch.setattr(store, "MERGE_SHARE", 0.3)  # the graph's deltas too, merged into a new base now and then
    merges, stale, views = [], [], []
    monkeypatch.setattr(delta, "LITERAL_MERGE_SHARE", 0.3)  # literal deltas too, merged now and then
    monkeypatch.setattr(store, "_write_base", lambda path, fill, source=None, real=store._write_base: (
        merges.append(source is not None), real(path, fill, source))[1])
    walked = tmp_path / "walked" / "index.sqlite"
    # forward through every commit, back by threes, a jump, and an edit not committed
    steps = list(range(len(shas))) + list(range(len(shas) - 2, -1, -3)) + [len(shas) - 1, "edit", 5]
    for n, step in enumerate(steps):
        if step == "edit":
            with open(root / "pkg" / "mod1.py", "a") as f:
                f.write("\n\ndef render_edit(x):\n    return 'cannot render the edit'\n")
        else:
            git(root, "checkout", "-q", "-f", shas[step])
        cold = tmp_path / f"cold{n}" / "index.sqlite"
        assert _answers(root, walked) == _answers(root, cold), f"step {n} ({step})"
        views.append(_same_literals(root, walked, cold, step))
        _same_retrieval(root, walked, cold, step)
        stale.append(_same_graph(root, walked, cold, step))
    assert sum(views) >= 8, views  # literal states read as a delta over a base
    # the graph's states were deltas over a base, and deltas were merged into new bases
    assert sum(n > 0 for n in stale) >= 8 and sum(merges) >= 2, (stale, merges)
    # the walk really updated (a state still kept from an earlier visit is read, not updated)
    made = [d for d in deltas if d is not None]
    assert len(made) + sum(u is not None for u in updates) + sum(views) >= 2 * len(steps) * 3 // 5
    # a base and a delta over it stood for a state (the files changed since the base, in a delta)
    assert len(made) >= 8, len(made)
    # the graph too, where no path was added or removed (else it is built whole), C files included
    relinked = [g for g in graphs if g is not None]
    assert len(relinked) >= 8, len(relinked)
    assert any(p.endswith(".h") for g in relinked for p in g.changed)


def _same_graph(root: Path, walked: Path, cold: Path, step) -> int:
    """The graph read from the walked index (a delta over a base, or a base) answers every lookup
    as the cold index's does, and its definitions table as the one built from the facts; the
    number of files whose rows its delta supersedes."""
    from repoctx.index.load import load_repository
    from repoctx.retrieve.query import definition_table
    a, b = (load_repository(str(root), index_path=str(i)) for i in (walked, cold))
    ga, gb = a.graph, b.graph
    ids = sorted({x for s, t, _ in gb.references for x in (s, t)} | {f"{p}:nope" for p in b.files})
    for sid in ids:  # lookups first: once a whole list is read, they answer from it
        assert ga.callers_of(sid) == gb.callers_of(sid) and ga.callees_of(sid) == gb.callees_of(sid), (step, sid)
    for p in b.files:
        assert ga.references_from(p) == gb.references_from(p), (step, p)
        assert (ga.importers_of(p), ga.imported_by(p)) == (gb.importers_of(p), gb.imported_by(p)), (step, p)
    for name in ("references", "imports", "external_imports", "ambiguous"):
        assert getattr(ga, name) == getattr(gb, name), (step, name)
    table, defs = definition_table(b), ga.definitions()
    assert all(defs.get(n) == nodes for n, nodes in table.items()) and defs.get("nope.nope") is None, step
    return len(ga._view.stale_paths)


def _same_literals(root: Path, walked: Path, cold: Path, step) -> bool:
    """The literal index read from the walked index (a delta over a base, or a base) is the cold
    scan's: each lowered fragment's fragments and their sites, each word's lowered fragments, in
    order, and what it matches; whether it was a delta's view."""
    from repoctx.index.load import load_repository
    from repoctx.retrieve.delta import LiteralView, literal_index
    a, b = (literal_index(load_repository(str(root), index_path=str(i))) for i in (walked, cold))
    parts = [lit for lit, _, _ in a._parts] if isinstance(a, LiteralView) else [a]
    for low in sorted(set(b.lowered).union(*(lit.lowered for lit in parts))):
        assert (low in a.lowered) == (low in b.lowered), (step, low)
        if low in b.lowered:
            assert [(a.frags[i], a.sites(i)) for i in a.lowered[low]] == \
                [(b.frags[i], b.sites(i)) for i in b.lowered[low]], (step, low)
    for word in sorted(set(b.by_word).union(*(lit.by_word for lit in parts))):
        assert (word in a.by_word) == (word in b.by_word), (step, word)
        assert word not in b.by_word or a.by_word[word] == b.by_word[word], (step, word)
    text = " ".join(b.frags[i] for low in sorted(b.lowered)[::3] for i in b.lowered[low])
    assert a.matches(text) == b.matches(text), step
    return isinstance(a, LiteralView)


def _same_retrieval(root: Path, walked: Path, cold: Path, step) -> None:
    """The retrieval index read from the walked index (a base, or a delta over one) is the cold
    one: the same chunks in the same order, the same priors, BM25 scores and walk ranks to the
    bit, whatever the ids of terms and nodes."""
    from repoctx.index.load import load_repository
    from repoctx.retrieve.bm25 import tokenize
    from repoctx.retrieve.rank import RetrievalIndex, node_of
    a, b = (RetrievalIndex.load(load_repository(str(root), index_path=str(i))) for i in (walked, cold))
    assert list(a.chunks) == list(b.chunks), step
    assert np.array_equal(a.prior, b.prior) and a.paths == b.paths, step
    for q in ("parse value error handler", "render cache route token", "helper step"):
        assert np.array_equal(a.bm25.scores(tokenize(q)), b.bm25.scores(tokenize(q))), (step, q)
    ranks = [idx.pagerank_vector({}) for idx in (a, b)]
    nodes = [idx.node_ids() for idx in (a, b)]
    for c in b.chunks:
        n = node_of(c)
        assert ranks[0][nodes[0][n]] == ranks[1][nodes[1][n]], (step, n)
    assert a.global_files() == b.global_files(), step
    seeds = {node_of(c): 1.0 for c in list(b.chunks)[:3]}
    walks = [idx.pagerank_vector(seeds) for idx in (a, b)]
    assert [walks[0][nodes[0][node_of(c)]] for c in b.chunks] == [walks[1][nodes[1][node_of(c)]] for c in b.chunks]


def test_update_through_the_cli_processes(tmp_path):
    """The promise as a user meets it: separate `repoctx` processes, an edit between two packs."""
    root = tmp_path / "repo"
    _history(root, commits=3)
    walked, cold = tmp_path / "w" / "index.sqlite", tmp_path / "c" / "index.sqlite"
    args = ("pack", str(root), "--query", "parse value error", "--budget", "8k", "--mode", "slice")
    assert run_cli(*args, "--index", str(walked)).returncode == 0
    with open(root / "web" / "m2.js", "a") as f:
        f.write("\nfunction renderEdited(x) { return `render ${x}`; }\n")
    got = run_cli(*args, "--index", str(walked))
    want = run_cli(*args, "--index", str(cold))
    assert got.returncode == want.returncode == 0
    assert got.stdout == want.stdout
    assert len(os.listdir(walked.parent / "retrieval")) == 4  # two states, each with its seal


def _spoil_previous(index: Path, kind: str, reseal: bool, version: str | None = None) -> None:
    """The one derived file of `kind` rewritten with every posting count / site line zeroed (a valid
    array file, other bytes): as another writer, or sealed again (`reseal`) as an older repoctx
    whose `version` differs."""
    from repoctx.index import seal
    from repoctx.index.arrays import StringTable, write_arrays
    from repoctx.index.cache import version_tag
    [file] = (p for p in (index.parent / kind).iterdir() if p.suffix == ".arrays")
    a, extra = read_arrays(str(file))
    a = {k: np.array(v) for k, v in a.items()}
    a["post_tf" if kind == "retrieval" else "line"][:] = 0
    if version is not None:
        a |= StringTable.columns("state_version", [version_tag(version)])
    write_arrays(str(file), a, extra)
    if reseal:
        seal.seal_file(str(file), f"{kind}/{file.name}")


def test_an_earlier_file_not_ours_or_of_another_version_is_not_updated_from(tmp_path):
    """An earlier state's derived file that fails its seal, or sealed but of another version, is no
    base for an update: the next state is built cold and packs as a cold index does."""
    root = tmp_path / "repo"
    _history(root, commits=3)
    for n, (reseal, version) in enumerate(((False, None), (True, "0"))):
        walked, cold = tmp_path / f"w{n}" / "index.sqlite", tmp_path / f"c{n}" / "index.sqlite"
        _answers(root, walked)
        for kind in ("retrieval", "literals"):
            _spoil_previous(walked, kind, reseal, version)
        with open(root / "pkg" / "mod2.py", "a") as f:
            f.write(f"\n\ndef render_spoiled_{n}(x):\n    return 'cannot render the spoiled {n}'\n")
        assert _answers(root, walked) == _answers(root, cold)
        name, b = _derived_arrays(cold, "retrieval")
        a = read_arrays(str(walked.parent / "retrieval" / name))[0]
        assert all(np.array_equal(a[k], b[k]) for k in b)
        _same_literals(root, walked, cold, n)


def test_index_makes_what_the_first_query_reads(tmp_path):
    """`repoctx index` makes the graph, the retrieval index, the literal and the definitions tables:
    the first query after it reads them and builds nothing (every derived file is as index left it),
    and answers as a query on an index that never ran `index` does."""
    root = tmp_path / "repo"
    _history(root, commits=2)
    index, other = tmp_path / "ix" / "index.sqlite", tmp_path / "other" / "index.sqlite"
    r = run_cli("index", str(root), "--index", str(index))
    assert r.returncode == 0 and "Traceback" not in r.stderr, r.stderr
    kinds = ("graph", "graph-base", "retrieval", "literals", "literals-base")

    def derived() -> dict[str, float]:
        return {f"{k}/{p.name}": p.stat().st_mtime_ns for k in kinds if (index.parent / k).is_dir()
                for p in (index.parent / k).iterdir()}
    made = derived()
    assert {name.split("/")[0] for name in made} == set(kinds), made
    args = ("pack", str(root), "--query", "parse value error", "--budget", "8k", "--mode", "slice")
    got = run_cli(*args, "--index", str(index))
    assert got.returncode == 0 and derived() == made
    assert got.stdout == run_cli(*args, "--index", str(other)).stdout


def test_derived_files_are_the_same_whatever_the_hash_seed(tmp_path):
    """Two `repoctx index` runs of one state under different string hash seeds write the same
    derived files, byte for byte (a table filled by iterating a set once differed run to run)."""
    root = make_repo(tmp_path / "repo", {  # methods: a name and a qualified name each
        f"pkg/m{i}.py": "".join(f"class {w.title()}{i}:\n    def {w}_{j}(self):\n        return {j}\n\n\n"
                                for j, w in enumerate(WORDS)) for i in range(3)})
    files = []
    for seed in ("1", "2"):
        index = tmp_path / f"ix{seed}" / "index.sqlite"
        r = run_cli("index", str(root), "--index", str(index), env={"PYTHONHASHSEED": seed})
        assert r.returncode == 0, r.stderr
        files.append({k if k.endswith("-base") else f"{k}/{p.name}": p.read_bytes() for k in ("retrieval", "literals-base")
                      for p in (index.parent / k).iterdir() if p.suffix == ".arrays"})  # a base's name is drawn at random
    assert files[0].keys() == files[1].keys() and len(files[0]) == 2
    for name in files[0]:
        assert files[0][name] == files[1][name], name


def _delta_setup(tmp_path: Path) -> tuple[Path, Path, list[str]]:
    """A repository, an index of it whose state after two edits is a delta over the first state's
    base, and the retrieval files: (repo, index, [base, delta of the first edit, delta of the second])."""
    root = tmp_path / "repo"
    _history(root, commits=2)
    index = tmp_path / "w" / "index.sqlite"
    args = ("pack", str(root), "--query", "parse value error", "--budget", "8k", "--mode", "slice", "--index", str(index))
    names = []
    for n in range(3):
        if n:
            with open(root / "pkg" / "mod1.py", "a") as f:
                f.write(f"\n\ndef render_edit_{n}(x):\n    return 'cannot render edit {n}'\n")
        before = set(os.listdir(index.parent / "retrieval")) if n else set()
        assert run_cli(*args).returncode == 0
        [new] = {p for p in os.listdir(index.parent / "retrieval") if p.endswith(".arrays")} - before
        names.append(new)
    a = [read_arrays(str(index.parent / "retrieval" / p))[0] for p in names]
    assert "delta.base.blob" not in a[0] and all(delta.base_of(x) == names[0] for x in a[1:])
    return root, index, names


def test_a_damaged_or_foreign_delta_or_base_is_rebuilt_with_one_warning(tmp_path):
    """A delta or its base truncated, zeroed, or another state's file (with its seal) renamed into
    its place: the next pack warns once and answers as a cold index does, never from the bad bytes."""
    import shutil
    root, index, (base, first, second) = _delta_setup(tmp_path)
    args = ("pack", str(root), "--query", "parse value error", "--budget", "8k", "--mode", "slice")
    want = run_cli(*args, "--index", str(tmp_path / "cold" / "index.sqlite")).stdout
    folder = index.parent / "retrieval"

    def truncate(name):
        with open(folder / name, "r+b") as f:
            f.truncate(os.path.getsize(folder / name) // 2)

    def zero(name):
        with open(folder / name, "r+b") as f:
            f.seek(os.path.getsize(folder / name) // 2)
            f.write(b"\0" * 4096)

    def foreign(name, other):
        for suffix in ("", ".seal"):
            shutil.copyfile(folder / (other + suffix), folder / (name + suffix))
    cases = {"truncated delta": lambda: truncate(second), "zeroed delta": lambda: zero(second),
             "truncated base": lambda: truncate(base), "zeroed base": lambda: zero(base),
             "another state's delta": lambda: foreign(second, first),
             "another state's base": lambda: foreign(base, first)}
    for n, (what, spoil) in enumerate(cases.items()):
        copy = tmp_path / f"case{n}"
        shutil.copytree(index.parent, copy)
        folder = copy / "retrieval"
        spoil()
        got = run_cli(*args, "--index", str(copy / "index.sqlite"))
        assert got.returncode == 0 and "Traceback" not in got.stderr, (what, got.stderr)
        assert got.stdout == want, what
        warnings = [ln for ln in got.stderr.splitlines() if "damaged" in ln]
        assert len(warnings) == 1 and "retrieval" in warnings[0], (what, got.stderr)
        again = run_cli(*args, "--index", str(copy / "index.sqlite"))  # rebuilt, sealed: no warning now
        assert again.stdout == want and "damaged" not in again.stderr, (what, again.stderr)


@pytest.mark.parametrize("how", ["zeroed", "another base sealed in its name"])
def test_a_damaged_literal_base_under_a_delta_is_scanned_again_with_one_warning(tmp_path, how):
    """The literal index's base changed after a delta was written over it — zeroed, or replaced by
    another base of ours sealed under its name (valid arrays, of another repository) — is never
    read with the delta: the literals are scanned again, with one warning, and the pack is a cold
    index's."""
    from repoctx.index import seal
    root = tmp_path / "repo"
    _history(root, commits=3)
    walked = tmp_path / "w" / "index.sqlite"
    args = ("pack", str(root), "--query", "cannot render the edit", "--budget", "8k", "--mode", "slice")
    assert run_cli(*args, "--index", str(walked)).returncode == 0
    with open(root / "pkg" / "mod1.py", "a") as f:
        f.write("\n\ndef render_edit(x):\n    return 'cannot render the edit'\n")
    assert run_cli(*args, "--index", str(walked)).returncode == 0  # a delta over the first state's base
    [base] = [p for p in (walked.parent / "literals-base").iterdir() if p.suffix == ".arrays"]
    if how == "zeroed":
        data = bytearray(base.read_bytes())
        data[len(data) // 2:len(data) // 2 + 256] = bytes(256)
        base.write_bytes(bytes(data))
    else:
        other = make_repo(tmp_path / "other", {"m.py": "def f():\n    return 'another repository entirely'\n"})
        assert run_cli("index", str(other), "--index", str(tmp_path / "o" / "index.sqlite")).returncode == 0
        [theirs] = [p for p in (tmp_path / "o" / "literals-base").iterdir() if p.suffix == ".arrays"]
        base.write_bytes(theirs.read_bytes())
        seal.seal_file(str(base), f"literals-base/{base.name}")
    got = run_cli(*args, "--index", str(walked))
    assert got.stdout == run_cli(*args, "--index", str(tmp_path / "c" / "index.sqlite")).stdout
    assert [ln for ln in got.stderr.splitlines() if "cache" in ln and "warning" in ln].__len__() == 1, got.stderr
    again = run_cli(*args, "--index", str(walked))
    assert "cache" not in again.stderr and again.stdout == got.stdout


def test_a_delta_grown_past_its_share_is_merged_from_its_base(tmp_path, monkeypatch):
    """Past MERGE_SHARE the next state's file is a new base, updated from the newest delta's base
    (not built cold: the newest file is a delta, which holds only the changed files' rows)."""
    root, index, _ = _delta_setup(tmp_path)
    updates = []
    monkeypatch.setattr(delta, "_update", lambda *args, real=delta._update: updates.append(out := real(*args)) or out)
    monkeypatch.setattr(delta, "MERGE_SHARE", 0.0)
    with open(root / "web" / "m1.js", "a") as f:
        f.write("\nfunction renderMerged(x) { return `render ${x}`; }\n")
    q = ("pack", str(root), "--query", "parse value error", "--budget", "8k", "--mode", "slice")
    assert _run(*q, "--index", str(index)) == _run(*q, "--index", str(tmp_path / "cold" / "index.sqlite"))
    assert len(updates) == 1 and updates[0] is not None
    folder = index.parent / "retrieval"
    newest = max((p for p in folder.iterdir() if p.suffix == ".arrays"), key=lambda p: p.stat().st_mtime_ns)
    assert delta.base_of(read_arrays(str(newest))[0]) is None


def test_an_editor_buffer_over_a_delta_view_ranks_as_over_a_cold_index(tmp_path, monkeypatch):
    """An editor's buffer patched over a base and its delta read as one (the walk graph large
    enough to be walked locally, from the edges by source) ranks as over a cold index."""
    from repoctx.index.load import load_repository
    from repoctx.retrieve import rank
    root, index, _ = _delta_setup(tmp_path)
    cold = tmp_path / "cold" / "index.sqlite"
    _run("pack", str(root), "--query", "parse", "--budget", "2k", "--index", str(cold))
    monkeypatch.setattr(rank, "LOCAL_WALK_EDGES", 10)
    text = (root / "pkg" / "mod2.py").read_text() + "\n\ndef render_buffer(x):\n    return 'render the buffer'\n"
    got = []
    for ix in (index, cold):
        repo = load_repository(str(root), index_path=str(ix))
        patched = rank.RetrievalIndex.load(repo).patched(repo.with_buffers({"pkg/mod2.py": text}), ["pkg/mod2.py"])
        got.append(rank.rank_chunks(patched, "render buffer value error", limit=40))
    assert got[0] == got[1] and got[0]
