"""Eval: tasks mined from a real git history, gold lines, budget-exact baselines, and a run that
leaves the user's repository exactly as it was."""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest
from conftest import git, make_repo, write_files

from repoctx.eval.baselines import BM25Baseline
from repoctx.eval.report import format_eval
from repoctx.eval.run import run_eval
from repoctx.eval.tasks import EvalError, is_descriptive, is_source_path, mine_tasks
from repoctx.scan import is_test_path
from repoctx.index.load import load_repository
from repoctx.tokens import count, get_encoding

UTIL = '''"""Order helpers."""


def compute_total(prices):
    total = sum(prices)
    return round(total, 1)


def describe_order(order):
    name = order["name"]
    legacy = True
    return f"order {name}"
'''

CLIENT = '''const base = "/api";

function sendOrder(order) {
  return fetch(base + "/orders", { method: "POST", body: JSON.stringify(order) });
}

module.exports = { sendOrder };
'''

FIXTURE = {
    "app/__init__.py": '__version__ = "1.1.0"\n',
    "app/util.py": UTIL,
    "app/models.py": "class Order:\n    pass\n",
    "app/views.py": "def show(order):\n    return str(order)\n",
    "web/client.js": CLIENT,
    "web/index.js": "const client = require('./client');\nmodule.exports = client;\n",
    "tests/test_util.py": "from app.util import compute_total\n\n\ndef test_total():\n    assert compute_total([1]) == 1\n",
    "README.md": "# Shop\n",
}


def commit(root: Path, message: str, changes: dict[str, str]) -> str:
    """Write `changes`, commit everything with `message`, return the new commit's sha."""
    write_files(root, changes)
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", message)
    return git(root, "rev-parse", "HEAD").strip()


def edit(root: Path, path: str, old: str, new: str) -> dict[str, str]:
    text = (root / path).read_text()
    assert old in text
    return {path: text.replace(old, new, 1)}


@pytest.fixture
def history(tmp_path) -> tuple[Path, dict[str, str]]:
    """A repository whose history holds every kind of commit the miner must accept or refuse."""
    root = make_repo(tmp_path / "shop", FIXTURE)
    c: dict[str, str] = {}
    c["modify"] = commit(root, "Round totals of orders to two decimals in compute_total\n\nMoney needs cents.",
                         {"app/util.py": UTIL.replace("round(total, 1)", "round(total, 2)")
                                             .replace("    legacy = True\n", "")})
    client = ("'use strict';\n"
              + CLIENT.replace("function sendOrder", "const timeoutMs = 5000;\nfunction sendOrder")
              + "module.exports.timeoutMs = timeoutMs;\n")
    c["insert"] = commit(root, "Insert a request timeout for sendOrder calls", {"web/client.js": client})
    c["two_files"] = commit(root, "Share the order body encoding between util and client", {
        **edit(root, "app/util.py", "total = sum(prices)", "total = sum(prices, 0)"),
        **edit(root, "web/client.js", "JSON.stringify(order)", "JSON.stringify(order, null, 0)"),
        **edit(root, "tests/test_util.py", "== 1", "== 1.0"),
    })
    git(root, "checkout", "-q", "-b", "feature")
    c["side"] = commit(root, "Feature work on the index page loader code",
                       edit(root, "web/index.js", "module.exports = client;", "module.exports = { client };"))
    git(root, "checkout", "-q", "main")
    c["tests_only"] = commit(root, "Add a test case for rounding totals", {"tests/test_util.py": FIXTURE["tests/test_util.py"] + "\n\ndef test_round():\n    assert compute_total([0.125]) == 0.13\n"})
    c["docs_only"] = commit(root, "Document the order helpers in the readme", {"README.md": "# Shop\n\nOrder helpers.\n"})
    git(root, "merge", "-q", "--no-ff", "feature", "-m", "Merge branch feature into main for the index page")
    c["merge"] = git(root, "rev-parse", "HEAD").strip()
    c["new_file"] = commit(root, "Add a helper module for parsing order dates",
                           {"app/dates.py": "def parse_date(text):\n    return text.split('-')\n"})
    c["one_word"] = commit(root, "fix", edit(root, "app/util.py", "order {name}", "order: {name}"))
    c["five_files"] = commit(root, "Rename the order argument in every single module", {
        **edit(root, "app/util.py", "def describe_order(order):", "def describe_order(order_):"),
        **edit(root, "app/models.py", "pass", "name = None"),
        **edit(root, "app/views.py", "str(order)", "repr(order)"),
        **edit(root, "web/client.js", "function sendOrder(order)", "function sendOrder(anOrder)"),
        **edit(root, "web/index.js", "{ client }", "{ client: client }"),
    })
    c["bump"] = commit(root, "chore: bump version to 1.2.0", {"app/__init__.py": '__version__ = "1.2.0"\n'})
    c["short_prefixed"] = commit(root, "fix: tidy util", edit(root, "app/util.py", "order_", "the_order"))
    c["prefixed"] = commit(root, "fix: handle empty order lists in compute_total",
                           edit(root, "app/util.py", "    total = sum(prices, 0)\n",
                                "    if not prices:\n        return 0\n    total = sum(prices, 0)\n"))
    return root, c


