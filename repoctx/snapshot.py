"""Context snapshots: at pre-commit time, the pack of the staged change, kept under the SHA of the
staged tree — which becomes the commit's tree, so any commit made with the hook finds its snapshot.

    .repoctx/snapshots/<tree-sha>.<ext>

`git write-tree` only records the index's tree in the object database; nothing staged changes.
Snapshots are capped (count and total bytes), oldest removed first.
"""
from __future__ import annotations

import os
import re
import sys
from dataclasses import dataclass

from repoctx.files import read_file, write_atomic
from repoctx.git import GitError, run, toplevel
from repoctx.settings import Settings

EXTENSIONS = {"xml": "xml", "markdown": "md", "plain": "txt", "json": "xml"}  # json packs keep their XML text
HOOK_MARK = "# installed by `repoctx hook install`"
CHAINED = ".repoctx-chained"


def _git(root: str, *args: str) -> str:
    return run(root, *args).strip()


def repository_root(path: str) -> str:
    """The top folder of the git work tree holding `path` (snapshots and hooks are a repository's,
    whichever of its folders asks); GitError saying what to do outside git."""
    top = toplevel(path) if os.path.isdir(path) else None
    if top is None:
        raise GitError(f"not a git repository: {os.path.abspath(path)} (snapshots and hooks need git; "
                       "`git init` makes one)")
    return top


def snapshot_dir(root: str) -> str:
    from repoctx.index.store import state_folder  # beside the index: `.repoctx/` unless not repoctx's own
    return os.path.join(state_folder(root), "snapshots")


def take(root: str, settings, index_path: str | None = None, progress=None):
    """The pre-commit step: the pack of the staged change (`settings` give budget and format),
    written as the snapshot of the staged tree. Returns (snapshot path, PackResult, Repository)."""
    from repoctx.index.load import load_repository
    from repoctx.pack.packer import Packer
    from repoctx.pack.request import STAGED, PackRequest
    from repoctx.scan import ScanOptions
    repo = load_repository(root, ScanOptions.from_settings(settings), encoding=settings.encoding,
                           index_path=index_path, progress=progress)
    request = PackRequest.from_settings(settings, diff=STAGED, mode="slice")
    result = Packer(repo, redact=settings.redact).pack(request)
    path = take_snapshot(repo.root, result.text, settings.format, settings.snapshot_max_count,
                         settings.snapshot_max_bytes)
    return path, result, repo


def take_snapshot(root: str, text: str, fmt: str, keep: int = Settings.snapshot_max_count, max_bytes: int = Settings.snapshot_max_bytes) -> str:
    """Write `text` as the snapshot of the staged tree, then prune to `keep` files and `max_bytes`;
    returns its path."""
    tree = _git(root, "write-tree")
    folder = snapshot_dir(root)
    os.makedirs(folder, exist_ok=True)
    ignore = os.path.join(os.path.dirname(folder), ".gitignore")
    if not os.path.lexists(ignore):  # lexists: a dangling link is there; open would follow it
        with open(ignore, "x") as f:  # x: O_EXCL never follows a link planted meanwhile
            f.write("# repoctx's index and snapshots: never commit them\n*\n")
    path = os.path.join(folder, f"{tree}.{EXTENSIONS[fmt]}")
    write_atomic(path, text)
    prune(folder, keep, max_bytes)
    return path


def prune(folder: str, keep: int = Settings.snapshot_max_count, max_bytes: int = Settings.snapshot_max_bytes) -> None:
    """Remove the oldest snapshots beyond `keep` files or `max_bytes` in total."""
    entries = sorted((e for e in os.scandir(folder) if _SNAPSHOT.match(e.name)),
                     key=lambda e: e.stat().st_mtime, reverse=True)
    total = 0
    for i, e in enumerate(entries):
        total += e.stat().st_size
        if i >= keep or total > max_bytes:
            os.unlink(e.path)


_SNAPSHOT = re.compile(r"^[0-9a-f]{40,64}\.(xml|md|txt|json)$")


def find_snapshot(root: str, commit: str = "HEAD") -> str:
    """The snapshot of a commit (by its tree). `commit` must name a commit, never a path."""
    if commit.startswith("-") or "/" in commit and os.path.exists(os.path.join(root, commit)):
        raise GitError(f"{commit!r} is not a commit")
    try:
        tree = _git(root, "rev-parse", "--verify", "--quiet", f"{commit}^{{tree}}")
    except GitError:
        raise GitError(f"no such commit: {commit!r} (`repoctx snapshot list` shows the commits with a snapshot)") from None
    folder = snapshot_dir(root)
    for ext in EXTENSIONS.values():
        path = os.path.join(folder, f"{tree}.{ext}")
        if os.path.exists(path):
            return path
    raise GitError(f"no snapshot for {commit} (tree {tree[:12]}); was it committed with the repoctx hook?")


