"""Git: the one way repoctx runs git, reads a diff, and finds what a change touches.

Every git call goes through `run`: paths unquoted (`core.quotePath=false`), the exit code checked,
failures raised as `GitError` with git's own message, and nothing the repository's configuration names
as a program runs (a `.git/config` is as hostile as the files: it comes with a tarball, a shared folder,
another user's checkout): no fsmonitor, hooks, filters, textconv, external diff or diff driver, no gpg
(SAFE_CONFIG, `_filter_overrides`, `_DIFF_FLAGS`). Plain `git` on such a repository is the user's
own risk; repoctx's calls are not. `isolated=True` is for a repository repoctx
works on by itself (the evaluation's temporary worktree): hooks off, no optional locks, and none of
the `GIT_DIR`-style variables a caller's environment may hold. The other calls keep them, so that a
pre-commit hook sees the index git gives it (`git commit PATH` stages into a temporary index named by
`GIT_INDEX_FILE`).

`untrusted=True` is for a repository fetched from elsewhere (`remote.py`'s cached clones): isolated as
above, and nothing the repository holds can make git run a program — no hooks, no filter or LFS
smudge, no global attributes file, no submodule recursion, no `ext::` transport, no background gc. The
user's own credentials stay as git uses them (credential helpers, SSH keys), and git may prompt for
them only when stdin is a terminal (`GIT_TERMINAL_PROMPT=0` otherwise, so a script fails instead of
hanging). A failure's own text, as git printed it, is kept in `GitError.detail`.

A change (`read_change`) is the unified diff of the work tree (or the staged index) against a
revision, with the post-image line ranges it touches, which the packer takes as its focus. It works on
the first commit of a repository (no HEAD: the diff is against the empty tree), on a detached HEAD
and during a merge. Added, deleted, renamed and binary files appear in the diff text as git prints
them; only lines that exist in the work tree become focus.

Plain `git` subprocesses, not GitPython: importing GitPython costs about 0.11 s (`python -X importtime
-c "import git"`), a third of the CLI's start-up budget, for what `subprocess.run` does as well.
"""
from __future__ import annotations

import codecs
import os
import re
import subprocess
import sys
import threading
from dataclasses import dataclass
from typing import Callable

EMPTY_TREE = "4b825dc642cb6eb9a060e54bf8d69288fbee4904"  # git's id of the empty tree: not a secret
CONTEXT_LINES = 3
#: Environment variables that would point git at another repository than the one we name.
_REPOSITORY_ENV = ("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "GIT_COMMON_DIR", "GIT_OBJECT_DIRECTORY",
                   "GIT_NAMESPACE", "GIT_PREFIX")
_HUNK = re.compile(r"^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@")
_HUNK_CONTEXT = re.compile(r"(?m)^(@@ [^@\n]* @@).*$")


#: Configuration every command on an untrusted repository runs with (and that its clone keeps, see
#: `remote.py`): git runs nothing the repository's content could name.
UNTRUSTED_CONFIG = (
    f"core.hooksPath={os.devnull}", f"core.attributesFile={os.devnull}", "core.fsmonitor=false",
    "submodule.recurse=false", "fetch.recurseSubmodules=false", "protocol.ext.allow=never",
    "filter.lfs.smudge=", "filter.lfs.clean=", "filter.lfs.process=", "filter.lfs.required=false",
    "gc.auto=0", "maintenance.auto=false", "advice.detachedHead=false",
)


class GitError(Exception):
    """A git command failed (or git is missing); the message says which and why, `detail` holds
    git's own error output."""

    def __init__(self, message: str, detail: str = ""):
        super().__init__(message)
        self.detail = detail


class GitStopped(GitError):
    """A git call repoctx ended because it would never finish (see `_git`): never read as "not a
    repository" or "no such revision" — whoever catches GitError to try something else lets it pass."""


#: Configuration every git call runs with: nothing a repository's own config names as a program runs
#: for the commands repoctx uses — no fsmonitor hook, no hooks (a ref update runs reference-transaction,
#: an index write post-index-change, an auto gc pre-auto-gc), no gpg to check a signature `log` shows.
#: Filters are switched off by name (`_filter_overrides`), textconv and diff drivers by flags (`_DIFF_FLAGS`).
SAFE_CONFIG = ("core.fsmonitor=false", f"core.hooksPath={os.devnull}", "log.showSignature=false",
               "gc.auto=0", "maintenance.auto=false")
