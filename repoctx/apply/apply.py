"""Apply a parsed edit against the current texts: every hunk placed (or refused) and every file
operation checked first (`plan`), then all of it written, or none of it (`write`).

File operations are git's (`git apply`): deleting a symbolic link removes the link, never its
target; a deletion checks that the file holds the text the patch removes (or, with no text, the blob
id of its `index` line) and a rename its blob id, and refuse on a mismatch; a rename or a new file
never replaces an existing one; mode lines (100644 <-> 100755) are carried out; a symbolic link is
never created, edited or written through. Paths are checked by `guard` (git's own folder in every
spelling, the hooks folder and programs the configuration names, links and files on the way), and
every file is read with lstat first and opened non-blocking, so a FIFO is refused, never opened.

A target that packs leave out (a secret file, a git-ignored file) is refused whole: applying a hunk
to it would answer whether the guessed lines are there, and a refusal would quote its closest lines,
so its content would leave through the report. Creating such a file (nothing to read) is allowed.
Every line a refusal quotes from any other file passes through the one `Redactor`.

`write` re-checks everything `plan` read (a file changed meanwhile: `ChangedOnDisk`, nothing
written), then writes in the patch's order; if a write still fails midway, everything written before
it is restored and `WriteFailed` says so (and names whatever could not be restored)."""
from __future__ import annotations

import hashlib
import os
import stat
from dataclasses import asdict, dataclass, field

from repoctx.apply.guard import Guard, Refused, inspect, plain, writable_folder
from repoctx.apply.match import Placement, Refusal, place_file
from repoctx.apply.parse import FileEdit, parse
from repoctx.files import read_file, write_atomic
from repoctx.render import shown_path


#: The largest file an edit reads (a served process must not load whatever a repository holds).
MAX_FILE_BYTES = 64 * 2**20


class ChangedOnDisk(RuntimeError):
    """A target file changed between reading it and writing it; nothing was written."""


class WriteFailed(OSError):
    """A write failed midway. `left` is what is still changed on disk after restoring the files
    written before it (empty when every one was restored)."""

    def __init__(self, message: str, left: Written):
        super().__init__(message)
        self.left = left


@dataclass
class HunkResult:
    path: str
    index: int                         # 1-based within its file
    applied: bool
    line: int | None = None            # 1-based line where it went, in the result
    offset: int | None = None          # that line minus the line the patch stated
    relaxation: str | None = None
    reason: str | None = None
    candidates: list[dict] = field(default_factory=list)
    op: str | None = None              # a file operation, not a hunk: create | delete | rename | mode
                                       # (refused: "file", the whole file's edit)
    note: str | None = None            # what else to know: context trimmed, the file no longer parses


@dataclass
class FileResult:
    path: str
    kind: str                          # add | update | delete
    new_path: str | None
    old_text: str | None               # None: the file does not exist
    new_text: str | None               # None: the file is deleted
    digest: str | None                 # sha1 of the bytes read, to detect a change on disk
    old_mode: int | None = None        # permission bits as found (restored on undo)
    new_mode: int | None = None        # permission bits to set (a mode line, or a new executable)
    link: str | None = None            # the target of a symbolic link being deleted


@dataclass
class Written:
    """What a write changed on disk: content written (updated or new files, a rename's new name),
    files deleted, renames, and modes set."""
    written: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    renamed: list[list[str]] = field(default_factory=list)
    modes: list[list[str]] = field(default_factory=list)     # [path, "100755" | "100644"]

    def __bool__(self) -> bool:
        return bool(self.written or self.deleted or self.renamed or self.modes)

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass
class Plan:
    root: str
    files: list[FileResult]
    hunks: list[HunkResult]
    checked: bool = True               # False: a --partial subset, writable despite refusals

    @property
    def ok(self) -> bool:
        return all(h.applied for h in self.hunks)

    @property
    def partial(self) -> bool:
        return any(not h.applied for h in self.hunks)

    def applied_only(self) -> "Plan":
        """The files all of whose hunks applied (for --partial); the report keeps every hunk."""
        bad = {h.path for h in self.hunks if not h.applied}
        return Plan(self.root, [f for f in self.files if f.path not in bad], self.hunks, checked=False)

    def changes(self) -> Written:
        """What writing this plan would change, in the terms `write` reports."""
        out = Written()
        for f in self.files:
            if f.kind == "delete":
                out.deleted.append(f.path)
                continue
            target = f.new_path or f.path
            if f.new_path:
                out.renamed.append([f.path, f.new_path])
            if (f.new_text != f.old_text or f.new_path) and target not in out.written:
                out.written.append(target)   # once, though two parts of the edit change it
            if _sets_mode(f):
                out.modes.append([target, _git_mode(f.new_mode)])
        return out

    def as_dict(self) -> dict:
        return {"ok": self.ok, "hunks": [asdict(h) for h in self.hunks],
                "files": [{"path": f.path, "kind": f.kind, "new_path": f.new_path} for f in self.files]}