@dataclass
class SnapshotEntry:
    path: str
    tree: str
    commit: str | None
    date: str | None
    size: int


def list_snapshots(root: str) -> list[SnapshotEntry]:
    folder = snapshot_dir(root)
    if not os.path.isdir(folder):
        return []
    commits: dict[str, tuple[str, str]] = {}
    try:
        log = _git(root, "log", "--all", "--format=%T %H %cI")
    except GitError:
        log = ""  # no commit yet: every snapshot is "(not committed)"
    for line in log.splitlines():
        tree, commit, date = line.split(" ", 2)
        commits.setdefault(tree, (commit, date))
    out = []
    for e in sorted(os.scandir(folder), key=lambda e: e.stat().st_mtime, reverse=True):
        if _SNAPSHOT.match(e.name):
            tree = e.name.split(".", 1)[0]
            commit, date = commits.get(tree, (None, None))
            out.append(SnapshotEntry(e.path, tree, commit, date, e.stat().st_size))
    return out


def attach_note(root: str, commit: str = "HEAD") -> None:
    """Attach a commit's snapshot as a git note in refs/notes/repoctx (the post-commit step)."""
    _git(root, "notes", "--ref=repoctx", "add", "-f", "-F", find_snapshot(root, commit), commit)


# -- plain git hooks -------------------------------------------------------------------------------

def hooks_dir(root: str) -> str:
    """The folder git runs hooks from, where `hook install` writes. Refused (GitError, one line) when
    it is in the work tree (a hook there is content a repository ships: a tracked `.githooks`) or,
    named by the repository's own config (`core.hooksPath` in .git/config), outside its .git folder:
    an executable repoctx writes goes where the user chose, never where a repository points."""
    path = _git(root, "rev-parse", "--git-path", "hooks")
    folder = os.path.realpath(path if os.path.isabs(path) else os.path.join(root, path))
    common = _git(root, "rev-parse", "--git-common-dir")
    common = os.path.realpath(common if os.path.isabs(common) else os.path.join(root, common))
    if os.path.commonpath([folder, common]) == common:
        return folder
    scopes = [ln.split("\t", 1)[0] for ln in run(root, "config", "--show-scope", "--get-all", "core.hooksPath")
              .splitlines() if not ln.startswith("command\t")]  # run's own -c is of scope "command"
    inside = os.path.commonpath([folder, os.path.realpath(root)]) == os.path.realpath(root)
    if inside or (scopes and scopes[-1] in ("local", "worktree")):
        raise GitError(f"core.hooksPath names {folder}, {'inside the work tree' if inside else 'outside .git, set by this repository'}: "
                       "repoctx writes no hook there (unset core.hooksPath, or install the hook by hand)")
    return folder


def _hook_script(command: str) -> str:
    return f"""#!/bin/sh
{HOOK_MARK}
# An earlier hook, if there was one, runs first and can still block the commit.
if [ -x "$0{CHAINED}" ]; then "$0{CHAINED}" "$@" || exit $?; fi
{command} || echo "repoctx: the hook failed; the commit goes on" >&2
exit 0
"""


def install_hooks(root: str, notes: bool = False) -> list[str]:
    """Install pre-commit (snapshot) and, with `notes`, post-commit (git note) hooks, keeping any
    existing hook as a chained one. Returns the hook paths written."""
    folder = hooks_dir(root)
    os.makedirs(folder, exist_ok=True)
    py = sys.executable
    wanted = {"pre-commit": f'"{py}" -m repoctx snapshot'}
    if notes:
        wanted["post-commit"] = f'"{py}" -m repoctx snapshot note'
    written = []
    for name, command in wanted.items():
        path = os.path.join(folder, name)
        if os.path.exists(path) and not _ours(path) and not os.path.exists(path + CHAINED):
            os.replace(path, path + CHAINED)
        write_atomic(path, _hook_script(command), mode=0o755)  # replaces a planted link, never writes through it
        written.append(path)
    return written


def uninstall_hooks(root: str) -> list[str]:
    """Remove repoctx's hooks and put back the hooks they had chained."""
    folder = hooks_dir(root)
    removed = []
    for name in ("pre-commit", "post-commit"):
        path = os.path.join(folder, name)
        if os.path.exists(path) and _ours(path):
            os.unlink(path)
            removed.append(path)
            if os.path.exists(path + CHAINED):
                os.replace(path + CHAINED, path)
    return removed


def _ours(path: str) -> bool:
    """Whether a hook file is repoctx's: read without following a link or blocking on a FIFO."""
    try:
        return HOOK_MARK in read_file("", path).decode("utf-8", "replace")
    except OSError:
        return False

