"""A change as git sees it: the unified diff of the work tree (or the staged index) against a
revision, and the post-image line ranges it touches, which the packer takes as its focus.

Works on the first commit of a repository (no HEAD: the diff is against the empty tree), on a
detached HEAD and during a merge. Added, deleted, renamed and binary files appear in the diff
text as git prints them; only lines that exist in the work tree become focus.
"""
from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass

EMPTY_TREE = "4b825dc642cb6eb9a060e54bf8d69288fbee4904"
CONTEXT_LINES = 3
_HUNK = re.compile(r"^@@ -\d+(?:,\d+)? \+(\d+)(?:,(\d+))? @@", re.M)


class ChangeError(Exception):
    pass


@dataclass
class Change:
    diff: str                                      # unified diff, as `git diff` prints it
    touched: dict[str, list[tuple[int, int]]]      # post-image path → changed line ranges (1-based)


def git(root: str, *args: str) -> str:
    """stdout of `git ARGS` run in `root`; ChangeError with git's message when it fails."""
    r = subprocess.run(["git", "-c", "core.quotepath=off", *args], cwd=root, capture_output=True,
                       text=True, errors="replace")
    if r.returncode != 0:
        raise ChangeError(f"git {' '.join(args)}: {r.stderr.strip() or 'failed'}")
    return r.stdout


_HUNK_CONTEXT = re.compile(r"(?m)^(@@ [^@\n]* @@).*$")


def read_change(root: str, rev: str | None = None, staged: bool = False) -> Change:
    """The diff of the work tree against `rev` (default HEAD), or of the index with `staged`."""
    try:
        git(root, "rev-parse", "--is-inside-work-tree")
    except (ChangeError, OSError):
        raise ChangeError(f"{root} is not inside a git work tree; --diff and --staged need git") from None
    base = rev or "HEAD"
    try:
        git(root, "rev-parse", "--verify", "--quiet", base + "^{commit}")
    except ChangeError:
        if rev:
            raise ChangeError(f"unknown revision {rev!r}") from None
        base = EMPTY_TREE  # a repository with no commit yet
    args = ["diff", "--no-color", "--no-ext-diff", f"-U{CONTEXT_LINES}", "-M", "--relative"]
    args += ["--cached", base] if staged else [base]
    # A hunk header repeats a line of the file as context ("@@ -10,4 +10,4 @@ def f():"), which can
    # be any line, a secret too: headers are cut to their line numbers.
    diff = _HUNK_CONTEXT.sub(r"\1", git(root, *args, "--"))
    exact = git(root, *[a if not a.startswith("-U") else "-U0" for a in args], "--")
    return Change(diff, touched_lines(exact))


def touched_lines(diff: str) -> dict[str, list[tuple[int, int]]]:
    """Post-image line ranges of each file's hunks (of a -U0 diff: the changed lines); a pure
    deletion touches the line just before where the removed lines were."""
    touched: dict[str, list[tuple[int, int]]] = {}
    path = None
    for line in diff.split("\n"):
        if line.startswith("+++ "):
            target = line[4:]
            path = None if target == "/dev/null" else target[2:] if target.startswith("b/") else target
        elif line.startswith("@@") and path:
            m = _HUNK.match(line)
            if m:
                start, count = int(m.group(1)), int(m.group(2) or 1)
                start = max(1, start)
                touched.setdefault(path, []).append((start, max(start, start + count - 1)))
    return touched
