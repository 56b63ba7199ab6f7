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

from repoctx.git import unquote

MAX_PATCH_BYTES = 8 * 1024 * 1024


class NoEdit(ValueError):
    """The input holds no edit (or is too large to be one): exit code 2."""


@dataclass
class Hunk:
    old: list[str]
    new: list[str]
    line: int | None = None      # 1-based line of the first old line, as the patch stated it
    anchor: str | None = None    # apply_patch `@@ def f` context: the hunk lies after this line
    error: str | None = None     # why this hunk cannot be placed at all (refused as it stands)
    #: `\ No newline at end of file` after this side's last line: it ends the file, with no newline
    old_no_eol: bool = False
    new_no_eol: bool = False


@dataclass
class FileEdit:
    path: str
    kind: str = "update"         # update | add | delete
    new_path: str | None = None  # rename target
    hunks: list[Hunk] = field(default_factory=list)
    error: str | None = None
    format: str = "udiff"        # udiff | search-replace | apply_patch
    old_mode: str | None = None  # git's mode lines: "100644", "100755", "120000" (a symbolic link)
    new_mode: str | None = None
    old_id: str | None = None    # the old blob id (maybe abbreviated) of the `index a..b` line


_HUNK_HEAD = re.compile(r"^@@+ *(?:-(\d+)(?:,(\d+))? +\+(\d+)(?:,(\d+))?)? *@@+")
_FENCE = re.compile(r"^\s*(```|~~~)")


def parse(text: str) -> list[FileEdit]:
    """Every edit in `text`, in order; NoEdit when there is none."""
    if len(text.encode("utf-8", "surrogatepass")) > MAX_PATCH_BYTES:
        raise NoEdit(f"the patch is {len(text) / 1e6:.1f} MB; the limit is {MAX_PATCH_BYTES // 2**20} MB (split it)")
    lines = _dedent_fences([ln[:-1] if ln.endswith("\r") else ln for ln in text.split("\n")])
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
    for e in edits:
        _check_paths(e)
    return edits


_EDIT_START = ("--- ", "diff --git ", "@@", "*** Begin Patch")


def _dedent_fences(lines: list[str]) -> list[str]:
    """A fence indented inside a Markdown list item (`1. Change it:` then `   ```diff`) holds the
    edit indented by the fence's own indentation: take that off, so the diff's `+`, `-` and space
    columns are where a diff has them. Only for a fenced block that holds an edit and whose every
    non-empty line carries the indentation; a column-0 fence's content is never touched (a diff of
    a Markdown file has indented fences as its context)."""
    out = list(lines)
    i, inside = 0, False
    while i < len(out):
        m = re.match(r"^( {2,12})(```|~~~)", out[i])
        if not m:
            if out[i].startswith(("```", "~~~")):
                inside = not inside
            i += 1
            continue
        if inside:
            i += 1
            continue
        ind, mark = m.groups()
        end = next((j for j in range(i + 1, len(out)) if out[j].startswith(ind + mark)), None)
        if end is None:
            break
        body = out[i + 1:end]
        if all(x.startswith(ind) or not x.strip() for x in body) and \
                any(x[len(ind):].startswith(_EDIT_START) or re.match(r"^<{5,9} SEARCH", x[len(ind):]) for x in body):
            out[i:end + 1] = [x[len(ind):] for x in out[i:end + 1]]
        i = end + 1
    return out


def _check_paths(edit: FileEdit) -> None:
    """A path with a control character (NUL, newline, tab, escape...) is no file a repository should
    get from a model: the edit is refused with one line, and the path kept printable for reports."""
    for name in ("path", "new_path"):
        p = getattr(edit, name)
        if p and any(ord(c) < 32 or ord(c) == 127 for c in p):
            shown = p.encode("unicode_escape", "backslashreplace").decode("ascii")
            setattr(edit, name, shown)
            edit.error = edit.error or f"the patch names a path with a control character ({shown}); refused"
        elif p and any("\udc80" <= c <= "\udcff" for c in p):  # a quoted path whose bytes are not UTF-8
            from repoctx.render import shown_path
            edit.error = edit.error or f"the patch names a path that is not UTF-8 ({shown_path(p)}); refused"


# -- unified diff ----------------------------------------------------------------------------------

def _unquote(p: str) -> str:
    """A path as git writes it: C-quoted (`"a/caf\\303\\251.py"`) when it holds special bytes."""
    try:
        return unquote(p)
    except ValueError:        # a bad escape: keep it as written (it names no file, and is refused)
        return p


def _strip_prefix(p: str) -> str:
    p = p.strip()
    p = p if p.startswith('"') else p.split("\t")[0].strip()
    p = _unquote(p)
    return p[2:] if p[:2] in ("a/", "b/") else p


def _git_paths(rest: str) -> tuple[str | None, str | None]:
    """The two paths of a `diff --git` line, quoted or plain; (None, None) when spaces make it
    ambiguous (the `---`/`+++` or rename lines then say)."""
    parts = re.findall(r'"(?:[^"\\]|\\.)*"|\S+', rest)
    if len(parts) == 2:
        return _strip_prefix(parts[0]), _strip_prefix(parts[1])
    half = (len(rest) - 1) // 2              # `a/my file.py b/my file.py`: the same name twice, as git reads it
    if rest[:2] == "a/" and rest[half:half + 3] == " b/" and rest[2:half] == rest[half + 3:]:
        return rest[2:half], rest[2:half]
    return None, None


