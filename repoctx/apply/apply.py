"""Apply a parsed edit against the current texts: every hunk placed (or refused) first, then all
files written atomically, or none. A file that changed on disk since it was read is detected before
anything is written. Paths are confined to the root exactly as the workspace confines them."""
from __future__ import annotations

import hashlib
import os
from dataclasses import asdict, dataclass, field

from repoctx.apply.match import Placement, Refusal, place
from repoctx.apply.parse import FileEdit, parse
from repoctx.files import OutsideWorkspace, confine, write_atomic


class ChangedOnDisk(RuntimeError):
    """A target file changed between reading it and writing it; nothing was written."""


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


@dataclass
class FileResult:
    path: str
    kind: str
    new_path: str | None
    old_text: str | None               # None: the file does not exist
    new_text: str | None               # None: the file is deleted
    digest: str | None                 # sha1 of the bytes read, to detect a change on disk


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

    def as_dict(self) -> dict:
        return {"ok": self.ok, "hunks": [asdict(h) for h in self.hunks],
                "files": [{"path": f.path, "kind": f.kind, "new_path": f.new_path} for f in self.files]}


def _eol(text: str) -> str:
    return "\r\n" if text.count("\r\n") * 2 > text.count("\n") else "\n"


def _read(root: str, rel: str, buffers: dict[str, str] | None) -> tuple[str | None, str | None]:
    if buffers and rel in buffers:
        return buffers[rel], None
    full = os.path.join(root, rel)
    if not os.path.lexists(full):
        return None, None
    with open(full, "rb") as f:
        raw = f.read()
    if b"\0" in raw[:8192]:
        raise ValueError(f"{rel} is a binary file")
    return raw.decode("utf-8", "surrogateescape"), hashlib.sha1(raw).hexdigest()


def plan(text: str, root: str, buffers: dict[str, str] | None = None) -> Plan:
    """Place every hunk of the edit in `text` against the files under `root` (or the unsaved
    `buffers`, path → text). Raises NoEdit for input that holds no edit."""
    root = os.path.realpath(root)
    edits = parse(text)
    files: list[FileResult] = []
    results: list[HunkResult] = []
    texts: dict[str, str | None] = {}
    for edit in edits:
        _plan_file(root, edit, buffers, files, results, texts)
    return Plan(root, files, results)


def _refuse_all(edit: FileEdit, path: str, reason: str, results: list[HunkResult]) -> None:
    for k, _ in enumerate(edit.hunks or [None], 1):
        results.append(HunkResult(path, k, False, reason=reason))


def _plan_file(root, edit: FileEdit, buffers, files, results, texts) -> None:
    shown = edit.path or "(no file)"
    try:
        rel = confine(root, edit.path)
        new_rel = confine(root, edit.new_path) if edit.new_path else None
    except OutsideWorkspace as exc:
        return _refuse_all(edit, shown, f"refused: {exc}", results)
    if any(".git" in p.split("/") for p in (rel, new_rel) if p):
        return _refuse_all(edit, rel, f"refused: {rel} is inside git's own folder (.git), which edits never touch", results)
    if edit.error:
        return _refuse_all(edit, rel, edit.error, results)
    try:
        if rel in texts:
            cur, digest = texts[rel], None
        else:
            cur, digest = _read(root, rel, buffers)
    except (OSError, ValueError) as exc:
        return _refuse_all(edit, rel, str(exc), results)
    if edit.kind == "add":
        if cur is not None and cur.strip():
            # an "add" of a file that exists: treat the whole text as its replacement only if equal
            if not edit.hunks or "\n".join(edit.hunks[0].new).strip() != cur.strip():
                return _refuse_all(edit, rel, f"{rel} already exists", results)
        body = "\n".join(h for hk in edit.hunks for h in hk.new)
        new_text = body + "\n" if body else ""
        files.append(FileResult(rel, "add", None, cur, new_text, digest))
        texts[rel] = new_text
        results.append(HunkResult(rel, 1, True, line=1, offset=0, relaxation="new file"))
        return
    if cur is None:
        return _refuse_all(edit, rel, f"{rel} does not exist", results)
    if edit.kind == "delete":
        files.append(FileResult(rel, "delete", None, cur, None, digest))
        texts[rel] = None
        results.append(HunkResult(rel, 1, True, relaxation="deleted"))
        return
    eol = _eol(cur)
    lines = cur.replace("\r\n", "\n").split("\n")
    final_nl = lines[-1] == ""
    if final_nl:
        lines.pop()
    delta = 0
    blocked: list[tuple[int, int]] = []
    start_count = len(results)
    for k, h in enumerate(edit.hunks, 1):
        hint = None if h.line is None else max(0, h.line - 1 + delta)
        got = place(lines, h.old, h.new, hint, h.anchor, blocked, [x.old for x in edit.hunks[k:]])
        if isinstance(got, Refusal):
            reason = got.reason
            if reason.startswith("the old text is not") and blocked:
                reason += " (it may conflict with an earlier hunk of this file)"
            results.append(HunkResult(rel, k, False, reason=reason, candidates=got.candidates))
            continue
        lines[got.start:got.end] = got.new
        grow = len(got.new) - (got.end - got.start)
        blocked = [(s if s < got.start else s + grow, e if e <= got.start else e + grow) for s, e in blocked]
        blocked.append((got.start, got.start + len(got.new)))
        delta += grow
        offset = None if h.line is None else got.start + 1 - (h.line + delta - grow)
        results.append(HunkResult(rel, k, True, line=got.start + 1, offset=offset, relaxation=got.relaxation))
    if not edit.hunks and not edit.new_path:
        results.append(HunkResult(rel, 1, False, reason="the file's edit holds no hunk"))
    if all(r.applied for r in results[start_count:]):
        new_text = eol.join(lines) + (eol if final_nl or not lines else "")
        files.append(FileResult(rel, "update", new_rel, cur, new_text, digest))
        texts[rel] = new_text
        if new_rel:
            results.append(HunkResult(rel, len(edit.hunks) + 1, True, relaxation=f"renamed to {new_rel}"))


def write(p: Plan) -> list[str]:
    """Write a plan that placed every hunk; raise ChangedOnDisk (writing nothing) if a file was
    changed since `plan` read it. Returns the paths written or removed."""
    if not p.ok and p.checked:
        raise ValueError("refusing to write a plan with refused hunks")
    for f in p.files:
        if f.digest is None and f.old_text is None:
            if os.path.lexists(os.path.join(p.root, f.path)):
                raise ChangedOnDisk(f"{f.path} appeared on disk since the edit was checked; nothing written")
            continue
        if f.digest is None:
            continue
        _, now = _read(p.root, f.path, None)
        if now != f.digest:
            raise ChangedOnDisk(f"{f.path} changed on disk since the edit was checked; nothing written")
    done = []
    for f in p.files:
        full = os.path.join(p.root, f.path)
        if f.new_text is None:
            os.unlink(full)
        else:
            target = os.path.join(p.root, f.new_path) if f.new_path else full
            os.makedirs(os.path.dirname(target), exist_ok=True)
            mode = os.stat(full).st_mode & 0o7777 if os.path.exists(full) else None
            write_atomic(target, f.new_text.encode("utf-8", "surrogateescape"), mode)
            if f.new_path:
                os.unlink(full)
        done.append(f.new_path or f.path)
    return done
