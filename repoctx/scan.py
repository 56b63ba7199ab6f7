"""Scan: repository root → the files worth reading, and what was skipped and why.

Inside git the file list is git's own: tracked files (`ls-files -s` gives their blob SHAs) plus
untracked files that no ignore rule hides (`ls-files -o --exclude-standard`), so `.gitignore`,
`.git/info/exclude` and the global excludes are applied exactly as git applies them. Outside git,
the folder is walked without following symlinks, applying every `.gitignore` on the way.
On top of that: `.repoctxignore` (gitignore syntax), include/exclude globs, and the skip rules below.

Content-based skips (binary, minified, generated) need the bytes, so they are decided by
`classify_content` when a file is read, and cached by blob SHA in the index.
"""
from __future__ import annotations

import hashlib
import os
import re
import stat
from bisect import bisect_left
from dataclasses import dataclass
from functools import lru_cache
from operator import attrgetter

from repoctx.files import read_file
from repoctx.git import GitError, run_all, toplevel
from repoctx.model import ScanResult, Skipped, SourceFile
from repoctx.parse.languages import language_for_path

DEFAULT_MAX_BYTES = 1_000_000

#: Folders of vendored, generated or tool-owned files, skipped wherever they appear.
IGNORED_FOLDERS = frozenset({
    ".git", ".hg", ".svn", ".repoctx", "node_modules", "bower_components", "jspm_packages",
    "vendor", "third_party", "thirdparty", "third-party", "external", ".venv", "venv",
    "site-packages", "__pycache__", ".mypy_cache", ".pytest_cache", ".ruff_cache", ".tox", ".nox",
    ".eggs", ".gradle", ".idea", ".vs", "Pods", ".next", ".nuxt", ".svelte-kit", ".terraform",
    ".cargo", ".yarn", ".pnpm-store",
})

LOCK_FILES = frozenset({
    "package-lock.json", "npm-shrinkwrap.json", "yarn.lock", "pnpm-lock.yaml", "bun.lockb", "bun.lock",
    "Cargo.lock", "poetry.lock", "Pipfile.lock", "pdm.lock", "uv.lock", "composer.lock",
    "Gemfile.lock", "go.sum", "mix.lock", "pubspec.lock", "Podfile.lock", "packages.lock.json",
    "flake.lock", "gradle.lockfile",
})

#: repoctx's own settings files: they tell repoctx what to pack, they are not what is packed.
CONFIG_FILES = frozenset({".repoctx.toml", ".repoctxignore"})

MINIFIED_SUFFIXES = (".min.js", ".min.css", ".min.mjs", ".js.map", ".css.map", ".map")

#: A line longer than this means minified or generated text, not code a person wrote.
MAX_LINE_CHARS = 4000
#: …and so does a mean line length above this (over files of at least 2 KB).
MAX_MEAN_LINE_CHARS = 300


TEST_FOLDERS = frozenset({"test", "tests", "__tests__", "spec", "specs", "testing", "testdata"})
_TEST_NAME = re.compile(r"(?i)^(tests?|test_.*|.*[._-](test|tests|spec))\.\w+$|^conftest\.py$")
_TEST_CLASS = re.compile(r"[a-z0-9]Tests?\.(java|kt|cs|scala|swift|php)$")


@lru_cache(maxsize=1 << 16)
def is_test_path(path: str) -> bool:
    """A test file: inside a test folder (test, tests, __tests__, spec, …) or named like a test
    (test_x.py, x_test.go, x.test.js, x.spec.ts, conftest.py, FooTest.java)."""
    parts = path.split("/")
    name = parts[-1]
    return (any(p.lower() in TEST_FOLDERS for p in parts[:-1])
            or bool(_TEST_NAME.match(name)) or bool(_TEST_CLASS.search(name)))