# -- mining -------------------------------------------------------------------------------------------

def test_mines_exactly_the_qualifying_commits_newest_first(history):
    root, c = history
    tasks = mine_tasks(str(root), 40)
    assert [t.commit for t in tasks] == [c["prefixed"], c["two_files"], c["insert"], c["modify"]]
    assert tasks[0].parent == c["short_prefixed"]
    assert tasks[-1].query == "Round totals of orders to two decimals in compute_total\n\nMoney needs cents."


def test_a_smaller_selection_takes_the_newest(history):
    root, c = history
    assert [t.commit for t in mine_tasks(str(root), 2)] == [c["prefixed"], c["two_files"]]
    assert [t.commit for t in mine_tasks(str(root), 1)] == [c["prefixed"]]


def test_gold_of_a_modify_commit_is_the_changed_and_removed_pre_image_lines(history):
    root, c = history
    task = next(t for t in mine_tasks(str(root), 40) if t.commit == c["modify"])
    assert task.gold == {"app/util.py": [6, 11]}  # line 6 changed, line 11 removed


def test_gold_of_a_pure_insertion_is_the_lines_around_each_insertion_point(history):
    root, c = history
    task = next(t for t in mine_tasks(str(root), 40) if t.commit == c["insert"])
    # inserted at the top (→ line 1), after line 2 (→ 2, 3) and after the last line, 7 (→ 7 only)
    assert task.gold == {"web/client.js": [1, 2, 3, 7]}


def test_gold_leaves_out_test_files(history):
    root, c = history
    task = next(t for t in mine_tasks(str(root), 40) if t.commit == c["two_files"])
    assert sorted(task.gold) == ["app/util.py", "web/client.js"]


@pytest.mark.parametrize("path, test", [
    ("tests/test_util.py", True), ("src/__tests__/a.js", True), ("spec/router.rb", True),
    ("pkg/test_x.py", True), ("x_test.go", True), ("a.test.js", True), ("b.spec.ts", True),
    ("conftest.py", True), ("src/FooTest.java", True),
    ("src/latest.py", False), ("lib/contest.js", False), ("app/util.py", False), ("testing_utils.py", False),
])
def test_test_paths(path, test):
    assert is_test_path(path) is test


@pytest.mark.parametrize("path, source", [
    ("app/util.py", True), ("lib/router.js", True), ("gin.go", True), ("README.md", False),
    ("package.json", False), ("config.yml", False), ("node_modules/x/index.js", False),
])
def test_source_paths(path, source):
    assert is_source_path(path) is source


