"""Tasks: what `repoctx eval` measures against, mined from a repository's own history.

A mined task: the query is a commit's full message, the repository state is its parent, and the
gold is the pre-image lines of the non-test source files that the commit removed or changed, plus
the lines on either side of each pure insertion. Each state is checked out in one temporary
detached worktree (the user's work tree, index and branches are never touched; the worktree is
removed afterwards, also on error or Ctrl-C).
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import PurePosixPath

from repoctx.files import split_lines
from repoctx.git import GitError, hunks, run, unquote
from repoctx.parse.languages import language_for_path
from repoctx.scan import IGNORED_FOLDERS, is_test_path

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
    #: The repository a task-file task belongs to (its `github` or `repo` field); "" when mined.
    repository: str = ""
    #: {path: {line: first 8 hex digits of the sha1 of the stripped line}}, to check a checkout.
    checks: dict[str, dict[int, str]] = field(default_factory=dict)



def _git(cwd: str, *args: str, binary: bool = False) -> str | bytes:
    """git on a repository the evaluation works on by itself (hooks off, no caller's GIT_DIR)."""
    return run(cwd, *args, binary=binary, isolated=True)


def repo_root(path: str) -> str:
    """The top folder of the git work tree holding `path`."""
    if not os.path.isdir(path):
        raise EvalError(f"not a folder: {path}")
    try:
        return os.path.realpath(_git(path, "rev-parse", "--show-toplevel").strip())
    except GitError:
        raise EvalError(f"not inside a git work tree: {path}") from None


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
        status, paths = fields[0][0], [unquote(f) for f in fields[1:]]
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
    spans_of: dict[str, list[tuple[int, int]]] = {}
    for h in hunks(out):
        if h.old_path in paths:
            spans_of.setdefault(h.old_path, []).append((h.old_start, h.old_count))
    gold: dict[str, list[int]] = {}
    for path, spans in spans_of.items():
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


# -- task files ---------------------------------------------------------------------------------------

#: Fields every line of a task file must have.
TASK_FIELDS = ("parent", "query", "gold_lines")


def load_task_file(path: str) -> list[Task]:
    """The tasks of a JSON Lines file, one object a line (blank lines skipped): `parent` (the commit
    to pack), `query`, `gold_lines` ({path: [1-based lines at parent]}); optional `id`, `github` or
    `repo` (which repository), `gold_line_sha1_8` (checked against the checkout). See README."""
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except OSError as exc:
        raise EvalError(f"cannot read the task file {path}: {exc.strerror}") from None
    tasks = []
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except ValueError as exc:
            raise EvalError(f"{path}:{n}: not a JSON object: {exc}") from None
        missing = [k for k in TASK_FIELDS if not isinstance(obj, dict) or k not in obj]
        if missing:
            raise EvalError(f"{path}:{n}: missing field(s) {', '.join(missing)}")
        gold = obj["gold_lines"]
        if not isinstance(gold, dict) or not gold or not all(
                isinstance(v, list) and v and all(isinstance(x, int) and x > 0 for x in v) for v in gold.values()):
            raise EvalError(f"{path}:{n}: gold_lines must map each path to a non-empty list of line numbers")
        if not isinstance(obj["query"], str) or not isinstance(obj["parent"], str):
            raise EvalError(f"{path}:{n}: parent and query must be strings")
        sums = obj.get("gold_line_sha1_8") or {}
        checks = {p: dict(zip(v, sums[p])) for p, v in gold.items() if isinstance(sums.get(p), list)}
        tasks.append(Task(str(obj.get("id") or f"line {n}"), obj["parent"], obj["query"],
                          {p: sorted(set(v)) for p, v in gold.items()},
                          str(obj.get("github") or obj.get("repo") or ""), checks))
    if not tasks:
        raise EvalError(f"no task in {path}")
    return tasks


def check_task(root: str, task: Task) -> None:
    """The repository holds the task's parent, its gold files and (when the task gives their
    hashes) the same gold lines; otherwise a clear error names the task."""
    try:
        _git(root, "cat-file", "-e", f"{task.parent}^{{commit}}")
    except GitError:
        raise EvalError(f"task {task.commit}: commit {task.parent} is not in {root} "
                        f"(fetch the repository's history, or pass its clone with --repo)") from None
    for path, lines in task.gold.items():
        try:
            text = _git(root, "cat-file", "blob", f"{task.parent}:{path}", binary=True).decode("utf-8", "replace")
        except GitError:
            raise EvalError(f"task {task.commit}: {path} does not exist at {task.parent[:12]}") from None
        have = split_lines(text)
        if lines[-1] > len(have):
            raise EvalError(f"task {task.commit}: {path} has {len(have)} lines at {task.parent[:12]}, gold names line {lines[-1]}")
        for n, want in task.checks.get(path, {}).items():
            if hashlib.sha1(have[n - 1].strip().encode()).hexdigest()[:8] != want:
                raise EvalError(f"task {task.commit}: line {n} of {path} at {task.parent[:12]} does not match its gold hash")


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
    except GitError:  # never made (a failed `worktree add`): the error that matters is the caller's
        pass
    try:
        records = os.path.join(root, _git(root, "rev-parse", "--git-common-dir").strip(), "worktrees")
    except GitError:
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


