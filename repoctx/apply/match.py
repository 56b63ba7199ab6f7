"""Place one hunk in a file's current lines, by a ladder of relaxations, each of which must find
exactly one place: exact at the stated line; exact elsewhere; ignoring whitespace and indentation
(the replacement is re-indented to the file); with up to three context lines trimmed from each edge;
with `...` elisions in the old text treated as gaps. Otherwise the hunk is refused with the reason
and the closest candidate places and their similarity."""
from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field

_ELISION = re.compile(r"^\s*(?:(?:#|//|/\*|--|;)\s*)?(?:\.\.\.|…)(?:.*(?:unchanged|rest|existing|same|omitted|more).*)?\s*(?:\*/)?\s*$"
                      r"|^\s*(?:#|//|/\*)\s*\.{0,3}\s*(?:rest|remainder|existing code|the rest)\b.*unchanged.*$", re.I)


@dataclass
class Placement:
    start: int                 # 0-based index of the first replaced line in the current text
    end: int                   # exclusive
    new: list[str]             # the lines that replace them
    relaxation: str            # exact | offset | whitespace | trimmed | elision


@dataclass
class Refusal:
    reason: str
    candidates: list[dict] = field(default_factory=list)   # {line, similarity, text}


def _norm(s: str) -> str:
    return " ".join(s.split())


def _find(lines: list[str], old: list[str], key=None) -> list[int]:
    n = len(old)
    if n == 0 or n > len(lines):
        return []
    if key:
        hay = [key(x) for x in lines]
        needle = [key(x) for x in old]
    else:
        hay, needle = lines, old
    first = needle[0]
    return [i for i in range(len(hay) - n + 1) if hay[i] == first and hay[i:i + n] == needle]


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


def place(lines: list[str], old: list[str], new: list[str], hint: int | None = None,
          anchor: str | None = None, blocked: list[tuple[int, int]] = (), later: list[list[str]] = ()) -> Placement | Refusal:
    """Where `old` goes in `lines` (`hint`: the 0-based stated place, already shifted by earlier
    hunks). `blocked`: spans earlier hunks wrote, which a later hunk may not overlap. `twins`: how
    many hunks still to place (this one included) have this same old text: when they match exactly
    that many places, they go there in order, one each."""
    if not old:
        if hint is not None and 0 <= hint <= len(lines):
            return Placement(hint, hint, list(new), "exact")
        if not lines:
            return Placement(0, 0, list(new), "exact")
        return Refusal("the hunk has no context lines to place it by")
    floor = scope = 0
    if anchor:   # apply_patch `@@ def f`: the first match after that (unique) line
        at = [i for i, ln in enumerate(lines) if _norm(ln) == _norm(anchor)] or \
             [i for i, ln in enumerate(lines) if _norm(anchor) in _norm(ln)]
        if len(at) != 1:
            return Refusal(f"the @@ anchor {anchor!r} matches {len(at)} lines", closest(lines, [anchor]))
        floor, scope = at[0] + 1, _block_end(lines, at[0])

    def ok(i: int, n: int) -> bool:
        return i >= floor and not any(i < e and s < i + n or (n == 0 and s <= i < e) for s, e in blocked)

    n = len(old)
    if hint is not None and lines[hint:hint + n] == old and ok(hint, n):
        return Placement(hint, hint + n, _merge(lines[hint:hint + n], old, new, False), "exact")
    ladder = [("offset", None), ("whitespace", _norm)]
    ambiguous: list[tuple[str, list[int]]] = []
    for name, key in ladder:
        found = [i for i in _find(lines, old, key) if ok(i, n)]
        if len(found) == 1:
            i = found[0]
            return Placement(i, i + n, _merge(lines[i:i + n], old, new, key is not None), name)
        if len(found) > 1 and len(found) == _twins(old, later):
            i = found[0]
            return Placement(i, i + n, _merge(lines[i:i + n], old, new, key is not None), name + ", in order")
        if len(found) > 1 and floor:
            inside = [i for i in found if i < scope]
            if len(inside) <= 1:   # the one inside the anchor's block, or the first after a landmark line
                i = (inside or found)[0]
                return Placement(i, i + n, _merge(lines[i:i + n], old, new, key is not None), name + ", after the @@ line")
        if len(found) > 1:
            ambiguous.append((name, found))
            break
    if not ambiguous and any(_ELISION.match(x) for x in old):
        got = _elided(lines, old, new, ok)
        if isinstance(got, Placement):
            return got
        return Refusal(got, closest(lines, old))
    if not ambiguous:
        got = _trimmed(lines, old, new, ok, later)
        if isinstance(got, Placement):
            return got
        if got:
            ambiguous.append(("trimmed", got))
    if ambiguous:
        name, found = ambiguous[0]
        where = ", ".join(str(i + 1) for i in found[:8])
        return Refusal(f"ambiguous: the old text matches {len(found)} places ({name}) at lines {where}",
                       [{"line": i + 1, "similarity": 1.0, "text": lines[i]} for i in found[:3]])
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


