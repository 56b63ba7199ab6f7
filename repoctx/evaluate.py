"""Evaluate: does a pack hold the code that real changes touched? (`repoctx eval`)

The yardstick of design.md, "Measuring retrieval quality". Tasks are mined from the repository's own
history: the query is a commit's full message, the repository state is its parent, and the gold is
the pre-image lines of the non-test source files that the commit removed or changed, plus the lines
on either side of each pure insertion. Each parent state is checked out in one temporary detached
worktree (the user's work tree, index and branches are never touched; the worktree is removed
afterwards, also on error or Ctrl-C) and loaded with one shared index file, so a state re-parses only
the files that changed since the previous one.

Every packer packs every task at every budget, and we measure file hit (a gold file is in the pack),
all-files hit (every gold file is), line recall (share of gold lines inside a packed span), exact
tokens and seconds per pack — for repoctx's packer and, in the same run, two BM25 baselines: whole
files (the SWE-bench retrieval baseline) and fixed 40-line windows.
"""
from __future__ import annotations

import codecs
import os
import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import PurePosixPath

import numpy as np

from .languages import language_for_path
from .lexical import BM25, tokenize
from .model import PackedFile, PackResult
from .render import FileSlice, merge_spans, render
from .repository import Repository, load_repository
from .scan import IGNORED_FOLDERS, ScanOptions, is_test_path
from .tokens import count, get_encoding

DEFAULT_BUDGETS = (8_000, 32_000, 128_000)
DEFAULT_ENCODING = "cl100k_base"  # the encoding of the reference figures in anchors.md
WINDOW_LINES = 40
MAX_SOURCE_FILES = 4
MIN_WORDS = 4

#: Extensions of files that are never source code, whatever a grammar says.
NON_CODE_EXTENSIONS = frozenset({
    ".md", ".markdown", ".rst", ".txt", ".adoc", ".json", ".yaml", ".yml", ".toml", ".ini", ".cfg",
    ".conf", ".lock", ".xml", ".csv", ".svg", ".html", ".htm", ".css",
})
#: Extensions counted as source even where repoctx ships no grammar.
CODE_EXTENSIONS = frozenset({
    ".py", ".pyi", ".js", ".jsx", ".mjs", ".cjs", ".ts", ".tsx", ".mts", ".cts", ".go", ".rs", ".java",
    ".kt", ".kts", ".c", ".h", ".cc", ".cpp", ".cxx", ".hpp", ".hh", ".cs", ".rb", ".php", ".swift",
    ".scala", ".m", ".mm", ".lua", ".sh", ".bash", ".pl", ".r", ".jl", ".ex", ".exs", ".erl", ".hs",
    ".ml", ".clj", ".dart", ".vue", ".svelte",
})

#: A conventional-commit or component prefix: "fix:", "feat(router)!:", "docs/api:", "[core]".
_PREFIX = re.compile(r"^\s*(\[[^\]]*\]|[\w./-]+(\([^)]*\))?!?:)\s*")
_WORD = re.compile(r"\S*[A-Za-z]\S*")
_NOT_DESCRIPTIVE = re.compile(
    r"^\s*(merge|revert)\b"                                      # merges and reverts of other commits
    r"|\bwip\b"                                                  # work in progress
    r"|^\W*v?\d+(\.\d+)+"                                        # "2.31.0", "v1.9.1"
    r"|^\s*(bump|release|releasing|prepare|preparing|version)\b.*\d+\.\d+"  # "Release 4.18.0"
    r"|\bbump(s|ed)?\s+(the\s+)?version", re.I)
_HUNK = re.compile(r"^@@ -(\d+)(?:,(\d+))? \+\d+(?:,\d+)? @@")
#: Environment variables that would point git at another repository than the one we name.
_GIT_ENV_DROP = ("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "GIT_COMMON_DIR", "GIT_OBJECT_DIRECTORY",
                 "GIT_NAMESPACE", "GIT_PREFIX")