def _sets_mode(f: FileResult) -> bool:
    """Whether writing `f` changes its mode, or creates it executable (both are reported)."""
    if f.new_mode is None or f.kind == "delete":
        return False
    return bool(f.new_mode & 0o111) if f.old_mode is None else f.new_mode != f.old_mode


def _git_mode(perm: int) -> str:
    return "100755" if perm & 0o100 else "100644"


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _with_mode(perm: int, git_mode: str | None) -> int:
    """`perm` given the executable bits a git mode line asks for (readers of the file may run it)."""
    if git_mode == "100755":
        return perm | ((perm & 0o444) >> 2)
    if git_mode == "100644":
        return perm & ~0o111
    return perm


def _eol(text: str) -> str:
    return "\r\n" if text.count("\r\n") * 2 > text.count("\n") else "\n"


def _blob_id(data: bytes) -> str:
    """The id `git hash-object` gives these bytes (no filters: git is not run on the repository)."""
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


class _Context:
    """One plan's state: the files as the edit has made them so far (path → text, None once deleted),
    the guard, and the redactor for quoted lines (made on the first refusal that quotes)."""

    def __init__(self, root: str, buffers: dict[str, str] | None):
        self.root, self.buffers = root, buffers or {}
        self.guard = Guard.for_root(root)
        self.files: list[FileResult] = []
        self.results: list[HunkResult] = []
        self.state: dict[str, str | None] = {}
        self._redactor = None

    def refuse(self, edit: FileEdit, path: str, reason: str) -> None:
        """The whole file's edit refused (its path, its kind, what is on disk): every hunk with it."""
        for k, _ in enumerate(edit.hunks or [None], 1):
            self.results.append(HunkResult(path, k, False, reason=reason, op="file"))

    def quote(self, rel: str, lines: list[str], candidates: list[dict]) -> list[dict]:
        """Candidate lines as a refusal may quote them: from the whole text's redacted lines (a
        secret is found in its context, as in packs)."""
        if not candidates:
            return candidates
        if self._redactor is None:
            from repoctx.secrets import Redactor
            self._redactor = Redactor()
        safe = self._redactor.file_lines(rel, "\n".join(lines), None)
        for c in candidates:
            n = c.get("line") or 0
            c["text"] = safe[n - 1] if 0 < n <= len(safe) else ""
        return candidates

    def planned_file(self, rel: str) -> bool:
        """Whether an earlier part of this edit makes `rel`, or a folder of its path, a file."""
        parts = rel.split("/")
        return any(self.state.get("/".join(parts[:i])) is not None for i in range(1, len(parts) + 1)) or \
            any(p.startswith(rel + "/") and t is not None for p, t in self.state.items())


def plan(text: str, root: str, buffers: dict[str, str] | None = None) -> Plan:
    """Place every hunk of the edit in `text` against the files under `root` (or the unsaved
    `buffers`, path → text), and check every file operation. Raises NoEdit for input that holds
    no edit."""
    root = os.path.realpath(root)
    edits = parse(text)
    ctx = _Context(root, buffers)
    for edit in edits:
        before = len(ctx.results)
        try:
            _plan_file(ctx, edit)
        except Refused as exc:
            del ctx.results[before:]
            ctx.refuse(edit, edit.path or "(no file)", str(exc))   # the report quotes the name
    return Plan(root, ctx.files, ctx.results)