def _trimmed(lines, old, new, ok, later=()):
    sm = difflib.SequenceMatcher(None, old, new, autojunk=False)
    ops = sm.get_opcodes()
    lead = ops[0][2] - ops[0][1] if ops and ops[0][0] == "equal" else 0
    trail = ops[-1][2] - ops[-1][1] if ops and ops[-1][0] == "equal" and len(ops) > 1 else 0
    for k in range(1, 4):
        for a, b in ((min(k, lead), 0), (0, min(k, trail)), (min(k, lead), min(k, trail))):
            if (a, b) == (0, 0) or a + b >= len(old) or a > lead or b > trail:
                continue
            o = old[a:len(old) - b]
            nw = new[a:len(new) - b]
            if not [x for x in o if x.strip()]:
                continue
            for key in (None, _norm):
                found = [i for i in _find(lines, o, key) if ok(i, len(o))]
                if len(found) == 1 or len(found) == _twins(o, later) > 1:
                    i = found[0]
                    return Placement(i, i + len(o), _merge(lines[i:i + len(o)], o, nw, key is not None), "trimmed")
                if len(found) > 1:
                    return found
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
        found = [j for j in _find(lines[:limit], segs[k], _norm)] if segs[k] else [limit]
        if not found:
            return "a part of the elided hunk is not in the file"
        spans[k] = (found[-1], found[-1] + len(segs[k]))
    for k in range(pin + 1, len(segs)):
        pos = spans[k - 1][1]
        found = _find(lines[pos:], segs[k], _norm) if segs[k] else [0]
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
    for k, seg in enumerate(segs):
        s, e = spans[k]
        out.extend(_merge(lines[s:e], seg, new_parts[k], True))
        if k + 1 < len(segs):
            out.extend(lines[e:spans[k + 1][0]])
    return Placement(start, end, out, "elision")


def closest(lines: list[str], old: list[str], k: int = 3) -> list[dict]:
    """The `k` places most like `old` (line, similarity 0..1, the first line there)."""
    n = max(1, len(old))
    target = "\n".join(_norm(x) for x in old)
    normed = [_norm(x) for x in lines]
    scored = []
    for i in range(0, max(1, len(lines) - n + 1)):
        sm = difflib.SequenceMatcher(None, target, "\n".join(normed[i:i + n]), autojunk=False)
        if sm.real_quick_ratio() < 0.3 or sm.quick_ratio() < 0.3:
            continue
        scored.append((sm.ratio(), i))
        if len(scored) > 2000:
            break
    scored.sort(key=lambda t: (-t[0], t[1]))
    return [{"line": i + 1, "similarity": round(r, 3), "text": lines[i] if i < len(lines) else ""} for r, i in scored[:k]]