@dataclass(frozen=True)
class ScanOptions:
    include: tuple[str, ...] = ()   # gitignore-style globs; when given, only matching files are kept
    exclude: tuple[str, ...] = ()
    max_bytes: int = DEFAULT_MAX_BYTES
    secret_files: bool = False      # keep files that are secrets by nature (SECRET_FILES); off by default
    outputs: tuple[str, ...] = ()   # repository-relative paths (a folder ends in "/") this run writes to
    scope: str = ""                 # a repository-relative folder: only files under it are kept ("" = all)

    @classmethod
    def from_settings(cls, settings) -> ScanOptions:
        """The scan a repository's `Settings` ask for (secret files kept only when redaction is off)."""
        return cls(include=settings.include, exclude=settings.exclude, max_bytes=settings.max_file_size,
                   secret_files=not settings.redact)


#: Files that are secrets by nature, left out unless asked for: environment files, private keys and
#: certificates' keys, keystores, credential stores. Matched against the file name, case-insensitively.
SECRET_FILES = re.compile(
    r"\.env(\..*)?|.*\.(pem|key|p12|pfx|jks|keystore|kdbx|ppk|asc|gpg)|id_(rsa|dsa|ecdsa|ed25519)(\..*)?"
    r"|\.htpasswd|\.netrc|_netrc|\.pgpass|credentials(\.json)?|.*\.tfstate(\.backup)?|secrets?\.(ya?ml|json|toml)",
    re.IGNORECASE | re.DOTALL)  # DOTALL: a newline in a name ("a\nb.pem") must not make a key file plain
#: Configuration files that are secrets when they hold credentials (checked by content).
AUTH_FILES = {".npmrc": re.compile(rb"_auth|_password|//[^\n]*:_"), ".pypirc": re.compile(rb"(?m)^\s*password\s*[=:]"),
              ".yarnrc.yml": re.compile(rb"npmAuth(Token|Ident)"), ".dockercfg": re.compile(rb'"auth"'),
}


def locate(path: str) -> tuple[str, str]:
    """(repository root, scope) of a folder, found as git finds a repository: inside a git work tree
    the root is the work tree's top folder and the scope is the folder's repository-relative path
    ("" at the top), so a command run in a subfolder uses the repository's index, settings and
    paths, narrowed to that subfolder; outside git, the folder itself and "". NotADirectoryError
    when `path` is not a folder."""
    full = os.path.realpath(path)
    if not os.path.isdir(full):
        raise NotADirectoryError(f"not a folder: {os.path.abspath(path)}")
    top = toplevel(full)
    if top is None or top == full or os.path.commonpath([top, full]) != top:
        return full, ""
    return top, os.path.relpath(full, top).replace(os.sep, "/")


def in_scope(path: str, scope: str) -> bool:
    """Whether a repository path lies under the scope folder (everything does under "")."""
    return not scope or path.startswith(scope + "/")


def secret_file_reason(root: str, path: str) -> str | None:
    """'secret-file' when the file is a secret by its name, or by its content for AUTH_FILES."""
    name = path.rsplit("/", 1)[-1]
    if SECRET_FILES.fullmatch(name):
        return "secret-file"
    marker = AUTH_FILES.get(name.lower())
    if marker is not None:
        try:
            if marker.search(read_file(root, path, 65536)):
                return "secret-file"
        except OSError:
            return None
    return None


def git_blob_sha(data: bytes) -> str:
    """The id git gives these bytes as a blob (so SHAs agree inside and outside git)."""
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


#: How repoctx's own renderings begin (render.py): xml and the json object holding it, and markdown
#: and plain packs (with their map, or a file header followed by a second one); a part of a split
#: pack (`pack/split.py`) begins with its part line or attributes.
_PACK_START = re.compile(
    rb'\A(?:\xef\xbb\xbf)?\s*(?:<context(?: part="\d+" of="\d+")?>\s*<(?:map>|file path="|callers>|diff>|/context>)'
    rb'|\{\s*"mode": "(?:whole|slice)",\s*"encoding": '
    rb'|(?:# repoctx pack, part \d+ of \d+|=== repoctx pack, part \d+ of \d+ ===)\r?\n(?:\r?\n(?:## |=== )|\Z)'
    rb'|## Repository map\r?\n\r?\n```|=== repository map ===\r?\n'
    rb'|## \S+(?: \(lines [\d,-]+\))?\r?\n\r?\n```[\s\S]*?\n```+\r?\n\r?\n## \S'
    rb'|=== \S+(?: \(lines [\d,-]+\))? ===\r?\n[\s\S]*?\n\r?\n=== \S)')


