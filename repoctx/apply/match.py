"""Place one hunk in a file's current lines, by a ladder of relaxations, each of which must find
exactly one place: exact at the stated line; exact elsewhere; ignoring whitespace and indentation
(the replacement is re-indented to the file); with up to three context lines trimmed from each edge;
with `...` elisions in the old text treated as gaps. Otherwise the hunk is refused with the reason
and the closest candidate places and their similarity.

`place_file` places every hunk of one file and checks each placement after the fact: the file now
holds the hunk's new lines where its old lines were, a relaxed placement kept the indentation
structure the model wrote, and a file that parsed before still parses (tree-sitter) — else refused.
"""
from __future__ import annotations

import bisect
import difflib
import re
from dataclasses import dataclass, field

_ELISION = re.compile(r"^\s*(?:(?:#|//|/\*|--|;)\s*)?(?:\.\.\.|…)(?:.*(?:unchanged|rest|existing|same|omitted|more).*)?\s*(?:\*/)?\s*$"
                      r"|^\s*(?:#|//|/\*)\s*\.{0,3}\s*(?:rest|remainder|existing code|the rest)\b.*unchanged.*$", re.I)
#: A context line that names or opens a scope: when the model invented it, the hunk's other lines
#: were meant for a place that does not exist, so trimming it away would put them somewhere else.
_OPENER = re.compile(r"^\s*(?:(?:export|public|private|protected|static|async|pub|override|final|abstract|default)\s+)*"
                     r"(?:def|class|func|function|fn|impl|struct|enum|interface|trait|module|namespace|type|package)\b"
                     r"|[:{(\[]\s*$|\b(?:do|then)\s*$")
EXACT = ("exact", "offset")      # relaxations that took the hunk's text as written


@dataclass
class Placement:
    start: int                 # 0-based index of the first replaced line in the current text
    end: int                   # exclusive
    new: list[str]             # the lines that replace them
    relaxation: str            # exact | offset | whitespace | trimmed | elision (", in order", ...)
    note: str | None = None    # what a person should know (lines trimmed, the file no longer parses)
    old_used: list[str] | None = None    # the part of the hunk's old/new lines that was placed
    new_used: list[str] | None = None    # (None: all of it)
    pairs: list[tuple[list[str], list[str]]] = field(default_factory=list)   # (as written, as placed)
    line: int | None = None    # set by place_file: 1-based line where the new text starts
    ends_file: bool = False    # set by place_file: the new text is the file's last lines
    offset: int | None = None  # and how far that is from the line the patch stated

    @property
    def relaxed(self) -> bool:
        return self.relaxation.split(",")[0] not in EXACT


@dataclass
class Refusal:
    reason: str
    candidates: list[dict] = field(default_factory=list)   # {line, similarity, text}
    lines: list[str] | None = None     # the text the candidates' line numbers refer to (set by place_file)


