"""Remote repositories: a git URL → a clone in repoctx's cache, so every command works on it unchanged.

`resolve(text, ref, refresh)` is called before a command runs: for a local path it returns None; for
a URL (`https://…`, `http://…`, `ssh://…`, `git://…`, `file://…`, scp-like `git@host:o/r`, or
`github:o/r` for `https://github.com/o/r.git`) it returns the `Checkout` of a local clone, and the
command goes on with that folder as its repository (paths in the output are repository-relative).

The cache: `$XDG_CACHE_HOME/repoctx/repos/<host>/<path>@<ref-key>` (`~/.cache` by default), one entry
per URL and ref. The ref key is the ref as a file name plus a short hash of the URL and ref, so that
two URLs that share a host and path (https and ssh, with and without `.git`) never share an entry.
Each entry is a work tree of one commit (a shallow, blob-filtered fetch of depth 1, detached HEAD)
with the index inside it (`.repoctx/`, as for any repository; one the remote repository tracks is
never read: `index.store.state_folder`). An existing entry is used as it is, with
no network; `--refresh` fetches the ref again and resets the work tree to it.

How an entry is made, so that it is never half-written: under the entry's lock file (`<entry>.lock`,
`flock`, so a second repoctx for the same entry waits and then uses the first one's clone), a
repository is initialised in a temporary folder beside the entry (`<entry>.tmp-…`), fetched and
checked out there, and only then renamed to the entry (one `rename`, atomic). A failure or Ctrl-C
removes the temporary folder; a `kill -9` leaves it behind, and the next call (holding the lock, so
no clone is in flight) removes it. A refresh writes the commit it resets to into
`.git/repoctx-refresh` first and removes it after: an entry found with that file has its reset
finished before use (from objects already fetched, no network).

Nothing is ever run from the clone: every git command on it goes through `git.run(untrusted=True)`
(no hooks, no LFS or other filter smudge, no submodule recursion, no `ext::`), the clone's own config
keeps the same settings for the commands the scan runs later, and `.git/info/attributes` (which
overrides the repository's `.gitattributes`) turns filters and diff/merge drivers off for every path,
so a `.gitattributes` naming a filter driver the user has configured runs nothing. Credentials are
git's business: the user's credential helpers and SSH keys work as they do for `git clone`.

Why `init` + `fetch` rather than `git clone`: one path for branches, tags and commit ids (`clone
--branch` cannot take a commit id), and the attributes file is in place before the first checkout.
The blob filter (`--filter=blob:none`, ignored with a warning by servers that do not support it) saves
little at depth 1, where the checkout needs every blob of the commit anyway; it is kept because it
costs one round trip and servers that support it send the blobs in one batch.
"""
from __future__ import annotations

import contextlib
import hashlib
import os
import re
import shutil
import sys
import tempfile
from dataclasses import dataclass
from urllib.parse import urlsplit

from repoctx.git import UNTRUSTED_CONFIG, GitError, run

SCHEMES = ("https", "http", "ssh", "git", "file")
#: What the info/attributes file of a clone says for every path: no filter, diff or merge driver.
ATTRIBUTES = "* -filter !diff !merge\n"
_FULL_SHA = re.compile(r"^(?:[0-9a-f]{40}|[0-9a-f]{64})$")
_SCP = re.compile(r"^(?:[A-Za-z0-9._~+-]+@)?(?P<host>[A-Za-z0-9][A-Za-z0-9.-]*):(?P<path>[^:\s][^\s]*)$")
_GITHUB = re.compile(r"^github:(?P<owner>[A-Za-z0-9][A-Za-z0-9-]*)/(?P<repo>[A-Za-z0-9._-]+?)(?:\.git)?/?$")
_CREDENTIALS = re.compile(r"(://[^/@:\s]*):[^/@\s]*@")  # the password of user:password@ in a URL


class RemoteError(Exception):
    """A remote repository could not be fetched: unreachable, refused, unknown ref (exit code 1)."""


class BadRemote(RemoteError):
    """A URL or ref that cannot be used, found out before any network access (exit code 2)."""