def _left_out(root: str, rel: str) -> str | None:
    """Why packs leave this existing file out, or None: the one rule (`secrets.left_out`: a secret
    file, the user's .repoctxignore), and what the scan's git listing leaves out (a file git
    ignores, which `git ls-files -o --exclude-standard` never lists). Secret files are left out here
    even when the user turned redaction off: an edit never needs to read one back."""
    from repoctx.secrets import left_out
    why = left_out(root, rel)
    if why:
        return {"secret-file": "a secret file", "ignored": "excluded by .repoctxignore"}.get(why, why)
    from repoctx.git import GitError, run
    try:
        if run(root, "ls-files", "-z", "-o", "-i", "--exclude-standard", "--", rel).strip("\0"):
            return "ignored by git"
    except GitError:
        pass
    return None


def _current(ctx: _Context, rel: str) -> tuple[str, str | None, str | None, int | None]:
    """(kind, text, sha1 of the bytes, permission bits) of `rel` as this edit has it so far, else
    as on disk (an unsaved buffer wins). Refused for what an edit never reads."""
    if rel in ctx.state:
        t = ctx.state[rel]
        return ("missing", None, None, None) if t is None else ("file", t, None, None)
    spot = inspect(ctx.root, rel)
    if spot.kind == "special":
        raise Refused(f"{shown_path(rel)} is not a regular file (a FIFO, socket or device); edits never open one")
    if spot.kind == "dir":
        raise Refused(f"{shown_path(rel)} is a folder")
    if spot.kind == "link":
        return "link", os.readlink(os.path.join(ctx.root, rel)), None, None
    why = _left_out(ctx.root, rel) if spot.kind == "file" or rel in ctx.buffers else None
    if why:   # an unsaved buffer of a secret file is left out like the file on disk
        raise Refused(f"{shown_path(rel)} is left out of packs ({why}): edits neither read nor change it")
    if spot.kind == "missing":
        return "missing", ctx.buffers.get(rel), None, None
    if spot.size > MAX_FILE_BYTES:
        raise Refused(f"{shown_path(rel)} is {spot.size / 2**20:.0f} MB; edits read files up to {MAX_FILE_BYTES // 2**20} MB")
    perm = stat.S_IMODE(spot.mode)
    if rel in ctx.buffers:
        return "file", ctx.buffers[rel], None, perm
    try:
        raw = read_file(ctx.root, rel)
    except OSError as exc:
        raise Refused(f"{shown_path(rel)} cannot be read: {exc.strerror or exc}") from None
    if b"\0" in raw[:8192]:
        raise Refused(f"{shown_path(rel)} is a binary file")
    return "file", raw.decode("utf-8", "surrogateescape"), hashlib.sha1(raw).hexdigest(), perm


def _new_place(ctx: _Context, rel: str, what: str) -> None:
    """Refused unless a file can be created at `rel`: nothing there, nothing planned there, no file
    on the way, the folder writable."""
    spot = inspect(ctx.root, rel)
    if spot.kind != "missing" and ctx.state.get(rel, "") is not None:
        raise Refused(f"{shown_path(rel)} already exists; {what} never replaces a file")
    if ctx.planned_file(rel) and ctx.state.get(rel, "") is not None:
        raise Refused(f"{shown_path(rel)}: an earlier part of this edit puts a file on its path")
    why = writable_folder(ctx.root, rel)
    if why:
        raise Refused(f"{shown_path(rel)} cannot be written: {why}")