def is_pack(data: bytes) -> bool:
    """Whether these bytes are a pack repoctx wrote (packing it again would nest packs)."""
    return bool(_PACK_START.match(data[:200_000]))


def classify_content(path: str, data: bytes) -> str | None:
    """The skip reason for these bytes ("binary", "minified", "generated", "repoctx-output"), or None
    to keep them."""
    head = data[:8192]
    if b"\0" in head:
        return "binary"
    if is_pack(data):
        return "repoctx-output"
    if path.endswith(MINIFIED_SUFFIXES):
        return "minified"
    if b"Code generated" in data[:1024] and b"DO NOT EDIT" in data[:1024]:
        return "generated"
    if data:
        lines = data.count(b"\n") + 1
        if len(data) >= 2048 and len(data) / lines > MAX_MEAN_LINE_CHARS:
            return "minified"
        if len(data) > MAX_LINE_CHARS and max(map(len, data.split(b"\n"))) > MAX_LINE_CHARS:
            return "minified"
    return None


def scan(root: str, options: ScanOptions = ScanOptions(), memo: ScanMemo | None = None) -> ScanResult:
    """List the files under `root` worth reading, and everything skipped with its reason. With a
    `memo` of an earlier scan of the same git listing, the files git lists unchanged are taken from
    it (see `ScanMemo`), and only the others are looked at."""
    root = os.path.realpath(root)
    if not os.path.isdir(root):
        raise NotADirectoryError(f"not a folder: {root}")
    files: list[SourceFile] = []
    skipped: list[Skipped] = []
    raw: list[str] = []
    listed = _git_listing(root, skipped, raw)
    is_git = listed is not None
    if listed is None:
        listed = _walk(root, skipped)
    user_filter = _UserFilter(root, options)
    scope = options.scope.strip("/")
    prefix = os.path.join(root, "")
    kept: list[SourceFile] = []
    if memo is not None and raw:
        memo.listed(raw[0], user_filter.text, {p for p, sha in listed.items() if sha is None})
        if memo.hit:
            kept, kept_skips = memo.kept(options.outputs)
            skipped += kept_skips
            listed = {p: listed[p] for p in memo.fresh if p in listed}
    # Per file, only what applies: the loop runs over every listed path on every warm pack.
    filtered, outputs = user_filter.active, options.outputs
    for path, known_sha in sorted(listed.items()):
        if scope and not in_scope(path, scope):
            continue  # outside the folder the command was given: not part of this run at all
        # Folder rules apply below the scope, so a scope inside `vendor/` is still read.
        reason = _path_skip_reason(path[len(scope) + 1:] if scope else path) or (user_filter.reason(path) if filtered else None)
        if outputs and any(path == o or o.endswith("/") and path.startswith(o) for o in outputs):
            reason = "repoctx-output"
        if not reason and not options.secret_files:
            reason = secret_file_reason(root, path)
        if reason == "excluded":
            continue  # the user asked for it: not a skip worth reporting
        if reason:
            skipped.append(Skipped(path, reason))
            continue
        full = prefix + path
        try:
            st = os.lstat(full)
        except (FileNotFoundError, NotADirectoryError):
            if "\ufffd" in path:  # a name that is not UTF-8: git's listing, decoded, names no file
                skipped.append(Skipped(path, "undecodable-name"))
            continue  # listed by git but deleted from the work tree: nothing to read
        except OSError:
            skipped.append(Skipped(path, "unreadable"))  # in a folder we may not enter
            continue
        if stat.S_ISLNK(st.st_mode):
            skipped.append(Skipped(path, "symlink"))
            continue
        if not stat.S_ISREG(st.st_mode):
            skipped.append(Skipped(path, "unreadable"))  # a FIFO, socket or device: never opened
            continue
        if st.st_size > options.max_bytes:
            skipped.append(Skipped(path, "too-large"))
            continue
        sha = known_sha
        if sha is None:
            try:
                sha = git_blob_sha(read_file(root, path))
            except OSError:
                skipped.append(Skipped(path, "unreadable"))
                continue
        files.append(SourceFile(path, sha, language_for_path(path), st.st_size))
    if kept:  # the few files looked at again, in their places among the memo's (both by path)
        for f in files:
            kept.insert(bisect_left(kept, f.path, key=_path_of), f)
        files = kept
    skipped.sort(key=lambda s: s.path)
    return ScanResult(root=root, files=files, skipped=skipped, is_git=is_git, scope=scope)