@pytest.mark.parametrize("message, ok", [
    ("Round totals of orders to two decimals", True),
    ("fix: handle empty order lists", True),
    ("feat(router)!: support regex routes now", True),
    ("fix: tidy util", False), ("fix", False), ("Merge pull request #1 from a/b", False),
    ("WIP on the order helpers module", False), ("Revert \"Add the order helpers module\"", False),
    ("2.31.0 release notes and version", False), ("Release 4.18.0 of the framework", False),
    ("chore: bump version to 1.2.0", False),
])
def test_descriptive_messages(message, ok):
    assert is_descriptive(message) is ok


# -- baselines ----------------------------------------------------------------------------------------

def _filler(i: int, n: int) -> str:
    return "".join(f"def helper_{i}_{j}(value):\n    return value + {j}\n\n\n" for j in range(n))


@pytest.fixture
def corpus(tmp_path):
    """Ten similar files and one long file holding the identifiers a query names."""
    files = {f"pkg/mod{i}.py": _filler(i, 12) for i in range(10)}
    files["pkg/ledger.py"] = (_filler(99, 11) + "def reconcile_ledger_balance(entries):\n"
                              + "    return sum(entry.amount for entry in entries)\n" + _filler(98, 10))
    root = make_repo(tmp_path / "corpus", files)
    return load_repository(str(root), encoding="cl100k_base", index_path=str(tmp_path / "index.sqlite"))


@pytest.mark.parametrize("window", [None, 40])
def test_baselines_never_exceed_the_budget(corpus, window):
    enc = get_encoding("cl100k_base")
    baseline = BM25Baseline(corpus, window)
    whole_repo = sum(corpus.tokens.values())
    packed_any = False
    for budget in [*range(1, whole_repo + 200, 23), whole_repo * 2]:
        result = baseline.pack("reconcile_ledger_balance helper value", budget)
        assert result.tokens == count(result.text, enc) <= budget
        packed_any = packed_any or bool(result.files)
    assert packed_any
    everything = baseline.pack("anything", whole_repo * 2)
    assert sorted(f.path for f in everything.files) == sorted(corpus.files)
    assert all(f.whole and len(f.spans) == 1 for f in everything.files)  # windows merged back into files


def test_window_baseline_packs_the_window_with_the_named_identifier(corpus):
    result = BM25Baseline(corpus, 40).pack("Fix reconcile_ledger_balance for empty entries", 300)
    spans = {f.path: f.spans for f in result.files}
    line = corpus.text("pkg/ledger.py").split("\n").index("def reconcile_ledger_balance(entries):") + 1
    assert any(a <= line <= b for a, b in spans.get("pkg/ledger.py", ()))
    assert not any(f.whole for f in result.files)  # 300 tokens hold a window or two, not the 332-token file


def test_file_baseline_packs_the_file_with_the_named_identifier(corpus):
    budget = corpus.tokens["pkg/ledger.py"] + 200
    assert budget < sum(corpus.tokens.values()) / 3
    result = BM25Baseline(corpus, None).pack("Fix reconcile_ledger_balance for empty entries", budget)
    assert "pkg/ledger.py" in {f.path for f in result.files}
    assert len(result.files) < len(corpus.files)


# -- a whole run --------------------------------------------------------------------------------------

def _state(root: Path) -> dict[str, str]:
    """What a user would notice changing in their repository."""
    return {
        "head": git(root, "rev-parse", "HEAD"),
        "branch": git(root, "symbolic-ref", "HEAD"),
        "status": git(root, "status", "--porcelain=v1", "--untracked-files=all"),
        "worktrees": git(root, "worktree", "list", "--porcelain"),
        "branches": git(root, "branch", "--list", "-v"),
        "staged": git(root, "diff", "--cached"),
        "unstaged": git(root, "diff"),
    }