def _plan_file(ctx: _Context, edit: FileEdit) -> None:
    if edit.error:
        raise Refused(edit.error)
    rel = plain(ctx.root, edit.path)
    ctx.guard.check(rel)
    new_rel = plain(ctx.root, edit.new_path) if edit.new_path else None
    if new_rel == rel:
        new_rel = None
    if new_rel:
        ctx.guard.check(new_rel)
    for mode in (edit.old_mode, edit.new_mode):
        if mode and mode not in ("100644", "100755", "120000"):
            raise Refused(f"{shown_path(rel)}: mode {mode} is not a file mode edits carry out (only 100644 and 100755)")
    if edit.kind == "add":
        return _plan_add(ctx, edit, rel)
    kind, cur, digest, perm = _current(ctx, rel)
    if kind == "missing" and cur is None:
        raise Refused(f"{shown_path(rel)} does not exist")
    if edit.kind == "delete":
        return _plan_delete(ctx, edit, rel, kind, cur, digest, perm)
    if kind == "link" or edit.old_mode == "120000" or edit.new_mode == "120000":
        raise Refused(f"{shown_path(rel)} is a symbolic link (or would become one); edits change files, not links")
    if new_rel:
        _new_place(ctx, new_rel, "a rename")
        if not edit.hunks and edit.old_id and digest and not _same_blob(cur, edit.old_id):
            raise Refused(f"{shown_path(rel)} is not the file the patch renames: its blob id is not "
                          f"{edit.old_id} (the `index` line); nothing renamed")
    mode_change = edit.new_mode is not None and perm is not None and _with_mode(perm, edit.new_mode) != perm
    if not edit.hunks and not new_rel and not mode_change:
        if edit.new_mode:
            raise Refused(f"{shown_path(rel)} already has mode {edit.new_mode}; the edit changes nothing")
        raise Refused("the file's edit holds no hunk")
    if not new_rel and writable_folder(ctx.root, rel) and digest:
        raise Refused(f"{shown_path(rel)} cannot be written: {writable_folder(ctx.root, rel)}")
    new_text = _place_hunks(ctx, edit, rel, cur)
    if new_text is None:
        return
    target = new_rel or rel
    new_mode = _with_mode(perm, edit.new_mode) if perm is not None else None
    ctx.files.append(FileResult(rel, "update", new_rel, cur, new_text, digest, perm, new_mode))
    if new_rel:
        ctx.state[rel] = None
        ctx.results.append(HunkResult(rel, len(edit.hunks) + 1, True, relaxation=f"renamed to {new_rel}",
                                      op="rename"))
    if mode_change:
        ctx.results.append(HunkResult(target, len(edit.hunks) + 1 + bool(new_rel), True,
                                      relaxation=f"mode {edit.new_mode}", op="mode"))
    ctx.state[target] = new_text


def _same_blob(text: str, old_id: str) -> bool:
    return _blob_id(text.encode("utf-8", "surrogateescape")).startswith(old_id)


def _plan_add(ctx: _Context, edit: FileEdit, rel: str) -> None:
    if edit.new_mode == "120000":
        raise Refused(f"{shown_path(rel)}: the patch creates a symbolic link; edits create files only")
    _new_place(ctx, rel, "a new file")
    body = "\n".join(h for hk in edit.hunks for h in hk.new)
    new_text = body + "\n" if body and not (edit.hunks and edit.hunks[-1].new_no_eol) else body
    mode = _with_mode(0o666 & ~_umask(), edit.new_mode)
    ctx.files.append(FileResult(rel, "add", None, None, new_text, None, None, mode))
    ctx.state[rel] = new_text
    ctx.results.append(HunkResult(rel, 1, True, line=1, offset=0, relaxation="new file", op="create"))


def _plan_delete(ctx: _Context, edit: FileEdit, rel: str, kind: str, cur: str, digest, perm) -> None:
    """A deletion goes through only when the file is the one the patch deletes: its removed lines
    are the whole text, or (with no text) its blob id is the `index` line's."""
    if (kind == "link") != (edit.old_mode == "120000") and edit.old_mode:
        what = "a symbolic link" if kind == "link" else "a file"
        raise Refused(f"{shown_path(rel)} is {what}, not what the patch deletes (mode {edit.old_mode}); nothing deleted")
    old = [x for h in edit.hunks for x in h.old]
    if edit.hunks and any(h.new for h in edit.hunks):
        raise Refused(f"{shown_path(rel)}: the deletion adds lines; nothing deleted")
    if old:
        have = cur.replace("\r\n", "\n").split("\n")
        if have and have[-1] == "":
            have.pop()
        if have != old:
            at = next((i for i, (a, b) in enumerate(zip(have, old)) if a != b), min(len(have), len(old)))
            raise Refused(f"{shown_path(rel)} does not hold the text the patch deletes (they differ from line {at + 1}); "
                          "nothing deleted")
    elif edit.old_id and not _same_blob(cur, edit.old_id):
        raise Refused(f"{shown_path(rel)} is not the file the patch deletes: its blob id is not {edit.old_id} "
                      "(the `index` line); nothing deleted")
    why = writable_folder(ctx.root, rel) if rel not in ctx.state else None
    if why:
        raise Refused(f"{shown_path(rel)} cannot be deleted: {why}")
    ctx.files.append(FileResult(rel, "delete", None, cur if kind == "file" else None, None, digest, perm,
                                link=cur if kind == "link" else None))
    ctx.state[rel] = None
    ctx.results.append(HunkResult(rel, 1, True, relaxation="deleted", op="delete"))


