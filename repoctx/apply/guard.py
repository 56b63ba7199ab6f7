"""Which paths an edit may touch, decided the way git decides before it writes a work tree file.

A model's patch, and the repository it lands in, are both hostile. A path is taken only when:
- it is plain: relative, no `..`, no NUL, newline or other control character (a name the reports
  could not print on one line);
- no component is one git itself refuses to check out (`verify_path` with core.protectHFS and
  core.protectNTFS): `.git` in any letter case, with HFS-ignorable code points inside (U+200C…),
  with trailing dots or spaces, as the 8.3 short name `GIT~1`, or with an NTFS stream (`.git::$…`);
  on macOS and Windows every one of these *is* `.git`. repoctx's own `.repoctx/` is refused alike;
- it is no file an editor runs commands from when a folder opens (`.vscode/tasks.json`, …,
  `_EDITOR_RUNS`), in any folder;
- it lies outside every file git would run because the configuration names it: the folder
  `core.hooksPath` names, any path inside the repository that a program-valued key names
  (`core.fsmonitor`, filters, textconv, aliases starting with `!`, …), and any configuration file
  an `include.path` names (it could name such a program);
- no folder on the way is a symbolic link or a file ("beyond a symbolic link", as `git apply` says),
  so what is checked is what is written: the walk is made with lstat, never through realpath.

The configuration is read with `git config --list -z --show-scope` through the one git runner; values
given on git's command line (repoctx's own `-c` overrides) are not the repository's and are skipped.
When git cannot read it inside a repository, nothing can be written: failing open would write hooks.
"""
from __future__ import annotations

import os
import posixpath
import re
import shlex
import stat
from dataclasses import dataclass

from repoctx.render import shown_path

#: Code points HFS+ ignores in names (git's `next_hfs_char`): ".g\u200cit" is ".git" on macOS.
_HFS_IGNORABLE = dict.fromkeys([0x200C, 0x200D, 0x200E, 0x200F, *range(0x202A, 0x202F),
                                *range(0x206A, 0x2070), 0xFEFF])
#: Folders no edit may write into: git's own, and repoctx's (an index or setting planted by an edit).
_OWN_FOLDERS = {".git": "git's own folder (.git)", "git~1": "git's own folder (.git, by its short name GIT~1)",
                ".repoctx": "repoctx's own folder (.repoctx)"}
#: Files an editor runs commands from when a folder opens, unasked (folded trailing path parts → what):
#: VS Code's tasks (`"runOn": "folderOpen"`) and settings (programs its extensions start), a dev
#: container's create commands, Neovim's exrc. Under any folder: a workspace may be opened there.
_EDITOR_RUNS = {(".vscode", "tasks.json"): "VS Code's tasks file (a task can run when the folder opens)",
                (".vscode", "settings.json"): "VS Code's workspace settings (they name programs extensions run)",
                (".devcontainer", "devcontainer.json"): "a dev container definition (its commands run when it opens)",
                (".devcontainer.json",): "a dev container definition (its commands run when it opens)",
                (".nvim.lua",): "Neovim's folder config (exrc: it runs when the folder opens)",
                (".nvimrc",): "Neovim's folder config (exrc: it runs when the folder opens)",
                (".exrc",): "Neovim's folder config (exrc: it runs when the folder opens)"}
#: Configuration keys whose value is a program git (or the shell it starts) runs.
_PROGRAM_KEY = re.compile(
    r"core\.(fsmonitor|sshcommand|editor|pager|askpass)|sequence\.editor|gpg\.(\w+\.)?program|diff\.external"
    r"|diff\..+\.(textconv|command)|merge\..+\.driver|filter\..+\.(clean|smudge|process)|credential\.(.+\.)?helper"
    r"|alias\..+|pager\..+|remote\..+\.(receivepack|uploadpack)|uploadpack\.packobjectshook|ssh\.variant")


class Refused(ValueError):
    """A path an edit may not touch; the message is one line that quotes no file content."""


def _fold(name: str) -> str:
    """One name as a case-insensitive (HFS, NTFS) file system sees it: ignorable code points dropped,
    an NTFS stream suffix (`name:stream`) and trailing dots and spaces cut, letters folded."""
    name = name.translate(_HFS_IGNORABLE).split(":", 1)[0]
    return name.rstrip(" .").casefold()


def _folded_parts(rel: str) -> list[str]:
    # NTFS reads a backslash as a separator: "a\.git\hooks" is a/.git/hooks there
    return [f for f in map(_fold, re.split(r"[/\\]", rel)) if f not in ("", ".")]


def plain(root: str, path: str) -> str:
    """The repository-relative form of an edit's path, or Refused saying why it is not one."""
    if not path:
        raise Refused("the edit names no file")
    if any(ord(c) < 32 or ord(c) == 127 for c in path):
        raise Refused(f"{shown_path(path)}: a file name holding a control character (newline, NUL, …) is never written")
    rel = path
    if os.path.isabs(path):
        rel = os.path.relpath(os.path.normpath(path), root)
    rel = posixpath.normpath(rel.replace(os.sep, "/"))
    if rel in (".", "") or rel == ".." or rel.startswith(("../", "/")):
        raise Refused(f"{shown_path(path)} is outside the workspace {root}")
    return rel


