"""The report of an apply, as a person reads it: one line per hunk or file operation saying what
happened to it, then one line saying exactly what was written, deleted and renamed (or, for a check
or a refused edit, that nothing was). A hunk is "applied" only when its file was written; a check
says "would apply". Every path is shown through render.shown_path (a name with a control, a line
separator, a bidi override or bytes that are not UTF-8 reads as one quoted line, as git quotes it)."""
from __future__ import annotations

from repoctx.apply.apply import HunkResult, Plan, Written
from repoctx.render import shown_path as _p

#: How each way of finding a hunk's place reads in a sentence (unknown ones are shown as they are).
_HOW = {
    "exact": "",
    "offset": "",
    "whitespace": "matched ignoring whitespace; re-indented to the file",
    "trimmed": "context lines not in the file were left out",
    "elision": "its `...` gaps kept as they are in the file",
    "new file": "",
}


def _how(relaxation: str | None) -> str:
    if not relaxation:
        return ""
    head, _, tail = relaxation.partition(", ")
    words = _HOW.get(head, head)
    return ", ".join(w for w in (words, tail) if w)


def _hunk_line(h: HunkResult, done: bool) -> str:
    text = f"{_p(h.path)}: hunk {h.index} {'applied' if done else 'would apply'}" + (f" at line {h.line}" if h.line else "")
    if h.offset:
        n = abs(h.offset)
        text += f", {n} line{'s' if n != 1 else ''} {'below' if h.offset > 0 else 'above'} where the patch said"
    how = "; ".join(x for x in (_how(h.relaxation), h.note) if x)
    return text + (f" ({how})" if how else "")


def _op_line(h: HunkResult, done: bool) -> str:
    if h.op == "create":
        return f"created {_p(h.path)}" if done else f"would create {_p(h.path)}"
    if h.op == "delete":
        return f"deleted {_p(h.path)}" if done else f"would delete {_p(h.path)}"
    if h.op == "rename":
        new = (h.relaxation or "").removeprefix("renamed to ")
        return f"renamed {_p(h.path)} -> {_p(new)}" if done else f"would rename {_p(h.path)} -> {_p(new)}"
    mode = (h.relaxation or "").removeprefix("mode ")
    what = "executable" if mode == "100755" else "not executable"
    return f"made {_p(h.path)} {what} ({mode})" if done else f"would make {_p(h.path)} {what} ({mode})"


def _summary(w: Written, would: bool = False) -> list[str]:
    verb = (lambda v, s: f"would {v}") if would else (lambda v, s: s)
    out = []
    if w.written:
        out.append(f"{verb('write', 'wrote')} " + ", ".join(map(_p, w.written)))
    if w.deleted:
        out.append(f"{verb('delete', 'deleted')} " + ", ".join(map(_p, w.deleted)))
    if w.renamed:
        out.append(f"{verb('rename', 'renamed')} " + ", ".join(f"{_p(a)} -> {_p(b)}" for a, b in w.renamed))
    if w.modes:
        out.append(f"{verb('set mode', 'set mode')} " + ", ".join(f"{m} on {_p(p)}" for p, m in w.modes))
    return out


def format_plan(p: Plan, written: Written | None = None, check: bool = False) -> str:
    """The report of `p`; `written` is what `write` changed (None or empty: nothing was)."""
    written = written or Written()
    touched = set(written.written) | set(written.deleted) | {a for a, _ in written.renamed} | \
        {p_ for p_, _ in written.modes}
    out = []
    refused_files: dict[str, str] = {}
    for h in p.hunks:
        if h.applied:
            done = not check and h.path in touched
            out.append(_op_line(h, done) if h.op else _hunk_line(h, done))
            continue
        # a refusal of the whole file (its path, its kind, what is on disk) is said once, not per hunk
        if h.op == "file":
            if refused_files.get(h.path) != h.reason:
                refused_files[h.path] = h.reason
                out.append(f"{_p(h.path)}: REFUSED: {h.reason}")
            continue
        out.append(f"{_p(h.path)}: hunk {h.index} REFUSED: {h.reason}")
        for c in h.candidates:
            out.append(f"    closest: line {c['line']} (similarity {c['similarity']:.2f}): {c['text'].strip()[:80]}")
    n_ok = sum(h.applied for h in p.hunks)
    if check:
        verdict = "; ".join(["check only, nothing written", *(_summary(p.changes(), would=True) if p.ok else [])])
    elif written:
        verdict = "; ".join(_summary(written))
    else:
        verdict = "nothing written"
    out.append(f"repoctx: {n_ok}/{len(p.hunks)} hunks placed; {verdict}")
    return "\n".join(out) + "\n"