PackFn = Callable[[str, int], PackResult]


class EvalError(Exception):
    """The evaluation cannot run: not a git repository, git failed, or no commit qualifies."""


@dataclass
class Task:
    """One evaluation task: pack the repository at `parent` for `query` (the message of `commit`);
    `gold` maps each changed pre-image source path to the sorted 1-based lines the commit touched."""
    commit: str
    parent: str
    query: str
    gold: dict[str, list[int]]


# -- git ---------------------------------------------------------------------------------------------

def _git(cwd: str, *args: str, binary: bool = False) -> str | bytes:
    """Run git in `cwd` with hooks off and paths unquoted; raise EvalError when it fails."""
    env = {k: v for k, v in os.environ.items() if k not in _GIT_ENV_DROP}
    env["GIT_OPTIONAL_LOCKS"] = "0"
    proc = subprocess.run(["git", "-c", f"core.hooksPath={os.devnull}", "-c", "core.quotePath=false", *args],
                          cwd=cwd, env=env, capture_output=True)
    if proc.returncode:
        message = proc.stderr.decode("utf-8", "replace").strip()
        raise EvalError(f"git {' '.join(args[:2])} failed: {message}")
    return proc.stdout if binary else proc.stdout.decode("utf-8", "replace")


def repo_root(path: str) -> str:
    """The top folder of the git work tree holding `path`."""
    if not os.path.isdir(path):
        raise EvalError(f"not a folder: {path}")
    try:
        return os.path.realpath(_git(path, "rev-parse", "--show-toplevel").strip())
    except EvalError:
        raise EvalError(f"not inside a git work tree: {path}") from None


def _unquote(path: str) -> str:
    """A path as git prints it (C-quoted when it holds special characters) → the path."""
    if len(path) >= 2 and path[0] == path[-1] == '"':
        return codecs.escape_decode(path[1:-1].encode())[0].decode("utf-8", "replace")
    return path


# -- mining ------------------------------------------------------------------------------------------

def is_source_path(path: str) -> bool:
    """Program source (tests included): a file with a grammar or a common code extension, not a
    document or config file and not in a vendored or tool folder."""
    p = PurePosixPath(path)
    ext = p.suffix.lower()
    if ext in NON_CODE_EXTENSIONS or any(part in IGNORED_FOLDERS for part in p.parts[:-1]):
        return False
    return ext in CODE_EXTENSIONS or language_for_path(path) is not None


def is_descriptive(message: str) -> bool:
    """A subject line that says what changed: at least MIN_WORDS words once a prefix like "fix:" is
    dropped; not a merge, revert, work in progress or version bump."""
    stripped = message.strip()
    subject = stripped.splitlines()[0] if stripped else ""
    if _NOT_DESCRIPTIVE.search(subject):
        return False
    return len(_WORD.findall(_PREFIX.sub("", subject, count=1))) >= MIN_WORDS


@dataclass
class _Candidate:
    commit: str
    parent: str
    message: str
    sources: list[str]  # pre-image paths of the changed non-test source files


def _parse_name_status(block: str) -> list[tuple[str, str | None, str | None]]:
    """`--name-status` lines → (status letter, pre-image path or None, post-image path or None)."""
    changes = []
    for line in block.splitlines():
        fields = line.split("\t")
        if len(fields) < 2 or not fields[0]:
            continue
        status, paths = fields[0][0], [_unquote(f) for f in fields[1:]]
        if status in "RC" and len(paths) == 2:
            changes.append((status, paths[0] if status == "R" else None, paths[1]))
        elif status == "A":
            changes.append((status, None, paths[0]))
        elif status == "D":
            changes.append((status, paths[0], None))
        else:
            changes.append((status, paths[0], paths[0]))
    return changes


def _is_code(path: str | None) -> bool:
    return path is not None and is_source_path(path) and not is_test_path(path)


