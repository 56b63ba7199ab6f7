"""The per-hunk report of an apply plan, as a person reads it."""
from __future__ import annotations

from repoctx.apply.apply import Plan


def format_plan(p: Plan, written: list[str], check: bool = False) -> str:
    out = []
    for h in p.hunks:
        if h.applied:
            where = f"line {h.line}" if h.line else ""
            off = f", offset {h.offset:+d}" if h.offset else ""
            out.append(f"{h.path}: hunk {h.index} applied {where}{off} ({h.relaxation})".replace("  ", " "))
        else:
            out.append(f"{h.path}: hunk {h.index} REFUSED: {h.reason}")
            for c in h.candidates:
                out.append(f"    closest: line {c['line']} (similarity {c['similarity']:.2f}): {c['text'].strip()[:80]}")
    n_ok = sum(h.applied for h in p.hunks)
    total = len(p.hunks)
    if check:
        verdict = "check only, nothing written"
    elif written:
        verdict = "wrote " + ", ".join(written)
    else:
        verdict = "nothing written"
    out.append(f"repoctx: {n_ok}/{total} hunks placed; {verdict}")
    return "\n".join(out) + "\n"
