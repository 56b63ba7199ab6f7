"""Report: the figures of a run as a table."""
from __future__ import annotations


def _size(n: int) -> str:
    return f"{n // 1000}k" if n % 1000 == 0 else str(n)


def format_eval(result: dict) -> str:
    """The figures as a table, one row per packer and budget (with a task file: one table over all
    tasks, then one per repository)."""
    tasks = result["tasks"]
    load = sum(t["load_seconds"] for t in tasks) / max(len(tasks), 1)
    if "task_file" in result:
        out = [f"repoctx eval: {result['task_file']}, {len(tasks)} tasks, {result['encoding']}, "
               f"load {load:.2f}s per state", ""]
        out += _table(result["summary"])
        for name, part in result["by_repository"].items():
            out += ["", f"{name} ({part['tasks']} tasks, {part['path']})", ""] + _table(part["summary"])
    else:
        out = [f"repoctx eval: {result['repository']} at {result['head'][:12]}, {len(tasks)} tasks "
               f"(of {result['commits_requested']} asked), {result['encoding']}, load {load:.2f}s per state",
               ""] + _table(result["summary"])
    out.append("")
    out.append("file hit: a changed file is in the pack; all hit: every changed file is; line recall: share of "
               "changed lines in the pack; slivers: share of spans (in files not packed whole) of 1-2 lines; markers: share "
               "of tokens spent on elision markers; s/pack includes building the packer's in-memory index.")
    return "\n".join(out) + "\n"


def _table(summary: list[dict]) -> list[str]:
    out = [f"{'packer':<14} {'budget':>6}  {'file hit':>8}  {'all hit':>7}  {'line recall':>11}  "
           f"{'slivers':>7}  {'markers':>7}  {'mean tokens':>11}  {'s/pack':>6}"]
    for r in summary:
        note = []
        if r["over_budget"]:
            note.append(f"{r['over_budget']} over budget")
        if r["errors"]:
            note.append(f"{r['errors']} errors")
        out.append(f"{r['packer']:<14} {_size(r['budget']):>6}  {r['file_hit']:>8.2f}  {r['all_hit']:>7.2f}  "
                   f"{r['line_recall']:>11.2f}  {r['slivers']:>7.0%}  {r['markers']:>7.1%}  {r['tokens']:>11,.0f}  {r['seconds']:>6.2f}"
                   + (f"  ({', '.join(note)})" if note else ""))
    return out