def candidates(root: str) -> list[_Candidate]:
    """Commits that may become tasks, newest first: non-merge commits on HEAD's first-parent history
    with a descriptive message that change 1..MAX_SOURCE_FILES non-test source files, at least one
    of which existed in the parent."""
    fmt = "%x1e%H%x1f%P%x1f%B%x1f"
    out = _git(root, "log", "--first-parent", "--no-merges", "--no-color", "--name-status", "-M",
               f"--format={fmt}", "HEAD")
    found = []
    for record in out.split("\x1e")[1:]:
        sha, parents, message, files = record.split("\x1f", 3)
        if not parents.strip() or not is_descriptive(message):
            continue
        code = [(old, new) for _, old, new in _parse_name_status(files) if _is_code(old) or _is_code(new)]
        sources = [old for old, _ in code if _is_code(old)]
        if 1 <= len(code) <= MAX_SOURCE_FILES and sources:
            found.append(_Candidate(sha, parents.split()[0], message.strip(), sources))
    return found


def _line_count(root: str, rev: str, path: str) -> int:
    data = _git(root, "cat-file", "blob", f"{rev}:{path}", binary=True)
    return data.count(b"\n") + (1 if data and not data.endswith(b"\n") else 0)


def diff_gold(root: str, parent: str, commit: str, paths: set[str]) -> dict[str, list[int]]:
    """For each pre-image path in `paths` that `commit` changed: the parent's lines it removed or
    changed, and for each pure insertion the line before and the line after the insertion point."""
    out = _git(root, "diff", "-U0", "-M", "--no-color", "--no-ext-diff", "--no-textconv",
               "--src-prefix=a/", "--dst-prefix=b/", parent, commit)
    hunks: dict[str, list[tuple[int, int]]] = {}
    old, in_header = None, False
    for line in out.splitlines():
        if line.startswith("diff --git "):
            old, in_header = None, True
        elif in_header and line.startswith("--- "):
            name = _unquote(line[4:].rstrip("\t"))
            old = name[2:] if name.startswith("a/") else None
        elif line.startswith("@@"):
            in_header = False
            m = _HUNK.match(line)
            if m and old in paths:
                hunks.setdefault(old, []).append((int(m[1]), 1 if m[2] is None else int(m[2])))
    gold: dict[str, list[int]] = {}
    for path, spans in hunks.items():
        lines: set[int] = set()
        total = None
        for start, length in spans:
            if length:
                lines.update(range(start, start + length))
            else:  # pure insertion after line `start` (0: at the top)
                total = _line_count(root, parent, path) if total is None else total
                lines.update(n for n in (start, start + 1) if 1 <= n <= total)
        if lines:
            gold[path] = sorted(lines)
    return gold


def mine_tasks(root: str, n: int) -> list[Task]:
    """Up to `n` tasks from the history of the repository at `root`: the newest qualifying commits
    (see `candidates`) whose gold is not empty, newest first. Newest, because the question a user
    asks is how well packs of the repository as it is now find what a change touches; states from
    early history are small enough to fit any budget whole and flatter every packer."""
    top = repo_root(root)
    found = candidates(top)
    picked: dict[int, Task] = {}
    for i in range(len(found)):
        if len(picked) >= n:
            break
        c = found[i]
        gold = diff_gold(top, c.parent, c.commit, set(c.sources))
        if gold:
            picked[i] = Task(c.commit, c.parent, c.message, gold)
    return [picked[i] for i in sorted(picked)]


# -- the repository at a past commit ------------------------------------------------------------------

@contextmanager
def detached_worktree(root: str, commit: str) -> Iterator[str]:
    """A temporary detached worktree of `root` at `commit`; removed afterwards whatever happens."""
    tmp = tempfile.mkdtemp(prefix="repoctx-eval-")
    path = os.path.join(tmp, "state")
    try:
        _git(root, "worktree", "add", "--detach", "--quiet", path, commit)
        yield path
    finally:
        _remove_worktree(root, path)
        shutil.rmtree(tmp, ignore_errors=True)


