"""Per-language and per-repository figures from `repoctx eval --tasks … --json` output.

`repoctx eval` prints one table over all tasks and one per repository; the issue sets are judged per
language too, so this groups the per-task rows of one or more JSON outputs by the `language` field of
the task files (a task without one counts as Python, like ../shared/swe-dev) and prints, per group,
packer and budget: file hit, all-files hit, line recall, slivers (share of 1-2 line spans) and
markers (share of tokens on elision markers).

    python bench/eval_langs.py --tasks ../shared/mswe-dev/tasks.jsonl --tasks ../shared/swe-dev/tasks.jsonl \
        /tmp/eval/before-mswe.json /tmp/eval/before-swe.json [--compare after-mswe.json after-swe.json]

With --compare, the figures of the second set of outputs are printed beside the first (before → after).
"""
from __future__ import annotations

import argparse
import json
from collections import defaultdict

KEYS = ("file_hit", "all_hit", "line_recall", "slivers", "markers")


def languages(task_files: list[str]) -> dict[str, str]:
    """Task id → language."""
    out = {}
    for path in task_files:
        with open(path, encoding="utf-8") as f:
            for line in f:
                if line.strip():
                    t = json.loads(line)
                    out[t["id"]] = t.get("language") or "Python"
    return out


def rows(outputs: list[str]) -> list[dict]:
    tasks = []
    for path in outputs:
        with open(path, encoding="utf-8") as f:
            tasks += json.load(f)["tasks"]
    return tasks


def table(tasks: list[dict], lang: dict[str, str], packers: list[str]) -> dict:
    """{(group, packer, budget): {key: mean, "n": tasks}}; groups: ALL, each language, each repository.
    Line recall skips tasks whose gold has no line (recall undefined)."""
    groups: dict[str, list[dict]] = defaultdict(list)
    for t in tasks:
        groups["ALL"].append(t)
        groups["lang:" + lang.get(t["commit"], "?")].append(t)
        groups["repo:" + (t["repository"] or "?")].append(t)
    out = {}
    for g, ts in groups.items():
        for p in packers:
            by_budget: dict[int, list[dict]] = defaultdict(list)
            for t in ts:
                for r in t["results"].get(p, ()):
                    by_budget[r["budget"]].append(r)
            for b, rs in by_budget.items():
                out[(g, p, b)] = {k: sum(r[k] for r in rs) / len(rs) for k in KEYS} | {"n": len(rs)}
    return out


def markdown(before: dict, after: dict) -> str:
    """One row per group and budget: repoctx's file hit / all-files hit / line recall (before → after
    when `after` is given), the two BM25 baselines' line recall (from `before`), slivers and markers."""
    groups = sorted({g for g, _, _ in before}, key=lambda g: (g != "ALL", not g.startswith("lang:"), g.lower()))
    budgets = sorted({b for _, _, b in before})
    out = ["| group | n | budget | file hit | all-files hit | line recall | BM25 files | BM25 windows | slivers | markers |",
           "|---|---:|---|---|---|---|---:|---:|---|---|"]

    def cell(k, key, fmt="{:.2f}"):
        x = before.get(k, {}).get(key)
        y = after.get(k, {}).get(key) if after else None
        if x is None:
            return "–"
        return fmt.format(x) + (" → " + fmt.format(y) if y is not None else "")

    for g in groups:
        for b in budgets:
            k = (g, "repoctx", b)
            if k not in before:
                continue
            name = g.split(":", 1)[-1]
            out.append(f"| {name} | {before[k]['n']} | {b // 1000}k | {cell(k, 'file_hit')} | {cell(k, 'all_hit')} | "
                       f"{cell(k, 'line_recall', '{:.3f}')} | {cell((g, 'bm25-files', b), 'line_recall', '{:.3f}').split(' ')[0]} | "
                       f"{cell((g, 'bm25-windows', b), 'line_recall', '{:.3f}').split(' ')[0]} | "
                       f"{cell(k, 'slivers', '{:.0%}')} | {cell(k, 'markers', '{:.1%}')} |")
    return "\n".join(out)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("outputs", nargs="+")
    ap.add_argument("--tasks", action="append", default=[])
    ap.add_argument("--compare", nargs="+", default=[])
    ap.add_argument("--packers", default="repoctx,bm25-files,bm25-windows")
    ap.add_argument("--markdown", action="store_true", help="one Markdown table (line recall, file/all hit)")
    a = ap.parse_args()
    lang = languages(a.tasks)
    packers = a.packers.split(",")
    before = table(rows(a.outputs), lang, packers)
    after = table(rows(a.compare), lang, packers) if a.compare else {}
    if a.markdown:
        print(markdown(before, after))
        return
    keys = sorted(before, key=lambda k: (k[0] != "ALL", not k[0].startswith("lang:"), k[0], packers.index(k[1]), k[2]))
    for g, p, b in keys:
        x, y = before[(g, p, b)], after.get((g, p, b))
        if y is None and a.compare and p == "repoctx":
            continue
        cells = []
        for k in KEYS:
            cell = f"{x[k]:.3f}"
            if y is not None:
                cell += f"→{y[k]:.3f}"
            cells.append(f"{k}={cell}")
        print(f"{g:<30} n={x['n']:<3} {p:<12} {b // 1000:>3}k  " + "  ".join(cells))


if __name__ == "__main__":
    main()