_path_of = attrgetter("path")


class ScanMemo:
    """What a scan of a git work tree decided for each file git lists unchanged — its blob in git's
    index, the work tree's file not modified by git's own check (its stat data, or the content when
    those are unsure) — for the next scan of the same listing. When git lists its index exactly as
    then (every path, mode and blob), under the same options and `.repoctxignore` (`salt` holds the
    rest: options, root, what the caller's verdicts depend on), each such file has the same bytes,
    so the same size, kind and verdict, and only the files git lists as changed or untracked, and
    links, are looked at again, with those the memo has no verdict for (`uncovered`: changed then,
    or unreadable, or written by that run). `saved` is what `index/load.py` stored (sealed) after a scan:
    {"key", "uncovered": paths, "files": [(path, sha, language, size, token count, skip reason)],
    "skips": [(path, reason)], and what else the caller keeps}; the caller adds its own verdicts per file."""

    def __init__(self, salt: str, saved: dict | None):
        self.salt, self.saved = salt, saved
        self.key = ""                   # of this scan's listing, ignore rules and salt
        self.unknown: set[str] = set()  # paths git lists as changed or untracked, and links
        self.hit = False
        self.fresh: set[str] = set()    # on a hit, the paths looked at again

    def listed(self, staged: str, ignore: str, unknown: set[str]) -> None:
        """Take git's listing of its index (as printed) and the paths it gives no blob for."""
        h = hashlib.sha1()
        for part in (self.salt, ignore, staged):
            h.update(part.encode("utf-8", "surrogatepass") + b"\0")
        self.key, self.unknown = h.hexdigest(), unknown
        saved = self.saved
        self.hit = isinstance(saved, dict) and saved.get("key") == self.key
        self.fresh = unknown | set(saved["uncovered"]) if self.hit else unknown

    def kept(self, outputs: tuple[str, ...]) -> tuple[list[SourceFile], list[Skipped]]:
        """The remembered files and skips, by path, less those looked at again; a file this run
        writes to (`outputs`) is skipped."""
        fresh, files, skips = self.fresh, [], []
        for path, sha, language, size, _count, _skip in self.saved["files"]:
            if path in fresh:
                continue
            if outputs and any(path == o or o.endswith("/") and path.startswith(o) for o in outputs):
                skips.append(Skipped(path, "repoctx-output"))
            else:
                files.append(SourceFile(path, sha, language or None, size))
        skips += [Skipped(path, reason) for path, reason in self.saved["skips"] if path not in fresh]
        return files, skips

    def verdicts(self) -> dict[str, tuple[int | None, str | None]]:
        """Path → (token count, skip reason by content) of each remembered file."""
        return {path: (count, skip) for path, _sha, _lang, _size, count, skip in self.saved["files"]}


def _path_skip_reason(path: str) -> str | None:
    folder, _, name = path.rpartition("/")
    if folder and _ignored_folder(folder):
        return "ignored-folder"
    if name in LOCK_FILES:
        return "lock-file"
    if name in CONFIG_FILES:
        return "repoctx-config"
    return None


@lru_cache(maxsize=1 << 14)
def _ignored_folder(folder: str) -> bool:
    """Whether a folder path passes through an IGNORED_FOLDERS folder (asked once per folder)."""
    parent, _, name = folder.rpartition("/")
    return name in IGNORED_FOLDERS or bool(parent) and _ignored_folder(parent)