def checkout_state(worktree: str, commit: str) -> None:
    """Move our temporary worktree (never the user's) to `commit`."""
    _git(worktree, "checkout", "--quiet", "--detach", "--force", commit)


def _remove_worktree(root: str, path: str) -> None:
    """Remove the worktree at `path` and git's record of it, and nothing else (no `worktree prune`)."""
    try:
        _git(root, "worktree", "remove", "--force", path)
    except EvalError:
        pass
    try:
        records = os.path.join(root, _git(root, "rev-parse", "--git-common-dir").strip(), "worktrees")
    except EvalError:
        records = ""
    target = os.path.realpath(path)
    for name in os.listdir(records) if os.path.isdir(records) else ():
        try:
            with open(os.path.join(records, name, "gitdir"), encoding="utf-8") as f:
                gitdir = f.read().strip()
        except OSError:
            continue
        if os.path.realpath(os.path.dirname(gitdir)) == target:
            shutil.rmtree(os.path.join(records, name), ignore_errors=True)
    shutil.rmtree(path, ignore_errors=True)


# -- packers ------------------------------------------------------------------------------------------

class BM25Baseline:
    """A budget-filling BM25 packer. Units — whole files, or fixed windows of `window` lines — are
    ranked by BM25 of the query against their path and text (ties: path order), and added in rank
    order, skipping a unit that no longer fits, until nothing more fits. Windows of one file merge
    into spans. The output is rendered like repoctx's xml pack and counted exactly in the
    repository's encoding; it never exceeds the budget.

    Two choices make these baselines stronger than the BM25 rows of anchors.md, which match a fill
    that stops at the first unit that does not fit and plain word tokens: we fill past a unit that
    does not fit, and rank with the identifier-aware tokens (and path terms) repoctx itself uses."""

    def __init__(self, repo: Repository, window: int | None = None):
        self.repo = repo
        self.enc = get_encoding(repo.encoding)
        self._lines: dict[str, list[str]] = {}
        self._floor: dict[int, int] = {}
        self._cost: dict[tuple[str, tuple], int] = {}
        self.units: list[tuple[str, int, int]] = []  # (path, first line, last line)
        docs = []
        for path, facts in repo.facts.items():
            n = facts.lines
            step = window or n
            for a in range(1, n + 1, step or 1):
                b = min(a + step - 1, n)
                self.units.append((path, a, b))
                docs.append(tokenize(path) + tokenize("\n".join(self.lines(path)[a - 1:b])))
        self.index = BM25(docs)
        self.base = count(self._render({}), self.enc)

    def lines(self, path: str) -> list[str]:
        if path not in self._lines:
            self._lines[path] = [ln[:-1] if ln.endswith("\r") else ln for ln in self.repo.text(path).split("\n")]
        return self._lines[path]

    def _slice(self, path: str, spans) -> FileSlice:
        return FileSlice(path, self.repo.files[path].language, tuple(spans), self.repo.facts[path].lines)

    def _render(self, selection: dict[str, tuple]) -> str:
        return render(None, [self._slice(p, s) for p, s in sorted(selection.items())], self.lines, "xml")

    def _floor_cost(self, u: int) -> int:
        """A floor on what adding unit `u` costs: the tokens of its own text, less a little for the
        merges BPE may make with the text around it."""
        if u not in self._floor:
            path, a, b = self.units[u]
            text = "\n".join(self.lines(path)[a - 1:b])
            self._floor[u] = count(text, self.enc) - 4
        return self._floor[u]

    def _block_cost(self, path: str, spans: tuple) -> int:
        """Tokens one file's block adds to the pack (counted as a pack of that file alone)."""
        key = (path, spans)
        if key not in self._cost:
            self._cost[key] = count(self._render({path: spans}), self.enc) - self.base
        return self._cost[key]

    def _selection(self, units: list[int]) -> dict[str, tuple]:
        spans: dict[str, list[tuple[int, int]]] = {}
        for u in units:
            path, a, b = self.units[u]
            spans.setdefault(path, []).append((a, b))
        return {p: merge_spans(s) for p, s in spans.items()}

    def pack(self, query: str, budget: int) -> PackResult:
        start = time.perf_counter()
        scores = self.index.scores(tokenize(query))
        order = np.lexsort((np.arange(len(scores)), -scores))
        chosen: list[int] = []
        spans: dict[str, tuple] = {}
        block: dict[str, int] = {}
        used = self.base
        for u in map(int, order):
            if used >= budget:
                break
            path, a, b = self.units[u]
            if self._floor_cost(u) > budget - used:
                continue
            new = merge_spans([*spans.get(path, ()), (a, b)])
            cost = self._block_cost(path, new)
            if used - block.get(path, 0) + cost > budget:
                continue
            used += cost - block.get(path, 0)
            spans[path], block[path] = new, cost
            chosen.append(u)
        while True:  # exactness: drop the last units until the rendered pack fits
            selection = self._selection(chosen)
            text = self._render(selection)
            tokens = count(text, self.enc)
            if tokens <= budget or not chosen:
                break
            chosen.pop()
        if tokens > budget:
            text, tokens, selection = "", 0, {}
        files = [PackedFile(p, [list(sp) for sp in s], self._slice(p, s).whole) for p, s in sorted(selection.items())]
        return PackResult(mode="slice", encoding=self.enc.name, budget=budget, tokens=tokens, text=text,
                          files=files, seconds=time.perf_counter() - start)