def near(n_lines: int) -> int:
    """How far from the header's line trimmed context may still place a hunk: 25 lines, or 1/30 of
    the file's length when that is more. Trimming means the model's text is not the file's, so the
    text alone is weak evidence; the stated line is the other half. A model's numbers drift with
    the position (miscounting accumulates down a file) and with edits made since it read the file,
    so the allowance grows with the file; 25 lines is about one function, the unit a model edits.
    Issue 25 item 4 (517 lines off in requests' 920-line sessions.py: allowance 30) is far outside it."""
    return max(25, n_lines // 30)


def _norm(s: str) -> str:
    return " ".join(s.split())


class _Indexed(list):
    """A file's lines with, made on first use, their whitespace-normalized form and a map from each
    (exact or normalized) line to its positions: finding a hunk then costs the positions of its
    first line, not a pass over the file (a refusal on a 40,000-line file tries some 20 searches)."""

    def __init__(self, lines):
        super().__init__(lines)
        self._keyed: dict = {}
        self._where: dict = {}

    def keyed(self, key) -> list[str]:
        if key is None:
            return self
        if key not in self._keyed:
            self._keyed[key] = [key(x) for x in self]
        return self._keyed[key]

    def where(self, key) -> dict[str, list[int]]:
        w = self._where.get(key)
        if w is None:
            w = self._where[key] = {}
            for i, t in enumerate(self.keyed(key)):
                w.setdefault(t, []).append(i)
        return w


def _find(lines: list[str], old: list[str], key=None) -> list[int]:
    """Where `old` is in `lines` (compared by `key`, or exactly): from the positions of its rarest
    line in the normalized index (an exact match is a normalized one too), each one checked."""
    n = len(old)
    if n == 0 or n > len(lines):
        return []
    if not isinstance(lines, _Indexed):
        lines = _Indexed(lines)
    where = lines.where(_norm)
    rare = min(range(n), key=lambda j: len(where.get(_norm(old[j]), ())))
    hay = lines.keyed(key)
    needle = [key(x) for x in old] if key else old
    return [i - rare for i in where.get(_norm(old[rare]), ()) if i >= rare and hay[i - rare:i - rare + n] == needle]


def _indent(s: str) -> str:
    return s[:len(s) - len(s.lstrip())]


def _merge(file_old: list[str], old: list[str], new: list[str], reindent: bool) -> list[str]:
    """The replacement: lines the hunk keeps take the file's text; added lines are re-indented the
    way the matched lines' indentation maps from the hunk to the file (when matched ignoring
    whitespace), and lose trailing whitespace."""
    out: list[str] = []
    table: dict[str, str] = {}
    reindent = reindent and file_old != old      # matched exactly: the hunk's lines go in as written
    if reindent:
        for f, o in zip(file_old, old):
            if o.strip():
                table.setdefault(_indent(o), _indent(f))
    keys = sorted(table, key=len, reverse=True)

    def shift(ln: str) -> str:
        if not ln.strip() or not table:
            return ln.rstrip()
        ind = _indent(ln)
        if ind in table:
            return table[ind] + ln[len(ind):].rstrip()
        for k in keys:                       # the deepest mapped indentation this line extends
            if ind.startswith(k):
                return table[k] + ln[len(k):].rstrip()
        k = min(keys, key=len)               # shallower than anything matched: shift by the same amount
        f = table[k]
        cut = len(k) - len(ind)
        return (f[:max(0, len(f) - cut)] if cut > 0 else f) + ln.lstrip().rstrip()

    sm = difflib.SequenceMatcher(None, old, new, autojunk=False)
    for tag, a1, a2, b1, b2 in sm.get_opcodes():
        if tag == "equal":
            out.extend(file_old[a1:a2])
        else:
            out.extend(shift(ln) if reindent else ln for ln in new[b1:b2])
    return out


def _at(lines: list[str], i: int, old: list[str], new: list[str], key, name: str, full_old=None, full_new=None,
        note: str | None = None) -> Placement:
    """The placement of `old` at line `i` (matched with `key`, or exactly when None)."""
    span = lines[i:i + len(old)]
    merged = _merge(span, old, new, key is not None)
    pairs = [(old, span), (new, merged)] if key is not None else []
    trimmed = full_old is not None
    return Placement(i, i + len(old), merged, name, note, old if trimmed else None, new if trimmed else None, pairs)


def place(lines: list[str], old: list[str], new: list[str], hint: int | None = None,
          anchor: str | None = None, blocked: list[tuple[int, int]] = (), later: list[list[str]] = (),
          rest: list[tuple[list[str], list[str]]] = ()) -> Placement | Refusal:
    """Where `old` goes in `lines` (`hint`: the 0-based stated place, already shifted by earlier
    hunks). `blocked`: spans earlier hunks wrote, which a later hunk may not overlap. `later`: the
    old lines of the hunks still to place: when this same text matches exactly as many places as
    there are such twins, they go there in order, one each. `rest`: the later hunks' (old, new), to
    tell a trimmed hunk's copies (the same change: which of them goes where changes nothing)."""
    lines = lines if isinstance(lines, _Indexed) else _Indexed(lines)
    if not old:
        if hint is not None and 0 <= hint <= len(lines):
            return Placement(hint, hint, list(new), "exact")
        if not lines:
            return Placement(0, 0, list(new), "exact")
        if hint is not None:
            return Refusal(f"the hunk inserts after line {hint}, and the file has {len(lines)} lines")
        return Refusal("the hunk has no context lines to place it by")
    floor = scope = 0
    if anchor:   # apply_patch `@@ def f`: the first match after that (unique) line
        normed = lines.keyed(_norm)
        at = lines.where(_norm).get(_norm(anchor), []) or [i for i, ln in enumerate(normed) if _norm(anchor) in ln]
        if len(at) != 1:
            return Refusal(f"the @@ anchor {anchor!r} matches {len(at)} lines", closest(lines, [anchor]))
        floor, scope = at[0] + 1, _block_end(lines, at[0])

    def ok(i: int, n: int) -> bool:
        return i >= floor and not any(i < e and s < i + n or (n == 0 and s <= i < e) for s, e in blocked)

    n = len(old)
    if hint is not None and lines[hint:hint + n] == old and ok(hint, n):
        return _at(lines, hint, old, new, None, "exact")
    ladder = [("offset", None), ("whitespace", _norm)]
    ambiguous: list[tuple[str, list[int]]] = []
    for name, key in ladder:
        found = [i for i in _find(lines, old, key) if ok(i, n)]
        if len(found) == 1:
            return _at(lines, found[0], old, new, key, name)
        if len(found) > 1 and len(found) == _twins(old, later):
            return _at(lines, found[0], old, new, key, name + ", in order")
        if len(found) > 1 and floor:
            inside = [i for i in found if i < scope]
            if len(inside) <= 1:   # the one inside the anchor's block, or the first after a landmark line
                return _at(lines, (inside or found)[0], old, new, key, name + ", after the @@ line")
        if len(found) > 1:
            ambiguous.append((name, found))
            break
    if not ambiguous and any(_ELISION.match(x) for x in old):
        got = _elided(lines, old, new, ok)
        if isinstance(got, Placement):
            return got
        return Refusal(got, closest(lines, old))
    if not ambiguous:
        got = _trimmed(lines, old, new, ok, hint, rest)
        if isinstance(got, (Placement, Refusal)):
            return got
        if got:
            ambiguous.append(("trimmed", got))
    if ambiguous:
        name, found = ambiguous[0]
        where = ", ".join(str(i + 1) for i in found[:8])
        return Refusal(f"ambiguous: the old text matches {len(found)} places ({name}) at lines {where}",
                       [{"line": i + 1, "similarity": 1.0, "text": lines[i]} for i in found[:3]])
    if _find(lines, new, _norm) and new:
        return Refusal("the old text is not in the file, and its new text already is (applied before?)")
    return Refusal("the old text is not in the file", closest(lines, old))


def _block_end(lines: list[str], at: int) -> int:
    """The end of the block a line opens: the next non-blank line indented no deeper than it."""
    depth = len(_indent(lines[at]))
    return next((j for j in range(at + 1, len(lines)) if lines[j].strip() and len(_indent(lines[j])) <= depth), len(lines))


def _contains(big: list[str], small: list[str]) -> bool:
    return bool(small) and any(big[i:i + len(small)] == small for i in range(len(big) - len(small) + 1))


def _twins(old: list[str], later: list[list[str]]) -> int:
    """1 + how many later hunks have the same text as this one, up to trimmed or added edges."""
    a = [_norm(x) for x in old]
    count = 1
    for other in later:
        b = [_norm(x) for x in other]
        if _contains(a, b) or _contains(b, a):
            count += 1
    return count


def _quote(xs: list[str]) -> str:
    return ", ".join(repr(x.strip()[:60]) for x in xs)


def _trimmed(lines, old, new, ok, hint=None, rest=()):
    """Context lines at the hunk's edges that the model invented: left out, at most three a side,
    when what remains is found exactly once (or once per copy of this same hunk: any order gives
    the same text) — and near the stated line
    when the patch states one, and none of the left-out lines names or opens a scope (the hunk
    would then land in some other function). Returns a Placement, a Refusal, the list of places
    when ambiguous, or None."""
    sm = difflib.SequenceMatcher(None, old, new, autojunk=False)
    ops = sm.get_opcodes()
    lead = ops[0][2] - ops[0][1] if ops and ops[0][0] == "equal" else 0
    trail = ops[-1][2] - ops[-1][1] if ops and ops[-1][0] == "equal" and len(ops) > 1 else 0
    far = None
    for k in range(1, 4):
        for a, b in ((min(k, lead), 0), (0, min(k, trail)), (min(k, lead), min(k, trail))):
            if (a, b) == (0, 0) or a + b >= len(old) or a > lead or b > trail:
                continue
            o = old[a:len(old) - b]
            nw = new[a:len(new) - b]
            kept = [x for x in o if x.strip()]
            if not kept or hint is None and len(kept) < 2:
                continue
            for key in (None, _norm):
                found = [i for i in _find(lines, o, key) if ok(i, len(o))]
                copies = sum(_only_context_cut(xo, xn, o, nw) for xo, xn in rest) if len(found) > 1 else 0
                if len(found) == 1 or copies and len(found) == 1 + copies:
                    i = found[0]
                    cut = old[:a] + old[len(old) - b:]
                    opener = [x for x in cut if _OPENER.search(x)]
                    if opener:
                        return Refusal(f"its context line {_quote(opener[:1])} is not in the file: the hunk names a place "
                                       f"that does not exist", closest(lines, old))
                    if hint is not None and abs(i - hint) > near(len(lines)):
                        far = far or (i, cut)
                        continue
                    note = f"left out {len(cut)} context line(s) not in the file: {_quote(cut)}"
                    return _at(lines, i, o, nw, key, "trimmed", old, new, note)
                if len(found) > 1 and not far:
                    return found
    if far:
        i, cut = far
        return Refusal(f"the old text is not in the file; without its context line(s) {_quote(cut)} it matches "
                       f"line {i + 1}, {abs(i - hint)} lines from the stated line {hint + 1} (more than "
                       f"{near(len(lines))})", closest(lines, old))
    return None


def _elided(lines, old, new, ok):
    segs: list[list[str]] = [[]]
    for x in old:
        if _ELISION.match(x):
            segs.append([])
        else:
            segs[-1].append(x)
    marks_new = [j for j, x in enumerate(new) if _ELISION.match(x)]
    if len(marks_new) != len(segs) - 1:
        return "the hunk elides lines (`...`) on one side only; cannot tell what to keep"
    if not segs[0]:
        return "the hunk starts with an elision; nothing anchors it"
    # one part found exactly once pins the hunk; the others are the nearest before / after it
    pin = None
    for k, seg in enumerate(segs):
        if seg and len(_find(lines, seg, _norm)) == 1:
            pin = k
            break
    if pin is None:
        return "ambiguous: no part of the elided hunk is found exactly once"
    spans: list[tuple[int, int] | None] = [None] * len(segs)
    i = _find(lines, segs[pin], _norm)[0]
    spans[pin] = (i, i + len(segs[pin]))
    for k in range(pin - 1, -1, -1):
        limit = spans[k + 1][0]
        found = [j for j in _find(lines, segs[k], _norm) if j + len(segs[k]) <= limit] if segs[k] else [limit]
        if not found:
            return "a part of the elided hunk is not in the file"
        spans[k] = (found[-1], found[-1] + len(segs[k]))
    for k in range(pin + 1, len(segs)):
        pos = spans[k - 1][1]
        found = [j - pos for j in _find(lines, segs[k], _norm) if j >= pos] if segs[k] else [0]
        if not found:
            return "a part of the elided hunk is not in the file"
        spans[k] = (pos + found[0], pos + found[0] + len(segs[k]))
    start, end = spans[0][0], spans[-1][1]
    if not ok(start, end - start):
        return "overlaps an earlier hunk"
    out: list[str] = []
    new_parts: list[list[str]] = [[]]
    for x in new:
        if _ELISION.match(x):
            new_parts.append([])
        else:
            new_parts[-1].append(x)
    pairs = []
    for k, seg in enumerate(segs):
        s, e = spans[k]
        merged = _merge(lines[s:e], seg, new_parts[k], True)
        pairs += [(seg, lines[s:e]), (new_parts[k], merged)]
        out.extend(merged)
        if k + 1 < len(segs):
            out.extend(lines[e:spans[k + 1][0]])
    return Placement(start, end, out, "elision", pairs=pairs)


def closest(lines: list[str], old: list[str], k: int = 3) -> list[dict]:
    """The `k` places most like `old` (line, similarity 0..1, the first line there). Bounded: the
    places come from an index of the file's lines, never from a scan of every place. Each line of
    `old` found in the file votes for the start its position implies, rarest lines first; when no
    line is found whole, the hunk's longest words vote the same way (a near-miss usually keeps
    its identifiers). Only the ten best-voted places are compared character by character."""
    n = max(1, len(old))
    lines = lines if isinstance(lines, _Indexed) else _Indexed(lines)
    normed, where = lines.keyed(_norm), lines.where(_norm)
    target = [_norm(x) for x in old]
    votes: dict[int, int] = {}
    budget = 20_000
    rows = sorted((len(where.get(t, ())), j, t) for j, t in enumerate(target) if t and t in where)
    for count, j, t in rows:
        if budget <= 0:
            break
        for p in where[t][:budget]:
            votes[p - j] = votes.get(p - j, 0) + 1
        budget -= count
    if not votes:
        text = "\n".join(normed)
        starts = [0]
        for t in normed[:-1]:
            starts.append(starts[-1] + len(t) + 1)
        words = sorted({(w, j) for j, t in enumerate(target) for w in re.findall(r"\w{4,}", t)}, key=lambda wj: -len(wj[0]))
        for w, j in words[:40]:
            at, hits = text.find(w), 0
            while at >= 0 and hits < 200:
                p = bisect.bisect_right(starts, at) - 1
                votes[p - j] = votes.get(p - j, 0) + 1
                at, hits = text.find(w, at + len(w)), hits + 1
    top = sorted(votes, key=lambda s0: (-votes[s0], s0))[:10]
    cand = sorted({min(max(0, s0), max(0, len(lines) - n)) for s0 in top})
    joined = "\n".join(target)
    scored = []
    for i in cand:
        if len(joined) <= 600:
            r = difflib.SequenceMatcher(None, joined, "\n".join(normed[i:i + n]), autojunk=False).ratio()
        else:          # a long hunk: the share of its lines found there, each within 3 lines of its place
            r = sum(any(0 <= i + j + d < len(normed) and normed[i + j + d] == t for d in (0, -1, 1, -2, 2, -3, 3))
                    for j, t in enumerate(target)) / n
        scored.append((r, i))
    scored.sort(key=lambda t: (-t[0], t[1]))
    return [{"line": i + 1, "similarity": round(r, 3), "text": lines[i] if i < len(lines) else ""}
            for r, i in scored[:k] if r >= 0.3]


# -- a whole file, checked after the fact ----------------------------------------------------------

def place_file(path: str, lines: list[str], hunks: list) -> tuple[list[str], list[Placement | Refusal]]:
    """Every hunk (parse.Hunk) of one file placed in order against `lines`: the new lines and one
    Placement or Refusal per hunk. A hunk that changes nothing is refused (never "applied" with an
    unchanged file). Each placement is checked before it is taken (`_check`) and again at the end
    (the result holds its new lines where it put them); a file that parsed before and no longer
    parses refuses the relaxed placements (exact ones are the model's own choice: a note)."""
    before = lines
    lines = list(lines)
    out: list[Placement | Refusal] = []
    spans: list[tuple[int, int]] = []          # where each placed hunk's new lines are now
    grown: list[tuple[int | None, int]] = []   # (stated line, lines added) of each placed hunk
    for k, h in enumerate(hunks):
        if h.error:
            out.append(Refusal(h.error))
            continue
        eol_only = h.old == h.new and h.old_no_eol != h.new_no_eol
        if h.old == h.new and not eol_only:
            out.append(Refusal("the hunk changes nothing: its old and new lines are the same"))
            continue
        # the stated line, moved by what the hunks placed above it added (hunks need not be in order)
        delta = 0 if h.line is None else sum(g for at, g in grown if at is None or at <= h.line)
        hint = None if h.line is None else max(0, h.line - 1 + delta)
        if eol_only:   # only the final newline changes: the old lines must be the file's last lines
            at = len(lines) - len(h.old)
            got = Placement(at, len(lines), list(h.new), "exact") if at >= 0 and lines[at:] == h.old else \
                Refusal("the hunk only adds or removes the final newline, and its lines are not the file's last lines",
                        closest(lines, h.old))
        else:
            got = place(lines, h.old, h.new, hint, h.anchor, spans, [x.old for x in hunks[k + 1:]],
                        [(x.old, x.new) for x in hunks[k + 1:]])
        if isinstance(got, Placement) and not eol_only:
            problem = _check(lines, got, h.old, h.new)
            got = Refusal(problem) if problem else got
        if isinstance(got, Refusal):
            if got.reason.startswith("the old text is not") and spans:
                got.reason += " (it may conflict with an earlier hunk of this file)"
            got.lines = list(lines) if got.candidates else None
            out.append(got)
            continue
        lines[got.start:got.end] = got.new
        grow = len(got.new) - (got.end - got.start)
        spans = [(s if s < got.start else s + grow, e if e <= got.start else e + grow) for s, e in spans]
        spans.append((got.start, got.start + len(got.new)))
        grown.append((h.line, grow))
        got.line = got.start + 1
        got.offset = None if h.line is None else got.start - hint
        out.append(got)
    placed = [p for p in out if isinstance(p, Placement)]
    for p, (s, e) in zip(placed, spans):      # after the fact: every placed hunk's new lines are there
        if lines[s:e] != p.new:
            out[out.index(p)] = Refusal("internal check failed: a later hunk overwrote this one's lines")
        p.ends_file = e == len(lines)
    if placed:
        _check_syntax(path, before, lines, out)
    return lines, out


def _width(s: str) -> int:
    w = 0
    for c in s:
        if c == " ":
            w += 1
        elif c == "\t":
            w += 8 - w % 8
        else:
            break
    return w


def _ranks(xs: list[str]) -> list[int]:
    """Each non-blank line's indentation as a rank among the block's indentations: equal ranks
    mean the same structure whatever the indentation unit (2 or 4 spaces, tabs)."""
    ws = [_width(x) for x in xs if x.strip()]
    order = {w: r for r, w in enumerate(sorted(set(ws)))}
    return [order[w] for w in ws]


def _only_context_cut(old: list[str], new: list[str], o: list[str], nw: list[str]) -> bool:
    """`o`/`nw` are `old`/`new` less the same lines at each edge, lines both sides keep (context)."""
    for a in range(len(old) - len(o) + 1):
        b = len(old) - len(o) - a
        if old[a:len(old) - b] == o and new[a:len(new) - b] == nw and old[:a] == new[:a] \
                and old[len(old) - b:] == new[len(new) - b:]:
            return True
    return False


def _elision_holds(old: list[str], new: list[str], p: Placement) -> bool:
    """An elided hunk: each part matched the file's lines and was replaced by its own new part, and
    the parts are the hunk's lines less its `...` lines."""
    olds, news = p.pairs[0::2], p.pairs[1::2]
    return all(list(map(_norm, w)) == list(map(_norm, f)) for w, f in p.pairs) \
        and [x for w, _ in olds for x in w] == [x for x in old if not _ELISION.match(x)] \
        and [x for w, _ in news for x in w] == [x for x in new if not _ELISION.match(x)]


def _check(lines: list[str], p: Placement, old: list[str], new: list[str]) -> str | None:
    """Why a placement must not be taken, or None: it replaces lines that are the hunk's old lines
    (as matched) with the hunk's new lines, makes exactly the hunk's change, changes the file, and
    — when matched ignoring whitespace — keeps the relative indentation of every line the model
    wrote, on the old side (the file's structure is the one the model read) and the new."""
    span = lines[p.start:p.end]
    o = old if p.old_used is None else p.old_used
    nw = new if p.new_used is None else p.new_used
    key = _norm if p.relaxed else None
    k = key or (lambda x: x)
    if p.relaxation != "elision" and ([k(x) for x in span] != [k(x) for x in o] or [k(x) for x in p.new] != [k(x) for x in nw]):
        return "internal check failed: the placed lines are not the hunk's lines"
    if span == p.new:
        return "placed, it would leave the file unchanged (its change is only whitespace the match ignored)"
    if p.relaxation == "elision":
        if not _elision_holds(old, new, p):
            return "internal check failed: the placed change is not the hunk's change"
    elif p.old_used is not None and not _only_context_cut(old, new, o, nw):
        return "internal check failed: more than context lines were left out"
    for idx, (written, placed) in enumerate(p.pairs):     # (old, file), (new, result), ...
        if _ranks(written) != _ranks(placed):
            side = "new" if idx % 2 else "old"
            return (f"the hunk matches only with different indentation, and its {side} lines' relative indentation "
                    f"differs from the file's ({p.relaxation} match at line {p.start + 1}): it would change the "
                    f"structure the model wrote")
    return None


def _syntax_error(path: str, lines: list[str]) -> tuple[str, int] | None:
    """(language, 1-based line of the first error) when the file does not parse; None when it
    parses or has no grammar. Uses the indexer's own parsers (repoctx.parse)."""
    from repoctx.parse.languages import get_parser, language_for_file
    data = "\n".join(lines).encode("utf-8", "surrogateescape") + b"\n"
    language = language_for_file(path, data)
    if language is None:
        return None
    try:
        node = get_parser(language).parse(data).root_node
    except Exception:  # noqa: BLE001 — a grammar that cannot load checks nothing
        return None
    if not node.has_error:
        return None
    while True:
        bad = next((c for c in node.children if c.is_error or c.is_missing), None)
        if bad is not None:
            return language, bad.start_point[0] + 1
        inner = next((c for c in node.children if c.has_error), None)
        if inner is None:
            return language, node.start_point[0] + 1
        node = inner


def _check_syntax(path: str, before: list[str], after: list[str], out: list) -> None:
    err = _syntax_error(path, after)
    if err is None or _syntax_error(path, before) is not None:
        return
    language, line = err
    relaxed = [k for k, p in enumerate(out) if isinstance(p, Placement) and p.relaxed]
    for k in relaxed:
        p = out[k]
        out[k] = Refusal(f"placed by a relaxed match ({p.relaxation}, line {p.start + 1}), the file would no longer "
                         f"parse as {language} (error at line {line}); refused rather than guess its structure")
    if not relaxed:
        last = min((k for k, p in enumerate(out) if isinstance(p, Placement)), key=lambda k: abs(out[k].start + 1 - line))
        p = out[last]
        p.note = ((p.note + "; ") if p.note else "") + \
            f"the file no longer parses as {language} (error at line {line}); applied as the patch wrote it"