#: Commands that may show a diff of content: textconv, external diff and diff drivers off.
_DIFF_COMMANDS = frozenset(("diff", "log", "show"))
_DIFF_FLAGS = ("--no-ext-diff", "--no-textconv")
#: Commands that may read a work-tree file into git (clean filter) or write one out (smudge); `ls-files`
#: only with -m (its listings, -s and -o, read no content: the scan runs them on every call).
_FILTERING = frozenset(("diff", "diff-files", "diff-index", "status", "hash-object", "add",
                        "checkout", "reset", "worktree", "stash", "restore", "switch", "apply"))


#: The longest one local git call may run: 600 s. repoctx's slowest local calls (`diff` against HEAD,
#: `ls-files -o`, `hash-object`) walk the work tree once; on a repository of 100,000 files they take
#: seconds, so 600 s is over a hundred times the slowest legitimate call and is reached only by a git
#: that waits for good (a FIFO on a network or FUSE file system, a hung mount). Network calls (clone,
#: fetch) have no bound: a large clone may take longer, and nothing of a repository can plant a FIFO
#: in the fresh folder they work in.
GIT_TIMEOUT = 600
_NETWORK = frozenset(("clone", "fetch", "ls-remote", "pull", "push"))
_POLL = 0.5  # seconds between looks at a running git: a call that ends sooner is never looked at


def _blocked_on_fifo(pid: int) -> bool:
    """Whether the process waits in the kernel to open a FIFO for which no other end will come (Linux's
    wait state `wait_for_partner`). A git that does waits for good: every file it opens is a
    repository's or a config's (an `include.path`, `.git/HEAD`, `.git/index`, `.gitattributes`...
    planted as a FIFO), none is ever a pipe another program feeds. Elsewhere only GIT_TIMEOUT ends it."""
    try:
        with open(f"/proc/{pid}/wchan", "rb") as f:
            return f.read().strip() == b"wait_for_partner"
    except OSError:
        return False