def _place_hunks(ctx: _Context, edit: FileEdit, rel: str, cur: str) -> str | None:
    """The file's text with every hunk placed, or None (each refusal recorded) when one is not."""
    eol = _eol(cur)
    lines = cur.replace("\r\n", "\n").split("\n")
    final_nl = lines[-1] == ""
    if final_nl:
        lines.pop()
    start_count = len(ctx.results)
    lines, placed = place_file(rel, lines, edit.hunks)     # placed, verified, structure kept (match.py)
    placed = [_file_end(h, got, final_nl, len(lines)) for h, got in zip(edit.hunks, placed)]
    if any(h.new_no_eol for h in edit.hunks):
        final_nl = False
    elif any(h.old_no_eol for h in edit.hunks):
        final_nl = True          # the patch adds the newline the old file's last line lacked
    for k, got in enumerate(placed, 1):
        if isinstance(got, Refusal):
            ctx.results.append(HunkResult(rel, k, False, reason=got.reason,
                                          candidates=ctx.quote(rel, got.lines or lines, got.candidates)))
        else:
            ctx.results.append(HunkResult(rel, k, True, line=got.line, offset=got.offset, relaxation=got.relaxation,
                                          note=got.note))
    if not all(r.applied for r in ctx.results[start_count:]):
        return None
    return eol.join(lines) + (eol if final_nl or not lines else "")


def _file_end(h, got, final_nl: bool, n_lines: int):
    """A placed hunk that git's `\\ No newline at end of file` ties to the file's end, checked: its
    lines must end the file, and an old side so marked needs a file without its final newline.
    Otherwise the file is not the one the patch was made from: refused, rather than guess the
    final newline."""
    if not isinstance(got, Placement) or not (h.old_no_eol or h.new_no_eol):
        return got
    if not got.ends_file:
        return Refusal(f"`\\ No newline at end of file` says this hunk ends the file, and it would be at line "
                       f"{got.start + 1} of {n_lines}: not the file the patch was made from")
    if h.old_no_eol and final_nl:
        return Refusal("`\\ No newline at end of file` says the file's last line has no newline, and it has "
                       "one: not the file the patch was made from")
    if h.new_no_eol and not h.old_no_eol and not final_nl:
        return Refusal("the patch removes the newline at the file's end, and the file has no newline at its end "
                       "already: not the file the patch was made from")
    return got


# -- writing -------------------------------------------------------------------------------------

def _recheck(p: Plan) -> None:
    """ChangedOnDisk unless every file is as `plan` found it: the same bytes (or link), nothing new
    where a file is to be created, no link or file come onto a path since."""
    gone: set[str] = set()      # deleted or renamed away by an earlier part of the edit
    for f in p.files:
        try:
            for rel in filter(None, (f.path, f.new_path)):
                inspect(p.root, rel)
        except Refused as exc:
            raise ChangedOnDisk(f"{exc} (changed since the edit was checked); nothing written") from None
        full = os.path.join(p.root, f.path)
        if f.link is not None:
            same = os.path.islink(full) and os.readlink(full) == f.link
        elif f.kind == "add":
            same = f.path in gone or not os.path.lexists(full)
        elif f.digest is None:
            same = True   # an unsaved buffer's text: nothing on disk to compare
        else:
            try:
                same = os.path.isfile(full) and not os.path.islink(full) and \
                    hashlib.sha1(read_file(p.root, f.path)).hexdigest() == f.digest
            except OSError:
                same = False
        if f.kind == "delete" or f.new_path:
            gone.add(f.path)
        if f.new_path and f.new_path not in gone and os.path.lexists(os.path.join(p.root, f.new_path)):
            raise ChangedOnDisk(f"{shown_path(f.new_path)} appeared on disk since the edit was checked; nothing written")
        if not same:
            verb = "appeared on disk" if f.kind == "add" else "changed on disk"
            raise ChangedOnDisk(f"{shown_path(f.path)} {verb} since the edit was checked; nothing written")