def _udiff_file(lines: list[str], i: int, edits: list[FileEdit]) -> int:
    edit = FileEdit(path="")
    start = i
    old_p = new_p = None
    if lines[i].startswith("diff --git "):
        old_p, new_p = _git_paths(lines[i][len("diff --git "):])
        i += 1
        while i < len(lines) and not lines[i].startswith(("--- ", "@@", "diff --git ")):
            ln = lines[i]
            if ln.startswith("new file mode"):
                edit.kind, edit.new_mode = "add", ln.split()[-1]
            elif ln.startswith("deleted file mode"):
                edit.kind, edit.old_mode = "delete", ln.split()[-1]
            elif ln.startswith(("old mode ", "new mode ")):
                setattr(edit, ln[:3] + "_mode", ln.split()[-1])
            elif m := re.match(r"^index ([0-9a-fA-F]{4,64})\.\.[0-9a-fA-F]{4,64}(?: +(\d{6}))?\s*$", ln):
                edit.old_id = None if not m[1].strip("0") else m[1].lower()
                edit.old_mode = edit.old_mode or m[2]
            elif ln.startswith("rename from "):
                old_p = _unquote(ln[12:].strip())
            elif ln.startswith("rename to "):
                new_p = _unquote(ln[10:].strip())
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
    edit.path = (old_p if edit.kind != "add" else (new_p or old_p)) or ""
    if not edit.path:
        edit.error = edit.error or f"the diff at line {start + 1} of the patch names no file it could be read from"
    if edit.kind == "update" and new_p and old_p and new_p != old_p:
        edit.new_path = new_p
    while i < len(lines) and lines[i].startswith("@@"):
        i = _udiff_hunk(lines, i, edit)
    edits.append(edit)
    return i


def _udiff_hunk(lines: list[str], i: int, edit: FileEdit) -> int:
    """One hunk. Its body decides what it holds, never the header's counts (models miscount them
    all the time): the body runs until a line no hunk line can be (`@@`, `diff --git`, a fence, a
    `---`/`+++` file header, prose). The counts only settle the ambiguous edges: how many empty
    lines at the end are blank context rather than a separator before prose, and whether a
    `--- x` line is a removed `-- x`. The line number says where: `-N,0` (no old lines, as
    `git diff -U0` writes an insertion) means after line N, as git reads it."""
    m = _HUNK_HEAD.match(lines[i])
    line = want_old = want_new = None
    if m and m.group(1):
        line = int(m.group(1))
        want_old = int(m.group(2)) if m.group(2) is not None else 1
        want_new = int(m.group(4)) if m.group(4) is not None else 1
    zero = m is not None and m.group(2) == "0"         # `-N,0`: an insertion after line N
    i += 1
    body: list[tuple[str, str, bool]] = []             # (tag, text, was an empty line)
    no_eol = {"-": False, "+": False}                  # a side's `\ No newline at end of file` seen
    error = None

    def counts(rows) -> tuple[int, int]:
        return sum(t != "+" for t, _, _ in rows), sum(t != "-" for t, _, _ in rows)

    while i < len(lines):
        ln = lines[i]
        if ln.startswith(("@@", "diff --git ", "```", "~~~")):
            break
        if ln.startswith("--- ") and i + 1 < len(lines) and lines[i + 1].startswith("+++ ") and (
                i + 2 >= len(lines) or lines[i + 2].startswith("@@") or counts(body) == (want_old, want_new)):
            break
        if ln.startswith("\\"):       # "\ No newline at end of file": the side of the row before it ends the file
            if body:
                tag = body[-1][0]
                no_eol.update({s: True for s in "-+" if tag in (s, " ")})
            i += 1
            continue
        if not ln and i == len(lines) - 1:   # what follows the input's last newline: no line
            break
        row = (" ", "", True) if not ln else (ln[0], ln[1:], False) if ln[0] in " -+" else None
        if row is None:
            break
        if not row[2] and any(no_eol[s] and row[0] in (s, " ") for s in "-+"):
            error = error or ("a line follows the last line of a side that `\\ No newline at end of file` "
                              "marked as the file's end; the hunk cannot be read")
        body.append(row)
        i += 1
    # empty lines at the end: blank context only as far as the header's counts ask for them
    k = len(body)
    while k and body[k - 1][2]:
        k -= 1
    keep = 0
    if want_old is not None:
        o, n = counts(body[:k])
        if want_old - o == want_new - n and 0 < want_old - o <= len(body) - k:
            keep = want_old - o
    rows = body[:k + keep]
    old = [x for t, x, _ in rows if t != "+"]
    new = [x for t, x, _ in rows if t != "-"]
    if want_old is not None and (len(old) < want_old or len(new) < want_new):
        # at the end of the input, with no change yet or a last line cut short: cut off, not miscounted
        at_end = i >= len(lines) or _FENCE.match(lines[i]) or not "".join(lines[i:]).strip()
        cut = old == new or (i >= len(lines) and lines[-1] != "")
        if at_end and cut:
            edit.error = (f"truncated hunk at line {line}: the header promises {want_old} old and {want_new} new "
                          f"lines, the patch ends after {len(old)} and {len(new)}")
    if zero:
        line = line + 1                                 # after line N: the new lines start at N + 1
    elif not old and edit.kind != "add" and line is not None and not error:
        error = (f"the hunk at line {line} adds lines with no context, and its header (-{line},{want_old}) does "
                 f"not say where: only -N,0 means \"after line N\"")
    if edit.kind == "add" and not old:
        line = None
    edit.hunks.append(Hunk(old, new, line if line else None, error=error, old_no_eol=no_eol["-"],
                           new_no_eol=no_eol["+"]))
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
