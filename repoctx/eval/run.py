"""Run: does a pack hold the code that real changes touched? (`repoctx eval`)

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

import os
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict

from repoctx.eval.baselines import WINDOW_LINES, BM25Baseline, PackFn
from repoctx.eval.metrics import _measure, summarize
from repoctx.eval.tasks import (MAX_SOURCE_FILES, MIN_WORDS, EvalError, Task, check_task, checkout_state,
                                detached_worktree, load_task_file, mine_tasks, repo_root)
from repoctx.git import run
from repoctx.index.load import Repository, load_repository
from repoctx.scan import ScanOptions
from repoctx.tokens import get_encoding

DEFAULT_BUDGETS = (8_000, 32_000, 128_000)
DEFAULT_ENCODING = "cl100k_base"  # the encoding of the reference figures in anchors.md


def packers() -> dict[str, Callable[[Repository], PackFn]]:
    """The packers to compare, by name; each is built once per repository state. repoctx's own runs
    in mode `auto` (the whole repository when it fits, else map + slices)."""
    from repoctx.pack.packer import Packer
    from repoctx.pack.request import PackRequest

    def repoctx(repo: Repository) -> PackFn:
        packer = Packer(repo)
        return lambda query, budget: packer.pack(PackRequest(query, budget=budget, mode="auto"))

    return {"repoctx": repoctx,
            "bm25-files": lambda repo: BM25Baseline(repo, None).pack,
            "bm25-windows": lambda repo: BM25Baseline(repo, WINDOW_LINES).pack}


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
    head = run(top, "rev-parse", "HEAD", isolated=True).strip()
    enc = get_encoding(encoding)
    detail = _run_tasks(top, tasks, budgets, enc, progress, index_path, options)
    return {"repository": top, "head": head, "encoding": enc.name, "budgets": list(budgets),
            "commits_requested": commits,
            "summary": summarize(detail, list(packers()), budgets), "tasks": detail}


def run_task_file(task_file: str, root: str | None = None, repos: dict[str, str] | None = None,
                  budgets: tuple[int, ...] = DEFAULT_BUDGETS, encoding: str | None = DEFAULT_ENCODING,
                  progress: Callable[[int, int], None] | None = None, index_path: str | None = None,
                  options: ScanOptions = ScanOptions()) -> dict:
    """The same measurement on the tasks of a task file (see `load_task_file`). A task's repository
    is `repos[its github or repo field]` when given, else `root`. Figures: a summary over all tasks
    and one per repository."""
    tasks = load_task_file(task_file)
    repos = repos or {}
    groups: dict[str, list[Task]] = {}
    for t in tasks:
        where = repos.get(t.repository) or root
        if where is None:
            raise EvalError(f"task {t.commit}: no clone given for repository {t.repository or '(unnamed)'} "
                            f"(pass --repo {t.repository or 'NAME'}=PATH, or the clone as PATH)")
        groups.setdefault(repo_root(where), []).append(t)
    for top, group in groups.items():
        for t in group:
            check_task(top, t)
    enc = get_encoding(encoding)
    names = list(packers())
    done = [0]

    def step(_k: int, _n: int) -> None:
        done[0] += 1
        if progress:
            progress(done[0], len(tasks))

    detail, by_repository = [], {}
    for top, group in groups.items():
        rows = _run_tasks(top, group, budgets, enc, step, index_path, options)
        detail += rows
        label = group[0].repository if len({t.repository for t in group}) == 1 and group[0].repository else top
        by_repository[label] = {"path": top, "tasks": len(rows), "summary": summarize(rows, names, budgets)}
    return {"repository": ", ".join(by_repository), "head": "", "task_file": os.path.abspath(task_file),
            "encoding": enc.name, "budgets": list(budgets), "commits_requested": len(tasks),
            "summary": summarize(detail, names, budgets), "by_repository": by_repository, "tasks": detail}


def _run_tasks(top: str, tasks: list[Task], budgets: tuple[int, ...], enc, progress, index_path: str | None,
               options: ScanOptions) -> list[dict]:
    """Every packer on every task at every budget, each task's state checked out in one temporary
    worktree of `top` and loaded with one shared index file."""
    factories = packers()
    detail = []
    with tempfile.TemporaryDirectory(prefix="repoctx-eval-index-") as scratch, \
            detached_worktree(top, tasks[0].parent) as worktree:
        index = index_path or os.path.join(scratch, "index.sqlite")
        for k, task in enumerate(tasks):
            checkout_state(worktree, task.parent)
            start = time.perf_counter()
            repo = load_repository(worktree, options, encoding=enc.name, index_path=index)
            entry = {**asdict(task), "load_seconds": time.perf_counter() - start, "results": {}}
            entry.pop("checks", None)
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
    return detail
