"""Parse a model's edit out of its answer: unified diffs, search/replace blocks and `*** Begin Patch`
envelopes, wherever they sit in prose or Markdown fences, into one plain edit model.

A `FileEdit` names a file and what happens to it (update, add, delete, rename); an update holds
`Hunk`s, each a list of old lines to find and new lines to put there, with the line the patch
stated (if any). A problem local to one file (a binary patch, a truncated hunk) is kept on the
`FileEdit` as `error`, so it is reported as a refusal beside the hunks that were fine.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

MAX_PATCH_BYTES = 8 * 1024 * 1024


class NoEdit(ValueError):
    """The input holds no edit (or is too large to be one): exit code 2."""


@dataclass
class Hunk:
    old: list[str]
    new: list[str]
    line: int | None = None      # 1-based line of the first old line, as the patch stated it
    anchor: str | None = None    # apply_patch `@@ def f` context: the hunk lies after this line


@dataclass
class FileEdit:
    path: str
    kind: str = "update"         # update | add | delete
    new_path: str | None = None  # rename target
    hunks: list[Hunk] = field(default_factory=list)
    error: str | None = None
    format: str = "udiff"        # udiff | search-replace | apply_patch


_HUNK_HEAD = re.compile(r"^@@+ *(?:-(\d+)(?:,(\d+))? +\+(\d+)(?:,(\d+))?)? *@@+")
_FENCE = re.compile(r"^\s*(```|~~~)")


def parse(text: str) -> list[FileEdit]:
    """Every edit in `text`, in order; NoEdit when there is none."""
    if len(text.encode("utf-8", "surrogatepass")) > MAX_PATCH_BYTES:
        raise NoEdit(f"the patch is {len(text) / 1e6:.1f} MB; the limit is {MAX_PATCH_BYTES // 2**20} MB (split it)")
    lines = [ln[:-1] if ln.endswith("\r") else ln for ln in text.split("\n")]
    edits: list[FileEdit] = []
    i = 0
    last_path: str | None = None
    while i < len(lines):
        ln = lines[i]
        if ln.strip() == "*** Begin Patch":
            i = _envelope(lines, i + 1, edits)
        elif ln.startswith("diff --git ") or (ln.startswith("--- ") and i + 1 < len(lines) and lines[i + 1].startswith("+++ ")):
            i = _udiff_file(lines, i, edits)
        elif re.match(r"^<{5,9} SEARCH\s*$", ln):
            path = _path_before(lines, i) or last_path
            i = _search_replace(lines, i, path, edits)
            last_path = edits[-1].path if edits else last_path
        else:
            i += 1
    if not edits:
        raise NoEdit("no edit found: expected a unified diff, SEARCH/REPLACE blocks or a *** Begin Patch envelope")
    return edits


# -- unified diff ----------------------------------------------------------------------------------

def _strip_prefix(p: str) -> str:
    p = p.split("\t")[0].strip()
    if p.startswith('"') and p.endswith('"'):
        p = p[1:-1]
    return p[2:] if p[:2] in ("a/", "b/") else p


def _udiff_file(lines: list[str], i: int, edits: list[FileEdit]) -> int:
    edit = FileEdit(path="")
    old_p = new_p = None
    if lines[i].startswith("diff --git "):
        m = re.match(r"^diff --git (\S+) (\S+)", lines[i])
        if m:
            old_p, new_p = _strip_prefix(m.group(1)), _strip_prefix(m.group(2))
        i += 1
        while i < len(lines) and not lines[i].startswith(("--- ", "@@", "diff --git ")):
            ln = lines[i]
            if ln.startswith("new file mode"):
                edit.kind = "add"
            elif ln.startswith("deleted file mode"):
                edit.kind = "delete"
            elif ln.startswith("rename from "):
                old_p = ln[12:].strip()
            elif ln.startswith("rename to "):
                new_p = ln[10:].strip()
            elif ln.startswith("GIT binary patch") or (ln.startswith("Binary files ") and ln.endswith(" differ")):
                edit.error = "binary patches are not supported (only text edits are applied)"
            i += 1
    if i + 1 < len(lines) and lines[i].startswith("--- ") and lines[i + 1].startswith("+++ "):
        a, b = lines[i][4:].strip(), lines[i + 1][4:].strip()
        if a.split("\t")[0] == "/dev/null":
            edit.kind = "add"
        else:
            old_p = _strip_prefix(a)
        if b.split("\t")[0] == "/dev/null":
            edit.kind = "delete"
        else:
            new_p = _strip_prefix(b)
        i += 2
    edit.path = old_p if edit.kind != "add" else (new_p or old_p or "")
    if edit.kind == "update" and new_p and old_p and new_p != old_p:
        edit.new_path = new_p
    while i < len(lines) and lines[i].startswith("@@"):
        i = _udiff_hunk(lines, i, edit)
    edits.append(edit)
    return i


def _udiff_hunk(lines: list[str], i: int, edit: FileEdit) -> int:
    m = _HUNK_HEAD.match(lines[i])
    want_old = want_new = None
    line = None
    if m and m.group(1):
        line = int(m.group(1))
        want_old = int(m.group(2)) if m.group(2) is not None else 1
        want_new = int(m.group(4)) if m.group(4) is not None else 1
    i += 1
    old: list[str] = []
    new: list[str] = []
    counted = want_old is not None
    while i < len(lines):
        ln = lines[i]
        if counted and len(old) >= want_old and len(new) >= want_new:
            break
        # headers end a hunk whose counts are unknown; with counts, "--- x" may be a removed "-- x"
        if ln.startswith(("@@", "diff --git ", "```", "~~~")) or not counted and ln.startswith("--- ") \
                and i + 1 < len(lines) and lines[i + 1].startswith("+++ "):
            break
        if ln.startswith("\\"):       # "\ No newline at end of file"
            i += 1
            continue
        tag, body = (ln[:1], ln[1:]) if ln else (" ", "")
        if tag == " ":
            old.append(body); new.append(body)
        elif tag == "-":
            old.append(body)
        elif tag == "+":
            new.append(body)
        else:
            break
        i += 1
    if counted and (len(old) < want_old or len(new) < want_new):
        # at the end of the input, with no change yet or a last line cut short: cut off, not miscounted
        at_end = i >= len(lines) or _FENCE.match(lines[i]) or not "".join(lines[i:]).strip()
        cut = not any(o != n for o, n in zip(old, new)) and len(old) == len(new) or (i >= len(lines) and lines[-1] != "")
        if at_end and cut:
            edit.error = (f"truncated hunk at line {line}: the header promises {want_old} old and {want_new} new "
                          f"lines, the patch ends after {len(old)} and {len(new)}")
    # a blank line right before prose is a separator, not context
    while old and new and old[-1] == "" and new[-1] == "" and not counted:
        old.pop(); new.pop()
    if edit.kind == "add" and not old:
        line = None
    edit.hunks.append(Hunk(old, new, line if line else None))
    return i


# -- search/replace ---------------------------------------------------------------------------------

def _path_before(lines: list[str], i: int) -> str | None:
    for j in range(i - 1, max(-1, i - 4), -1):
        s = lines[j].strip()
        if not s or _FENCE.match(s) and not s.strip("`~").strip():
            continue
        if _FENCE.match(s):
            continue
        s = s.strip("`*#: ").strip()
        if s and " " not in s and ("/" in s or "." in s):
            return s
        return None
    return None


def _search_replace(lines: list[str], i: int, path: str | None, edits: list[FileEdit]) -> int:
    start = i
    i += 1
    old: list[str] = []
    new: list[str] = []
    while i < len(lines) and not re.match(r"^={5,9}\s*$", lines[i]):
        old.append(lines[i]); i += 1
    i += 1
    while i < len(lines) and not re.match(r"^>{5,9} REPLACE\s*$", lines[i]):
        new.append(lines[i]); i += 1
    edit = FileEdit(path=path or "", format="search-replace")
    if i >= len(lines):
        edit.error = f"truncated SEARCH/REPLACE block starting at line {start + 1} of the patch (no >>>>>>> REPLACE)"
    elif not path:
        edit.error = f"SEARCH/REPLACE block at line {start + 1} of the patch names no file"
    if not old and not edit.error:
        edit.kind = "add"
    if edits and edits[-1].format == "search-replace" and edits[-1].path == edit.path and edit.kind == "update" \
            and not edit.error and not edits[-1].error and edits[-1].kind == "update":
        edits[-1].hunks.append(Hunk(old, new))
    else:
        edit.hunks.append(Hunk(old, new))
        edits.append(edit)
    return i + 1


# -- apply_patch envelope ----------------------------------------------------------------------------

def _envelope(lines: list[str], i: int, edits: list[FileEdit]) -> int:
    edit: FileEdit | None = None
    hunk: Hunk | None = None
    ended = False
    while i < len(lines):
        ln = lines[i]
        s = ln.strip()
        if s == "*** End Patch":
            ended = True
            i += 1
            break
        m = re.match(r"^\*\*\* (Update|Add|Delete) File: (.+)$", s)
        if m:
            kind = {"Update": "update", "Add": "add", "Delete": "delete"}[m.group(1)]
            edit = FileEdit(path=m.group(2).strip(), kind=kind, format="apply_patch")
            edits.append(edit)
            hunk = Hunk([], []) if kind == "add" else None
            if hunk:
                edit.hunks.append(hunk)
        elif edit is not None and s.startswith("*** Move to: "):
            edit.new_path = s[13:].strip()
        elif s == "*** End of File":
            pass
        elif edit is not None and ln.startswith("@@"):
            anchor = ln[2:].strip() or None
            hunk = Hunk([], [], anchor=anchor)
            edit.hunks.append(hunk)
        elif edit is not None and edit.kind != "delete":
            if hunk is None:
                hunk = Hunk([], [])
                edit.hunks.append(hunk)
            tag, body = (ln[:1], ln[1:]) if ln else (" ", "")
            if edit.kind == "add":
                if tag == "+":
                    hunk.new.append(body)
            elif tag == " ":
                hunk.old.append(body); hunk.new.append(body)
            elif tag == "-":
                hunk.old.append(body)
            elif tag == "+":
                hunk.new.append(body)
            elif _FENCE.match(ln):
                break
        i += 1
    if not ended and edits and edits[-1].format == "apply_patch" and edit is not None:
        edit.error = "truncated patch: *** Begin Patch without *** End Patch"
    for e in edits:
        e.hunks = [h for h in e.hunks if h.old or h.new or e.kind == "add"]
    return i
