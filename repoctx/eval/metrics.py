"""Metrics: file hit, all-files hit and line recall of a pack against a task's gold, and its shape
(what share of its spans are 1-2 line slivers, what share of its tokens are elision markers)."""
from __future__ import annotations

import re
import time

from repoctx.eval.baselines import PackFn
from repoctx.eval.tasks import Task
from repoctx.model import PackResult
from repoctx.tokens import count


def score_pack(task: Task, result: PackResult) -> dict:
    """File hit, all-files hit and line recall of one pack against a task's gold."""
    spans = {f.path: [tuple(s) for s in f.spans] for f in result.files}
    hit_files = set(task.gold) & set(spans)
    total = sum(len(lines) for lines in task.gold.values())
    covered = sum(1 for path, lines in task.gold.items() for n in lines
                  if any(a <= n <= b for a, b in spans.get(path, ())))
    return {"file_hit": bool(hit_files), "all_hit": hit_files == set(task.gold),
            "line_recall": covered / total if total else 0.0}


#: An elision marker line as `render.elision_marker` writes it, in any comment syntax.
MARKER = re.compile(r"^.*\.\.\. lines? \d+(?:-\d+)? elided.*$", re.M)


def shape(result: PackResult, enc) -> dict:
    """Slivers: the share of the pack's spans (in files not packed whole) that are 1-2 lines long;
    markers: the share of the pack's tokens that its elision-marker lines take."""
    spans = [b - a + 1 for f in result.files if not f.whole for a, b in f.spans]
    markers = MARKER.findall(result.text)
    marker_tokens = sum(count(m + "\n", enc) for m in markers)
    return {"slivers": sum(n <= 2 for n in spans) / len(spans) if spans else 0.0,
            "markers": marker_tokens / max(1, result.tokens)}


def _measure(task: Task, pack: PackFn | None, setup_seconds: float, budget: int, enc, error: str | None) -> dict:
    """One pack of one task: its scores, exact tokens (recounted) and seconds (packer setup + pack)."""
    row = {"budget": budget, "file_hit": False, "all_hit": False, "line_recall": 0.0, "slivers": 0.0,
           "markers": 0.0, "tokens": 0,
           "seconds": setup_seconds, "over_budget": False, "error": error}
    if pack is None:
        return row
    start = time.perf_counter()
    try:
        result = pack(task.query, budget)
    except Exception as exc:  # a failing packer is a miss, reported, not the end of the run
        row["error"] = f"{type(exc).__name__}: {exc}"
        return row
    row["seconds"] = setup_seconds + time.perf_counter() - start
    tokens = count(result.text, enc)
    row.update(score_pack(task, result), **shape(result, enc), tokens=tokens, over_budget=tokens > budget)
    return row


def summarize(tasks: list[dict], names: list[str], budgets: tuple[int, ...]) -> list[dict]:
    """Means over tasks per packer and budget."""
    rows = []
    for name in names:
        for budget in budgets:
            runs = [r for t in tasks for r in t["results"][name] if r["budget"] == budget]
            n = len(runs) or 1
            rows.append({"packer": name, "budget": budget, "packs": len(runs),
                         **{k: sum(r[k] for r in runs) / n
                            for k in ("file_hit", "all_hit", "line_recall", "slivers", "markers", "tokens", "seconds")},
                         "over_budget": sum(r["over_budget"] for r in runs),
                         "errors": sum(r["error"] is not None for r in runs)})
    return rows