@dataclass(frozen=True)
class Remote:
    url: str   # what git fetches
    host: str  # the cache folder for the host (port appended as _PORT)
    path: str  # the repository's path on the host, as cache folders


@dataclass(frozen=True)
class Checkout:
    """A clone in the cache, ready for a command."""
    path: str      # the work tree
    url: str       # the URL as shown (any password removed)
    ref: str | None  # the ref asked for; None: the remote's default branch
    commit: str    # the commit checked out
    how: str       # "cloned", "refreshed" or "cached"

    def describe(self) -> str:
        at = f"{self.ref} = {self.commit[:12]}" if self.ref and self.ref != self.commit else self.commit[:12]
        return f"{self.url} at {at} ({self.how})"


def shown(url: str) -> str:
    """A URL or message with any password of `user:password@` removed."""
    return _CREDENTIALS.sub(r"\1@", url)


def parse_remote(text: str) -> Remote | None:
    """The remote repository `text` names, or None when it is not a URL (a local path).
    BadRemote for something that is meant as a URL but cannot be one."""
    if os.path.exists(text):
        return None
    if text.startswith("-") or any(ord(c) < 32 or ord(c) == 127 for c in text):
        # git would read it as an option (`--upload-pack=…`), or it hides text from the one reading it
        raise BadRemote(f"not a repository URL or folder: {shown(text)!r}")
    m = _GITHUB.match(text)
    if m:
        return Remote(f"https://github.com/{m['owner']}/{m['repo']}.git", "github.com", _folders(f"{m['owner']}/{m['repo']}"))
    if text.startswith("github:"):
        raise BadRemote(f"not a GitHub repository: {text!r}; write github:OWNER/REPO")
    scheme = re.match(r"^([A-Za-z][A-Za-z0-9+.-]*)(://|::)", text)
    if scheme:
        name = scheme[1].lower()
        if scheme[2] == "::" or name not in SCHEMES:
            raise BadRemote(f"unsupported URL scheme {scheme[1]!r} in {shown(text)!r}; use "
                            + ", ".join(f"{s}://" for s in SCHEMES) + ", git@HOST:PATH or github:OWNER/REPO")
        return _parse_url(text, name)
    m = _SCP.match(text)
    if m and "/" not in text.split(":", 1)[0]:
        return Remote(text, _folder(m["host"]), _folders(m["path"]))
    return None


def _parse_url(text: str, scheme: str) -> Remote:
    if any(c.isspace() for c in text):
        raise BadRemote(f"a URL holds no spaces: {shown(text)!r}")
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError as exc:
        raise BadRemote(f"not a valid URL: {shown(text)!r} ({exc})") from None
    path = parts.path.strip("/")
    if scheme == "file":
        if parts.netloc not in ("", "localhost"):
            raise BadRemote(f"a file:// URL names a folder on this machine: file:///PATH, not {text!r}")
        if not path:
            raise BadRemote(f"no repository folder in {text!r}; write file:///PATH/TO/REPO")
        return Remote(text, "file", _folders(path))
    if not parts.hostname:
        raise BadRemote(f"no host in the URL {shown(text)!r}; write {scheme}://HOST/PATH")
    if parts.hostname.startswith("-") or (parts.username or "").startswith("-"):
        raise BadRemote(f"a host or user name starts with '-' in {shown(text)!r}: ssh would read it as an option")
    if not path:
        raise BadRemote(f"no repository path in the URL {shown(text)!r}; write {scheme}://HOST/PATH")
    host = _folder(parts.hostname) + (f"_{port}" if port else "")
    return Remote(text, host, _folders(path))


def _folder(name: str) -> str:
    """A name made safe as one folder name (no separators, no `.`/`..`)."""
    safe = re.sub(r"[^A-Za-z0-9._-]", "_", name).strip(".") or "_"
    return safe


def _folders(path: str) -> str:
    """A repository path as cache folders: each part made safe, a trailing `.git` dropped."""
    path = re.sub(r"(?:\.git)?/*$", "", path.replace("\\", "/").strip("/"))
    parts = [_folder(p) for p in path.split("/") if p not in ("", ".", "..")]
    return "/".join(parts) or "_"