def _git(argv: list[str], cwd: str, env: dict) -> subprocess.CompletedProcess:
    """Run one git process to its end, never forever: a git blocked opening a FIFO is ended at once
    (seen on Linux), any local call at GIT_TIMEOUT; either is a GitError saying so in one line."""
    i = 1
    while i < len(argv) and argv[i] == "-c":
        i += 2
    command = argv[i] if i < len(argv) else ""
    proc = subprocess.Popen(argv, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    waited = 0.0
    while True:
        try:
            out, err = proc.communicate(timeout=_POLL)
            return subprocess.CompletedProcess(argv, proc.returncode, out, err)
        except subprocess.TimeoutExpired:
            waited += _POLL
            fifo = _blocked_on_fifo(proc.pid)
            if fifo or (command not in _NETWORK and waited >= GIT_TIMEOUT):
                proc.kill()
                proc.communicate()
                why = ("it waited to open a FIFO (a named pipe planted in the repository, its .git folder "
                       "or a file its config includes)") if fifo else f"it ran for over {GIT_TIMEOUT} s"
                raise GitStopped(f"git {command} in {cwd} was stopped: {why}", why) from None
        except BaseException:
            proc.kill()
            proc.wait()
            raise


def _filter_overrides(cwd: str, config: list[str], env: dict) -> None:
    """Empty every filter driver the repository's own configuration names or changes (a key of
    `filter.NAME.*` in `.git/config`, its worktree config or a file they include), so that a
    `.gitattributes` or `info/attributes` naming it runs nothing: attributes cannot be switched off
    (`info/attributes` is the repository's too), drivers can. Drivers only the user's own (global,
    system) configuration defines, such as git-lfs, keep working. Through GIT_CONFIG_KEY_n, not `-c`: a
    driver name may hold a `=`."""
    try:
        listed = _git(["git", *config, "config", "-z", "--show-scope", "--name-only", "--get-regexp",
                       r"^filter\."], cwd, env).stdout
    except OSError:
        return
    fields = listed.decode("utf-8", "surrogateescape").split("\0")
    drivers = {key[len("filter."):].rpartition(".")[0] for scope, key in zip(fields[::2], fields[1::2])
               if scope in ("local", "worktree") and key.startswith("filter.")}
    n = int(env.get("GIT_CONFIG_COUNT") or 0)
    for driver in sorted(drivers - {""}):
        for key, value in (("clean", ""), ("smudge", ""), ("process", ""), ("required", "false")):
            env[f"GIT_CONFIG_KEY_{n}"], env[f"GIT_CONFIG_VALUE_{n}"] = f"filter.{driver}.{key}", value
            n += 1
    if n:
        env["GIT_CONFIG_COUNT"] = str(n)


def run(cwd: str, *args: str, binary: bool = False, isolated: bool = False, untrusted: bool = False,
        warnings: list[str] | None = None) -> str | bytes:
    """stdout of `git ARGS` run in `cwd`; GitError with git's message when it fails. What git
    prints on stderr when it succeeds goes, line by line, to `warnings` if given.

    Every call runs with SAFE_CONFIG, filters emptied and diff programs off (see above): the
    repository's `.git/config` is as hostile as its files. `rev-parse` keeps core.hooksPath, so that
    `--git-path hooks` names the folder git runs hooks from (rev-parse itself runs none)."""
    env = dict(os.environ)
    env.pop("GIT_EXTERNAL_DIFF", None)
    config = ["-c", "core.quotePath=false"]
    config += [a for c in SAFE_CONFIG if not (args[:1] == ("rev-parse",) and c.startswith("core.hooksPath="))
               for a in ("-c", c)]
    if isolated or untrusted:
        env = {k: v for k, v in env.items() if k not in _REPOSITORY_ENV}
        env["GIT_OPTIONAL_LOCKS"] = "0"
    if untrusted:
        env["GIT_LFS_SKIP_SMUDGE"] = "1"
        if not (sys.stdin and sys.stdin.isatty()):
            env["GIT_TERMINAL_PROMPT"] = "0"
        config += [a for c in UNTRUSTED_CONFIG for a in ("-c", c)]
    if args[:1] and (args[0] in _FILTERING or args[0] == "ls-files" and {"-m", "--modified"} & set(args)):
        _filter_overrides(cwd, config, env)
    if args[:1] and args[0] in _DIFF_COMMANDS:
        args = (args[0], *_DIFF_FLAGS, *args[1:])
    try:
        proc = _git(["git", *config, *args], cwd, env)
    except FileNotFoundError:
        raise GitError("git is not installed (or not on PATH)") from None
    except NotADirectoryError:
        raise GitError(f"not a folder: {cwd}") from None
    if proc.returncode:
        message = proc.stderr.decode("utf-8", "replace").strip() or f"exit code {proc.returncode}"
        raise GitError(f"git {' '.join(args[:2])} failed: {message}", message)
    if warnings is not None and proc.stderr:
        warnings += proc.stderr.decode("utf-8", "replace").splitlines()
    return proc.stdout if binary else proc.stdout.decode("utf-8", "replace")


def run_all(cwd: str, *commands: tuple[str, ...], warnings: list[str] | None = None) -> list[str]:
    """`run(cwd, *command)` of each command, run at the same time (each waits on git, not on the
    others); GitError of the first that fails."""
    out: list = [None] * len(commands)
    said: list[list[str]] = [[] for _ in commands]

    def one(i: int) -> None:
        try:
            out[i] = run(cwd, *commands[i], warnings=said[i])
        except GitError as exc:
            out[i] = exc
    threads = [threading.Thread(target=one, args=(i,)) for i in range(1, len(commands))]
    for t in threads:
        t.start()
    one(0)
    for t in threads:
        t.join()
    for result in out:
        if isinstance(result, GitError):
            raise result
    if warnings is not None:
        warnings += [line for lines in said for line in lines]
    return out


def toplevel(path: str) -> str | None:
    """The top folder of the git work tree holding `path`, or None when it is in none."""
    try:
        return os.path.realpath(run(path, "rev-parse", "--show-toplevel").strip())
    except GitStopped:
        raise
    except GitError:
        return None


def unquote(path: str) -> str:
    """A path as git prints it (C-quoted when it holds special characters) → the path. Bytes that are
    not UTF-8 are kept as surrogates (surrogateescape, as os.fsdecode keeps them), never replaced by
    U+FFFD: two names stay two names, and a report shows the real bytes (render.shown_path)."""
    if len(path) >= 2 and path[0] == path[-1] == '"':
        return codecs.escape_decode(path[1:-1].encode("utf-8", "surrogateescape"))[0].decode("utf-8", "surrogateescape")
    return path


# -- diffs -------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Hunk:
    """One `@@` hunk of a unified diff; a path is None on the /dev/null side of an added or deleted file."""
    old_path: str | None
    new_path: str | None
    old_start: int
    old_count: int
    new_start: int
    new_count: int


def _diff_path(field: str) -> str | None:
    name = unquote(field.rstrip("\t"))
    if name == "/dev/null":
        return None
    return name[2:] if name[:2] in ("a/", "b/") else name


def hunks(diff: str) -> list[Hunk]:
    """Every hunk of a unified diff (git's or plain `---`/`+++`), with the file paths it belongs to.
    Content lines are never mistaken for headers: a removed "-- x" line reads "--- x" too."""
    out: list[Hunk] = []
    old = new = None
    left = 0  # content lines still to come in the current hunk (old side + new side)
    for line in diff.split("\n"):
        if left > 0:
            tag = line[:1]
            left -= 2 if tag == " " else 1 if tag in "+-" else 0
            continue
        m = _HUNK.match(line)
        if m:
            h = Hunk(old, new, int(m[1]), 1 if m[2] is None else int(m[2]),
                     int(m[3]), 1 if m[4] is None else int(m[4]))
            out.append(h)
            left = h.old_count + h.new_count
        elif line.startswith("diff --git "):
            old = new = None
        elif line.startswith("--- "):
            old = _diff_path(line[4:])
        elif line.startswith("+++ "):
            new = _diff_path(line[4:])
    return out


def diff_prefixes(diff: str) -> list[str]:
    """For each line of a unified diff, its content prefix (`+`, `-` or ` ` on a hunk's lines), or
    "" for a header line (`diff --git`, `---`, `+++`, `@@`, `\\ No newline`), counted as `hunks`
    counts them, so that a removed "-- x" line is content, not a header."""
    out: list[str] = []
    left = 0
    for line in diff.split("\n"):
        tag = line[:1]
        if left > 0 and tag in ("+", "-", " "):
            left -= 2 if tag == " " else 1
            out.append(tag)
            continue
        m = _HUNK.match(line)
        if m:
            left = (1 if m[2] is None else int(m[2])) + (1 if m[4] is None else int(m[4]))
        out.append("")
    return out


@dataclass
class Change:
    diff: str                                      # unified diff, as `git diff` prints it
    touched: dict[str, list[tuple[int, int]]]      # post-image path → changed line ranges (1-based)


def read_change(root: str, rev: str | None = None, staged: bool = False, *,
                left_out: Callable[[str], str | None]) -> Change:
    """The diff of the work tree against `rev` (default HEAD), or of the index with `staged`.

    A file that packs leave out (`left_out(path)` gives why: the caller's `secrets.left_out_rule`, required so
    that no caller can forget it) is never in the diff: git is asked to leave it out (an `:(exclude)` pathspec),
    and one line `# secret file changed: PATH (content left out)` says it changed."""
    try:
        run(root, "rev-parse", "--is-inside-work-tree")
    except GitStopped:
        raise
    except GitError:
        raise GitError(f"{root} is not inside a git work tree; a diff needs git") from None
    base = rev or "HEAD"
    try:
        run(root, "rev-parse", "--verify", "--quiet", base + "^{commit}")
    except GitStopped:
        raise
    except GitError:
        if rev:
            raise GitError(f"unknown revision {rev!r}") from None
        base = EMPTY_TREE  # a repository with no commit yet
    args = ["diff", "--no-color", "--no-ext-diff", f"-U{CONTEXT_LINES}", "-M", "--relative",
            "--src-prefix=a/", "--dst-prefix=b/"]
    args += ["--cached", base] if staged else [base]
    exact_args = [a if not a.startswith("-U") else "-U0" for a in args]
    names = [a for a in args if not a.startswith(("-U", "--src", "--dst"))] + ["--name-status", "-z"]
    diff, exact, listed = run_all(root, (*args, "--"), (*exact_args, "--"), (*names, "--"))
    hidden: dict[str, str] = {}
    for path in _changed_paths(listed):
        reason = left_out(path)
        if reason:
            hidden[path] = reason
    if hidden:
        spec = [".", *(f":(exclude,literal){p}" for p in sorted(hidden))]
        diff, exact = run_all(root, (*args, "--", *spec), (*exact_args, "--", *spec))
    said = ""
    if hidden:
        from repoctx.render import shown_path  # the one way a name is shown
        said = "".join(f"# {'secret' if why == 'secret-file' else 'ignored'} file changed: {shown_path(p)} "
                       "(content left out)\n" for p, why in sorted(hidden.items()))
    # A hunk header repeats a line of the file as context ("@@ -10,4 +10,4 @@ def f():"), which can
    # be any line, a secret too: headers are cut to their line numbers.
    return Change(said + _HUNK_CONTEXT.sub(r"\1", diff), touched_lines(exact))


def _changed_paths(name_status: str) -> list[str]:
    """Every path of a `--name-status -z` listing: both sides of a rename or copy."""
    fields = name_status.split("\0")
    paths, i = [], 0
    while i < len(fields) and fields[i]:
        n = 2 if fields[i][:1] in ("R", "C") else 1
        paths += fields[i + 1:i + 1 + n]
        i += 1 + n
    return paths


def touched_lines(diff: str) -> dict[str, list[tuple[int, int]]]:
    """Post-image line ranges of each file's hunks (of a -U0 diff: the changed lines); a pure
    deletion touches the line just before where the removed lines were."""
    touched: dict[str, list[tuple[int, int]]] = {}
    for h in hunks(diff):
        if h.new_path:
            start = max(1, h.new_start)
            touched.setdefault(h.new_path, []).append((start, max(start, start + h.new_count - 1)))
    return touched
