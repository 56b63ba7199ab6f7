"""How many of a change's own test edits `repoctx impact` foresees, on real history.

For the newest commits of each repository that change both non-test source files and test files
that already existed (as `repoctx eval` mines them: descriptive message, 1-4 source files), the
commit's non-test files are put over its parent in a temporary worktree, and `impact` is asked about
that work-tree change. Gold: the test files the commit modified. Reported per repository: recall
(the share of gold test files that impact named, micro over all gold files and macro per commit),
commits with every gold file named, and how many test files and test definitions it named (median,
mean), against the repository's test file count.

    nice -n 10 python bench/impact_recall.py /tmp/bench-repos/requests /tmp/bench-repos/gin \
        /tmp/bench-repos/express --commits 30
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time

from repoctx.eval.tasks import _git, _parse_name_status, candidates, checkout_state, detached_worktree, is_source_path
from repoctx.impact import change_impact
from repoctx.index.load import load_repository
from repoctx.pack.packer import NoChange
from repoctx.scan import ScanOptions, is_test_path


def commits_with_tests(root: str, n: int) -> list[tuple[str, str, list[str], list[tuple[str, str | None]]]]:
    """(commit, parent, modified test files, changed non-test files as (status, path)) of the newest
    `n` candidate commits that also modify an existing test source file."""
    out = []
    for c in candidates(root):
        files = _parse_name_status(_git(root, "show", "--no-color", "--name-status", "-M", "--format=", c.commit))
        tests = [old for status, old, new in files if status == "M" and is_test_path(old) and is_source_path(old)]
        rest = []  # (status, path): "D" to remove, else the commit's version to put in place
        for status, old, new in files:
            if old and not is_test_path(old) and (status == "D" or (status == "R" and old != new)):
                rest.append(("D", old))
            if new and not is_test_path(new):
                rest.append(("A" if status in "AR" else "M", new))
        if tests:
            out.append((c.commit, c.parent, tests, rest))
        if len(out) >= n:
            break
    return out


def measure(root: str, n: int, index: str) -> dict:
    picked = commits_with_tests(root, n)
    rows = []
    with detached_worktree(root, picked[0][1] if picked else "HEAD") as wt:
        for commit, parent, gold, rest in picked:
            checkout_state(wt, parent)
            for status, path in rest:  # the commit's non-test files over its parent, test files as they were
                if status == "D":
                    _git(wt, "rm", "-q", "--cached", "--ignore-unmatch", "--", path)
                    if os.path.exists(os.path.join(wt, path)):
                        os.unlink(os.path.join(wt, path))
                else:
                    _git(wt, "checkout", commit, "--", path)
                    _git(wt, "reset", "-q", "--", path)  # in the work tree, not staged: a worktree change
                    if status == "A":
                        _git(wt, "add", "-N", "--", path)
            t0 = time.perf_counter()
            repo = load_repository(wt, ScanOptions(), index_path=index)
            try:
                imp = change_impact(repo)
            except NoChange:
                continue
            seconds = time.perf_counter() - t0
            named = set(imp.test_files)
            hit = [g for g in gold if g in named]
            rows.append({"commit": commit[:10], "gold": len(gold), "hit": len(hit), "files": len(named),
                         "tests": len(imp.tests), "seconds": seconds,
                         "all_tests": sum(is_test_path(p) for p in repo.files)})
            _git(wt, "reset", "-q", "--hard")
            _git(wt, "clean", "-q", "-fd")
    if not rows:
        return {"commits": 0}
    gold = sum(r["gold"] for r in rows)
    return {"commits": len(rows), "gold_files": gold,
            "recall": sum(r["hit"] for r in rows) / gold,
            "recall_macro": statistics.mean(r["hit"] / r["gold"] for r in rows),
            "all_named": sum(r["hit"] == r["gold"] for r in rows) / len(rows),
            "files_named_median": statistics.median(r["files"] for r in rows),
            "files_named_mean": statistics.mean(r["files"] for r in rows),
            "test_files_in_repo": rows[-1]["all_tests"],
            "tests_named_median": statistics.median(r["tests"] for r in rows),
            "tests_named_mean": statistics.mean(r["tests"] for r in rows),
            "seconds_median": statistics.median(r["seconds"] for r in rows), "rows": rows}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("repos", nargs="+")
    ap.add_argument("--commits", type=int, default=30)
    ap.add_argument("--verbose", action="store_true")
    args = ap.parse_args()
    for root in args.repos:
        with tempfile.TemporaryDirectory() as tmp:
            m = measure(root, args.commits, os.path.join(tmp, "index.sqlite"))
        name = os.path.basename(os.path.normpath(root))
        if not m["commits"]:
            print(f"{name}: no commit qualifies")
            continue
        print(f"{name}: {m['commits']} commits, {m['gold_files']} test files changed; recall {m['recall']:.0%} "
              f"(per commit {m['recall_macro']:.0%}), all named in {m['all_named']:.0%}; test files named "
              f"median {m['files_named_median']:g} / mean {m['files_named_mean']:.1f} of {m['test_files_in_repo']}; "
              f"test definitions named median {m['tests_named_median']:g} / mean {m['tests_named_mean']:.1f}; "
              f"{m['seconds_median']:.2f} s per commit (load + impact, median)")
        if args.verbose:
            for r in m["rows"]:
                print(f"  {r['commit']} gold {r['gold']} hit {r['hit']} files {r['files']} tests {r['tests']}")
        sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