def check_ref(ref: str) -> None:
    """BadRemote unless `ref` can be a branch, tag or commit id (never an option git would read)."""
    if not ref or ref.startswith("-") or any(c.isspace() or ord(c) < 32 for c in ref):
        raise BadRemote(f"not a branch, tag or commit: {ref!r}")
    try:
        run(os.sep, "check-ref-format", "--allow-onelevel", ref.removeprefix("refs/"))
    except GitError:
        raise BadRemote(f"not a branch, tag or commit: {ref!r} (git does not allow that name)") from None


def cache_root() -> str:
    """`$XDG_CACHE_HOME/repoctx/repos`, `~/.cache/repoctx/repos` when that is unset (or relative)."""
    from repoctx.files import cache_home
    return os.path.join(cache_home(), "repoctx", "repos")


def entry_path(remote: Remote, ref: str | None) -> str:
    """The cache entry of a URL and ref."""
    key = hashlib.sha256(f"{shown(remote.url)}\0{ref or ''}".encode()).hexdigest()[:10]
    name = _folder(ref[:12] if ref and _FULL_SHA.match(ref) else (ref or "HEAD").replace("/", "_"))
    return os.path.join(cache_root(), remote.host, *remote.path.split("/")[:-1],
                        f"{remote.path.split('/')[-1]}@{name}-{key}")


def resolve(text: str, ref: str | None = None, refresh: bool = False) -> Checkout | None:
    """The cached clone of the repository `text` names at `ref` (made or refreshed as needed), or
    None when `text` is a local path."""
    remote = parse_remote(text)
    if remote is None:
        return None
    if ref is not None:
        check_ref(ref)
    entry = entry_path(remote, ref)
    try:
        os.makedirs(os.path.dirname(entry), exist_ok=True)
    except OSError as exc:
        raise RemoteError(f"cannot create the cache folder {os.path.dirname(entry)}: {exc.strerror or exc}; "
                          "set XDG_CACHE_HOME to a writable folder") from None
    with _locked(entry + ".lock", shown(remote.url)):
        _remove_stale(entry)
        how = "cached"
        if os.path.isdir(entry) and not _usable(entry):
            _remove(entry)
        if not os.path.isdir(entry):
            _clone(remote, ref, entry)
            how = "cloned"
        elif refresh:
            _fetch(entry, remote, ref)
            _reset(entry, run(entry, "rev-parse", "--verify", "FETCH_HEAD^{commit}", untrusted=True).strip())
            how = "refreshed"
        commit = run(entry, "rev-parse", "HEAD", untrusted=True).strip()
    return Checkout(entry, shown(remote.url), ref, commit, how)


@contextlib.contextmanager
def _locked(path: str, url: str):
    """An exclusive lock on `path` for the block (waits, saying so, while another repoctx holds it)."""
    try:
        import fcntl
    except ImportError:  # not POSIX: no lock (entries still appear atomically)
        yield
        return
    with open(path, "a") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            print(f"repoctx: waiting for another repoctx fetching {url}", file=sys.stderr, flush=True)
            fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def _remove_stale(entry: str) -> None:
    """Temporary folders a killed clone of this entry left (the lock is held: none is in use)."""
    parent, name = os.path.split(entry)
    for other in os.listdir(parent):
        if other.startswith(name + ".tmp-"):
            _remove(os.path.join(parent, other))


def _remove(path: str) -> None:
    shutil.rmtree(path, ignore_errors=True)


def _usable(entry: str) -> bool:
    """Whether an entry holds a checked-out commit (and finishes a refresh a crash cut short)."""
    try:
        run(entry, "rev-parse", "--verify", "HEAD^{commit}", untrusted=True)
    except GitError:
        return False
    marker = os.path.join(entry, ".git", "repoctx-refresh")
    if os.path.exists(marker):
        try:
            with open(marker, encoding="ascii") as f:
                _reset(entry, f.read().strip())
        except (OSError, GitError):
            return False
    return True