def packers() -> dict[str, Callable[[Repository], PackFn]]:
    """The packers to compare, by name; each is built once per repository state. repoctx's own runs
    in mode `auto` (the whole repository when it fits, else map + slices)."""
    from .pack import Packer

    def repoctx(repo: Repository) -> PackFn:
        packer = Packer(repo)
        return lambda query, budget: packer.pack(query, budget, mode="auto")

    return {"repoctx": repoctx,
            "bm25-files": lambda repo: BM25Baseline(repo, None).pack,
            "bm25-windows": lambda repo: BM25Baseline(repo, WINDOW_LINES).pack}


# -- measuring ----------------------------------------------------------------------------------------

def score_pack(task: Task, result: PackResult) -> dict:
    """File hit, all-files hit and line recall of one pack against a task's gold."""
    spans = {f.path: [tuple(s) for s in f.spans] for f in result.files}
    hit_files = set(task.gold) & set(spans)
    total = sum(len(lines) for lines in task.gold.values())
    covered = sum(1 for path, lines in task.gold.items() for n in lines
                  if any(a <= n <= b for a, b in spans.get(path, ())))
    return {"file_hit": bool(hit_files), "all_hit": hit_files == set(task.gold),
            "line_recall": covered / total if total else 0.0}


def _measure(task: Task, pack: PackFn | None, setup_seconds: float, budget: int, enc, error: str | None) -> dict:
    """One pack of one task: its scores, exact tokens (recounted) and seconds (packer setup + pack)."""
    row = {"budget": budget, "file_hit": False, "all_hit": False, "line_recall": 0.0, "tokens": 0,
           "seconds": setup_seconds, "over_budget": False, "error": error}
    if pack is None:
        return row
    start = time.perf_counter()
    try:
        result = pack(task.query, budget)
    except Exception as exc:  # a failing packer is a miss, reported, not the end of the run
        row["error"] = f"{type(exc).__name__}: {exc}"
        return row
    row["seconds"] = setup_seconds + time.perf_counter() - start
    tokens = count(result.text, enc)
    row.update(score_pack(task, result), tokens=tokens, over_budget=tokens > budget)
    return row


def summarize(tasks: list[dict], names: list[str], budgets: tuple[int, ...]) -> list[dict]:
    """Means over tasks per packer and budget."""
    rows = []
    for name in names:
        for budget in budgets:
            runs = [r for t in tasks for r in t["results"][name] if r["budget"] == budget]
            n = len(runs) or 1
            rows.append({"packer": name, "budget": budget, "packs": len(runs),
                         **{k: sum(r[k] for r in runs) / n
                            for k in ("file_hit", "all_hit", "line_recall", "tokens", "seconds")},
                         "over_budget": sum(r["over_budget"] for r in runs),
                         "errors": sum(r["error"] is not None for r in runs)})
    return rows