def _dirty(root: Path) -> None:
    """Uncommitted work a run must not disturb: staged, unstaged and untracked."""
    write_files(root, {"app/models.py": "class Order:\n    total = 0\n"})
    git(root, "add", "app/models.py")
    write_files(root, {"README.md": "# Shop, edited\n", "notes.txt": "todo\n"})


@pytest.fixture
def scratch(tmp_path, monkeypatch) -> Path:
    """The temporary folder a run must leave empty."""
    folder = tmp_path / "scratch"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    return folder


def test_run_eval_leaves_the_repository_untouched(history, scratch):
    root, c = history
    _dirty(root)
    before = _state(root)
    result = run_eval(str(root), commits=10, budgets=(300, 100_000))
    assert _state(root) == before
    assert os.listdir(scratch) == []
    assert not (root / ".git" / "worktrees").exists() or os.listdir(root / ".git" / "worktrees") == []
    assert [t["commit"] for t in result["tasks"]] == [c["prefixed"], c["two_files"], c["insert"], c["modify"]]
    rows = {(r["packer"], r["budget"]): r for r in result["summary"]}
    for name in ("bm25-files", "bm25-windows"):
        assert rows[name, 100_000]["line_recall"] == 1.0  # the whole repository fits
        assert rows[name, 100_000]["all_hit"] == 1.0
        assert rows[name, 300]["tokens"] <= 300
        assert rows[name, 300]["over_budget"] == rows[name, 300]["errors"] == 0
    for task in result["tasks"]:
        for runs in task["results"].values():
            assert [r["budget"] for r in runs] == [300, 100_000]
            assert all(r["tokens"] <= r["budget"] for r in runs)
    table = format_eval(result)
    assert "bm25-windows" in table and "100k" in table


def test_run_eval_measures_repoctx_packer(history, scratch):
    root, _ = history
    result = run_eval(str(root), commits=10, budgets=(300, 100_000))
    rows = {(r["packer"], r["budget"]): r for r in result["summary"]}
    assert rows["repoctx", 100_000]["errors"] == 0
    assert rows["repoctx", 100_000]["line_recall"] == 1.0  # auto mode packs the whole repository
    assert rows["repoctx", 300]["over_budget"] == 0


def test_interrupted_run_removes_its_worktree(history, scratch, monkeypatch):
    root, _ = history
    _dirty(root)
    before = _state(root)

    def interrupt(self, query, budget):
        raise KeyboardInterrupt

    monkeypatch.setattr(BM25Baseline, "pack", interrupt)
    with pytest.raises(KeyboardInterrupt):
        run_eval(str(root), commits=2, budgets=(1000,))
    assert _state(root) == before
    assert os.listdir(scratch) == []


def test_run_eval_outside_git_is_an_error(tmp_path):
    (tmp_path / "plain").mkdir()
    with pytest.raises(EvalError, match="not inside a git work tree"):
        run_eval(str(tmp_path / "plain"))


def test_a_state_git_cannot_check_out_is_reported_as_itself(tmp_path):
    """A clone missing an object of the state (a mirror without its largest files): the error says
    why the checkout failed, not that the cleanup found no worktree to remove (which hid it)."""
    import json
    import subprocess
    import sys
    root = make_repo(tmp_path / "r", {"app.py": "def f():\n    return 1\n", "big.dat": "x" * 5000 + "\n"})
    blob = git(root, "rev-parse", "HEAD:big.dat").strip()
    os.remove(root / ".git" / "objects" / blob[:2] / blob[2:])
    head = git(root, "rev-parse", "HEAD").strip()
    tasks = tmp_path / "tasks.jsonl"
    tasks.write_text(json.dumps({"parent": head, "query": "f returns one", "gold_lines": {"app.py": [2]}}) + "\n")
    out = subprocess.run([sys.executable, "-m", "repoctx", "eval", "--tasks", str(tasks), str(root), "--budgets", "2000"],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode != 0
    assert "worktree add" in out.stderr and "worktree remove" not in out.stderr, out.stderr
    assert "Traceback" not in out.stderr
