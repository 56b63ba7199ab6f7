"""`repoctx eval --tasks` on a fixed subset of a task file, optionally with repoctx's packer only.

    python bench/eval_run.py --every 6 --tasks ../shared/mswe-dev/tasks.jsonl --repos-from /tmp/bench-repos \
        [--repoctx-only] -o OUT.json

The subset: in each repository's tasks (file order), the first and every k-th after it (i % k == 0),
a rule that names no repository. --repoctx-only skips the two BM25 baselines (they do not depend on
repoctx's ranking, so an "after" run can take them from the "before" run). --repos-from DIR: each
`owner/name` is the clone DIR/owner+name.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from collections import defaultdict

from repoctx.eval import run as eval_run


def subset(task_file: str, every: int) -> list[str]:
    by_repo: dict[str, list[str]] = defaultdict(list)
    out = []
    with open(task_file, encoding="utf-8") as f:
        for line in f:
            if line.strip():
                t = json.loads(line)
                key = t.get("github") or t.get("repo") or ""
                if len(by_repo[key]) % every == 0:
                    out.append(line if line.endswith("\n") else line + "\n")
                by_repo[key].append(line)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--tasks", required=True)
    ap.add_argument("--every", type=int, default=1)
    ap.add_argument("--repos-from", required=True)
    ap.add_argument("--repoctx-only", action="store_true")
    ap.add_argument("-o", "--out", required=True)
    a = ap.parse_args()
    lines = subset(a.tasks, a.every)
    repos = {}
    for line in lines:
        g = json.loads(line)["github"]
        repos[g] = os.path.join(a.repos_from, g.replace("/", "+"))
    if a.repoctx_only:
        full = eval_run.packers
        eval_run.packers = lambda: {"repoctx": full()["repoctx"]}
    with tempfile.NamedTemporaryFile("w", suffix=".jsonl", delete=False) as f:
        f.writelines(lines)
    try:
        result = eval_run.run_task_file(f.name, repos=repos,
                                        progress=lambda k, n: print(f"{k}/{n}", file=sys.stderr, flush=True))
    finally:
        os.unlink(f.name)
    with open(a.out, "w", encoding="utf-8") as out:
        json.dump(result, out)


if __name__ == "__main__":
    main()