def _clone(remote: Remote, ref: str | None, entry: str) -> None:
    """Fetch `ref` of `remote` into a temporary folder beside `entry`, check it out, rename it to `entry`."""
    print(f"repoctx: fetching {shown(remote.url)}" + (f" ({ref})" if ref else ""), file=sys.stderr, flush=True)
    tmp = tempfile.mkdtemp(prefix=os.path.basename(entry) + ".tmp-", dir=os.path.dirname(entry))
    try:
        run(tmp, "init", "-q", untrusted=True)
        with open(os.path.join(tmp, ".git", "info", "attributes"), "w", encoding="ascii") as f:
            f.write(ATTRIBUTES)
        for setting in UNTRUSTED_CONFIG:  # kept by the clone, for the commands run on it later
            key, value = setting.split("=", 1)
            run(tmp, "config", key, value, untrusted=True)
        run(tmp, "remote", "add", "--", "origin", remote.url, untrusted=True)
        _fetch(tmp, remote, ref)
        run(tmp, "checkout", "-q", "--detach", "FETCH_HEAD", untrusted=True)
        os.rename(tmp, entry)
    except BaseException:
        _remove(tmp)
        raise


def _fetch(repo: str, remote: Remote, ref: str | None) -> None:
    """`git fetch --depth 1 --filter=blob:none origin REF`, falling back to a full fetch for a server
    that cannot do shallow fetches; git's failure summarised as a RemoteError."""
    target = ref or "HEAD"
    args = ["fetch", "-q", "--no-tags", "--no-recurse-submodules"]
    try:
        try:
            run(repo, *args, "--depth", "1", "--filter=blob:none", "--", "origin", target, untrusted=True)
        except GitError as exc:
            if "shallow" not in exc.detail and "filter" not in exc.detail:
                raise
            run(repo, *args, "--", "origin", target, untrusted=True)  # e.g. dumb HTTP: no shallow, no filter
    except GitError as exc:
        raise RemoteError(_summary(exc.detail, remote, ref)) from None


def _reset(repo: str, commit: str) -> None:
    """Point the work tree at `commit`; a crash in between is finished by `_usable`."""
    from repoctx.files import write_atomic
    marker = os.path.join(repo, ".git", "repoctx-refresh")
    write_atomic(marker, commit + "\n")
    run(repo, "reset", "-q", "--hard", commit, untrusted=True)
    os.unlink(marker)


def _summary(detail: str, remote: Remote, ref: str | None) -> str:
    """git's failure to fetch as one line saying what happened and what to do."""
    url = shown(remote.url)
    lines = [ln.strip() for ln in detail.splitlines() if ln.strip()]
    fatal = [ln.split(":", 1)[1].strip() if ln.startswith(("fatal:", "error:")) else ln
             for ln in lines if ln.startswith(("fatal:", "error:"))] or lines[-1:] or ["git gave no reason"]
    said = shown(fatal[0].rstrip("."))
    low = detail.lower()
    if "couldn't find remote ref" in low:
        hint = " (a commit id must be given in full, 40 hex digits)" if ref and re.fullmatch(r"[0-9a-f]{4,39}", ref) else ""
        return f"{url} has no branch or tag {ref or 'HEAD'!r}{hint}; check --ref"
    if "not our ref" in low or "unadvertised object" in low:
        return (f"{url} does not give out commit {ref}: it has no such commit, or does not allow fetching a "
                "commit by id; name a branch or tag with --ref instead")
    if any(s in low for s in ("authentication failed", "could not read username", "could not read password",
                              "terminal prompts disabled", "permission denied", "http 401", "http 403",
                              "returned error: 401", "returned error: 403", "host key verification failed")):
        return (f"authentication failed for {url} ({said}); set up git's credentials for this host "
                "(a credential helper or an SSH key, as for git clone) and try again")
    if any(s in low for s in ("could not resolve host", "failed to connect", "connection refused", "timed out",
                              "network is unreachable", "no route to host", "could not resolve hostname",
                              "unable to connect", "connection reset")):
        return f"cannot reach {url} ({said}); check the URL and the network"
    if "not found" in low or "does not appear to be a git repository" in low or "not a git repository" in low:
        return f"no git repository at {url} ({said}); check the URL"
    return f"cannot fetch {url}: {said}"