@dataclass
class Guard:
    """The paths of one repository that edits never write: built once per edit (`for_root`)."""
    folders: list[tuple[list[str], str]]     # folded path parts → why (everything under them)
    files: dict[tuple[str, ...], str]        # folded path parts → why (that path exactly)
    error: str | None = None                 # the configuration could not be read: refuse all

    @classmethod
    def for_root(cls, root: str) -> Guard:
        from repoctx.git import GitError, run
        folders: list[tuple[list[str], str]] = []
        files: dict[tuple[str, ...], str] = {}
        try:
            out = run(root, "config", "-z", "--show-scope", "--list")
        except GitError as exc:
            if os.path.lexists(os.path.join(root, ".git")):
                return cls([], {}, f"git's configuration could not be read, so the files it runs are unknown: {exc}")
            return cls([], {})
        items = out.split("\0")
        for scope, entry in zip(items[0::2], items[1::2]):
            if scope == "command":
                continue   # repoctx's own `-c` overrides, not the repository's configuration
            key, _, value = entry.partition("\n")
            key = key.lower()
            if key == "core.hookspath":
                rel = _inside(root, value)
                if rel is not None:
                    folders.append((_folded_parts(rel), f"the hooks folder git runs from (core.hooksPath = {shown_path(value)})"))
            elif re.fullmatch(r"include(if\..+)?\.path", key):
                # a file git reads as configuration (relative to the file that includes it: .git/, or
                # the top for a global one): writing it could name any program above
                for base in (os.path.join(root, ".git"), root):
                    rel = _inside(root, os.path.join(base, os.path.expanduser(value)))
                    if rel is not None:
                        files[tuple(_folded_parts(rel))] = f"a configuration file git reads ({key} names it)"
            elif _PROGRAM_KEY.fullmatch(key):
                for word in _words(value):
                    rel = _inside(root, word.lstrip("!"))
                    if rel is not None and ("/" in word or word.startswith(".")):
                        files[tuple(_folded_parts(rel))] = f"a program git runs ({key} names it)"
        return cls(folders, files)

    def check(self, rel: str) -> None:
        """Refused when `rel` (already `plain`) is a path git runs or guards."""
        parts = _folded_parts(rel)
        for p in parts:
            if p in _OWN_FOLDERS:
                raise Refused(f"{shown_path(rel)} is inside {_OWN_FOLDERS[p]}, which edits never touch")
        if self.error:
            raise Refused(self.error)
        for prefix, why in self.folders:
            if parts[:len(prefix)] == prefix:
                raise Refused(f"{shown_path(rel)} is in {why}, which edits never touch")
        why = self.files.get(tuple(parts))
        if why:
            raise Refused(f"{shown_path(rel)} is {why}, which edits never touch")
        why = _EDITOR_RUNS.get(tuple(parts[-2:])) or _EDITOR_RUNS.get(tuple(parts[-1:]))
        if why:
            raise Refused(f"{shown_path(rel)} is {why}: a file an editor runs, which edits never touch")


def _words(value: str) -> list[str]:
    try:
        return shlex.split(value)
    except ValueError:
        return value.split()


def _inside(root: str, value: str) -> str | None:
    """A configured path (relative to the work tree's top, where git runs hooks and filters) as a
    repository path, or None when it lies outside the repository."""
    if not value or "\0" in value:
        return None
    full = os.path.normpath(os.path.join(root, os.path.expanduser(value)))
    if full == root:
        return "."
    if os.path.commonpath([full, root]) != root:
        return None
    return os.path.relpath(full, root).replace(os.sep, "/")


@dataclass
class Spot:
    """What a path is on disk, found by walking it with lstat from the root."""
    kind: str                # missing | file | link | dir | special (FIFO, socket, device)
    mode: int = 0            # st_mode of what is there
    missing_from: str | None = None   # the first folder on the way that does not exist
    size: int = 0


def inspect(root: str, rel: str) -> Spot:
    """Walk `rel` from `root` without following links; Refused when a folder on the way is a link
    or not a folder. Never opens anything (a FIFO stays unopened)."""
    parts = rel.split("/")
    cur = root
    for i, part in enumerate(parts):
        cur = os.path.join(cur, part)
        try:
            st = os.lstat(cur)
        except FileNotFoundError:
            missing = "/".join(parts[:i + 1])
            return Spot("missing", 0, missing if i < len(parts) - 1 else None)
        except OSError as exc:
            raise Refused(f"{shown_path(rel)} cannot be reached: {exc.strerror or exc}") from None
        last = i == len(parts) - 1
        if stat.S_ISLNK(st.st_mode):
            if last:
                return Spot("link", st.st_mode)
            raise Refused(f"{shown_path(rel)} is beyond a symbolic link ({shown_path('/'.join(parts[:i + 1]))}); "
                          "edits are never written through links")
        if stat.S_ISDIR(st.st_mode):
            if last:
                return Spot("dir", st.st_mode)
            continue
        if not last:
            raise Refused(f"{shown_path('/'.join(parts[:i + 1]))} is a file, so {shown_path(rel)} cannot be a file inside it")
        return Spot("file" if stat.S_ISREG(st.st_mode) else "special", st.st_mode, size=st.st_size)
    return Spot("dir")


def writable_folder(root: str, rel: str) -> str | None:
    """Why the folder that would hold `rel` (or its first existing ancestor) cannot be written, or None."""
    folder = os.path.dirname(os.path.join(root, rel))
    while not os.path.lexists(folder) and len(folder) > len(root):
        folder = os.path.dirname(folder)
    if not os.access(folder, os.W_OK | os.X_OK):
        where = os.path.relpath(folder, root).replace(os.sep, "/")
        return f"the folder {shown_path(where if where != '.' else 'at the top of the repository')} is not writable"
    return None