class _UserFilter:
    """`.repoctxignore` at the root plus --include/--exclude globs, all in gitignore syntax
    (pathspec is imported only when there is one: a scan without any starts without it)."""

    def __init__(self, root: str, options: ScanOptions):
        ignore_lines: list[str] = []
        try:
            ignore_lines = read_file(root, ".repoctxignore").decode("utf-8", "replace").splitlines()
        except OSError:
            pass
        self.ignore = self.include = self.exclude = None
        self.text = "\n".join(ignore_lines)  # what a `ScanMemo` is of, with the options
        self.active = bool(ignore_lines or options.include or options.exclude)  # any rule to apply
        if not self.active:
            return
        import pathspec
        self.ignore = pathspec.GitIgnoreSpec.from_lines(ignore_lines) if ignore_lines else None
        self.include = pathspec.GitIgnoreSpec.from_lines(options.include) if options.include else None
        self.exclude = pathspec.GitIgnoreSpec.from_lines(options.exclude) if options.exclude else None

    def reason(self, path: str) -> str | None:
        if self.ignore is not None and self.ignore.match_file(path):
            return "excluded"
        if self.include is not None and not self.include.match_file(path):
            return "excluded"
        if self.exclude is not None and self.exclude.match_file(path):
            return "excluded"
        return None


_UNOPENED = re.compile(r"could not open directory '(.*)': ")


def _git_listing(root: str, skipped: list[Skipped], raw: list[str] | None = None) -> dict[str, str | None] | None:
    """{path: blob sha, or None where the work tree differs from the index}; None outside git.
    Folders git could not open (no permission) go to `skipped` as "folder/". `raw` gets git's
    listing of its index as it printed it."""
    warnings: list[str] = []
    try:  # at once: each git start costs more than its work here (a folder outside a work tree —
        # none, a bare repository, .git itself — fails them all)
        staged, modified, untracked = run_all(
            root, ("ls-files", "-s", "-z", "--", "."), ("diff-files", "--name-only", "-z", "--relative", "--", "."),
            ("ls-files", "-o", "--exclude-standard", "-z", "--", "."), warnings=warnings)
    except GitError:  # not a repository, git missing, or a broken .git: walk the folder instead
        return None
    if raw is not None:
        raw.append(staged)
    for line in warnings:
        m = _UNOPENED.search(line)
        if m:
            skipped.append(Skipped(m[1].rstrip("/") + "/", "unreadable"))
    listing: dict[str, str | None] = {}
    for entry in filter(None, staged.split("\0")):
        meta, path = entry.split("\t", 1)
        mode, sha, _stage = meta.split()
        if mode == "160000":
            continue  # a submodule: its files belong to another repository
        listing.setdefault(path, sha if mode != "120000" else None)
    for path in filter(None, modified.split("\0")):
        if path in listing:
            listing[path] = None
    for path in filter(None, untracked.split("\0")):
        listing[path] = None
    return listing


def _walk(root: str, skipped: list[Skipped]) -> dict[str, str | None]:
    """Every file under root outside git, honouring nested .gitignore files; never follows symlinks.
    Vendored folders are not entered; each is reported once in `skipped` as "folder/"."""
    import pathspec
    listing: dict[str, str | None] = {}
    stack: list[tuple[str, list[tuple[str, pathspec.GitIgnoreSpec]]]] = [("", [])]
    while stack:
        rel, specs = stack.pop()
        folder = os.path.join(root, rel)
        try:
            text = read_file(folder, ".gitignore").decode("utf-8", "replace")
            specs = specs + [(rel, pathspec.GitIgnoreSpec.from_lines(text.splitlines()))]
        except OSError:
            pass
        try:
            entries = sorted(os.scandir(folder), key=lambda e: e.name)
        except OSError:
            if rel:
                skipped.append(Skipped(rel + "/", "unreadable"))  # a folder we may not enter
            continue
        for entry in entries:
            path = f"{rel}/{entry.name}" if rel else entry.name
            is_dir = entry.is_dir(follow_symlinks=False)
            if _ignored(path + ("/" if is_dir else ""), specs):
                continue
            if is_dir and entry.name in IGNORED_FOLDERS:
                if entry.name not in (".git", ".repoctx"):
                    skipped.append(Skipped(path + "/", "ignored-folder"))
                continue
            if is_dir:
                stack.append((path, specs))
            else:
                listing[path] = None
    return listing


def _ignored(path: str, specs: list) -> bool:
    """Whether a path is ignored by any of the (folder, GitIgnoreSpec) pairs in force there."""
    for base, spec in specs:
        if spec.match_file(path[len(base) + 1:] if base else path):
            return True
    return False