def run_eval(root: str = ".", commits: int = 40, budgets: tuple[int, ...] = DEFAULT_BUDGETS,
             encoding: str | None = DEFAULT_ENCODING, progress: Callable[[int, int], None] | None = None,
             index_path: str | None = None, options: ScanOptions = ScanOptions()) -> dict:
    """Mine `commits` tasks from the repository at `root`, pack each at each budget with every packer,
    and return the figures: a summary per packer and budget, and per-task detail. The index file is
    a temporary one unless `index_path` is given."""
    top = repo_root(root)
    tasks = mine_tasks(top, commits)
    if not tasks:
        raise EvalError(f"no commit in the history of {top} qualifies as a task "
                        f"(a non-merge commit changing 1-{MAX_SOURCE_FILES} non-test source files "
                        f"with a message of at least {MIN_WORDS} words)")
    head = _git(top, "rev-parse", "HEAD").strip()
    factories = packers()
    enc = get_encoding(encoding)
    detail = []
    with tempfile.TemporaryDirectory(prefix="repoctx-eval-index-") as scratch, \
            detached_worktree(top, tasks[0].parent) as worktree:
        index = index_path or os.path.join(scratch, "index.sqlite")
        for k, task in enumerate(tasks):
            checkout_state(worktree, task.parent)
            start = time.perf_counter()
            repo = load_repository(worktree, options, encoding=enc.name, index_path=index)
            entry = {**asdict(task), "load_seconds": time.perf_counter() - start, "results": {}}
            for name, factory in factories.items():
                start = time.perf_counter()
                try:
                    pack, error = factory(repo), None
                except Exception as exc:
                    pack, error = None, f"{type(exc).__name__}: {exc}"
                setup = time.perf_counter() - start
                entry["results"][name] = [_measure(task, pack, setup, b, enc, error) for b in budgets]
            detail.append(entry)
            if progress:
                progress(k + 1, len(tasks))
    return {"repository": top, "head": head, "encoding": enc.name, "budgets": list(budgets),
            "commits_requested": commits,
            "summary": summarize(detail, list(factories), budgets), "tasks": detail}


def _size(n: int) -> str:
    return f"{n // 1000}k" if n % 1000 == 0 else str(n)


def format_eval(result: dict) -> str:
    """The figures as a table, one row per packer and budget."""
    tasks = result["tasks"]
    load = sum(t["load_seconds"] for t in tasks) / max(len(tasks), 1)
    out = [f"repoctx eval: {result['repository']} at {result['head'][:12]}, {len(tasks)} tasks "
           f"(of {result['commits_requested']} asked), {result['encoding']}, load {load:.2f}s per state",
           "",
           f"{'packer':<14} {'budget':>6}  {'file hit':>8}  {'all hit':>7}  {'line recall':>11}  "
           f"{'mean tokens':>11}  {'s/pack':>6}"]
    for r in result["summary"]:
        note = []
        if r["over_budget"]:
            note.append(f"{r['over_budget']} over budget")
        if r["errors"]:
            note.append(f"{r['errors']} errors")
        out.append(f"{r['packer']:<14} {_size(r['budget']):>6}  {r['file_hit']:>8.2f}  {r['all_hit']:>7.2f}  "
                   f"{r['line_recall']:>11.2f}  {r['tokens']:>11,.0f}  {r['seconds']:>6.2f}"
                   + (f"  ({', '.join(note)})" if note else ""))
    out.append("")
    out.append("file hit: a changed file is in the pack; all hit: every changed file is; line recall: share of "
               "changed lines in the pack; s/pack includes building the packer's in-memory index.")
    return "\n".join(out) + "\n"