def _make_folders(root: str, rel: str, undo: list) -> None:
    """Create the missing folders of `rel`'s path, each undone (removed if still empty) on failure."""
    folder = os.path.dirname(os.path.join(root, rel))
    missing = []
    while not os.path.lexists(folder) and len(folder) > len(root):
        missing.append(folder)
        folder = os.path.dirname(folder)
    for d in reversed(missing):
        os.mkdir(d)
        undo.append(lambda d=d: os.rmdir(d))


def write(p: Plan) -> Written:
    """Write a plan that placed every hunk: ChangedOnDisk (writing nothing) if a file changed since
    `plan` read it; WriteFailed, after restoring what was written, if a write fails midway."""
    if not p.ok and p.checked:
        raise ValueError("refusing to write a plan with refused hunks")
    _recheck(p)
    undo: list = []
    done = Written()
    current = None
    try:
        for f in p.files:
            current = f.new_path or f.path
            _write_one(p.root, f, undo, done)
    except OSError as exc:
        stuck = []
        for step in reversed(undo):
            try:
                step()
            except OSError as err:
                stuck.append(str(err))
        left = done if stuck else Written()
        what = exc.strerror or str(exc)
        if stuck:
            message = (f"writing {shown_path(current)} failed ({what}); restoring what was written before it failed too "
                       f"({'; '.join(stuck)}): see git status")
        elif done:
            message = f"writing {shown_path(current)} failed ({what}); the files written before it were restored, nothing changed"
        else:
            message = f"writing {shown_path(current)} failed ({what}); nothing written"
        raise WriteFailed(message, left) from None
    return done


def _write_one(root: str, f: FileResult, undo: list, done: Written) -> None:
    full = os.path.join(root, f.path)
    if f.kind == "delete":
        os.unlink(full)                     # a link is removed itself, never its target
        if f.link is not None:
            undo.append(lambda: os.symlink(f.link, full))
        else:
            undo.append(lambda: write_atomic(full, f.old_text.encode("utf-8", "surrogateescape"), f.old_mode))
        done.deleted.append(f.path)
        return
    data = f.new_text.encode("utf-8", "surrogateescape")
    if f.kind == "add" or f.new_path:
        target = f.new_path or f.path
        new_full = os.path.join(root, target)
        _make_folders(root, target, undo)
        if os.path.lexists(new_full):
            raise FileExistsError(17, f"{target} appeared meanwhile")
        write_atomic(new_full, data, f.new_mode)
        undo.append(lambda: os.unlink(new_full))
        done.written.append(target)
        if f.new_path:
            os.unlink(full)
            undo.append(lambda: write_atomic(full, f.old_text.encode("utf-8", "surrogateescape"), f.old_mode))
            done.renamed.append([f.path, f.new_path])
        if _sets_mode(f):
            done.modes.append([target, _git_mode(f.new_mode)])
        return
    if f.new_text != f.old_text:
        write_atomic(full, data, f.new_mode)
        undo.append(lambda: write_atomic(full, f.old_text.encode("utf-8", "surrogateescape"), f.old_mode))
        if f.path not in done.written:
            done.written.append(f.path)
    elif f.new_mode is not None and f.new_mode != f.old_mode:
        os.chmod(full, f.new_mode)
        undo.append(lambda: os.chmod(full, f.old_mode))
    if _sets_mode(f):
        done.modes.append([f.path, _git_mode(f.new_mode)])
