"""Benchmark: pack latency, and whole-repository packing against Repomix in the same run.

    python bench/pack_speed.py [REPO ...]    # default: the Django sdist repo of bench/index_speed.py

For each repository: a warm `repoctx pack --query` at 32k (target: under 2 s on ~3,000 files), and a
whole-repository pack (`--mode whole --budget 100m`, index warm and cold) next to Repomix 1.x's default
pack of the same folder (median of 3 runs each). Repomix comes from npm into a cache folder
($TMPDIR/repoctx-bench/repomix) the first time. Prints figures; it does not pass or fail.
"""
from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from index_speed import CACHE, django_repo  # noqa: E402

QUERY = "QuerySet.bulk_create ignores the batch_size argument when the database supports returning rows"
RUNS = 3


def repomix() -> list[str]:
    prefix = CACHE / "repomix"
    exe = prefix / "node_modules" / ".bin" / "repomix"
    if not exe.exists():
        prefix.mkdir(parents=True, exist_ok=True)
        subprocess.run(["npm", "install", "--silent", "--prefix", str(prefix), "repomix@1"], check=True)
    return [str(exe)]


def timed(cmd: list[str], **kw) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, **kw)
    return time.perf_counter() - start


def median_of(cmd: list[str], runs: int = RUNS, before=None, **kw) -> float:
    times = []
    for _ in range(runs):
        if before:
            before()
        times.append(timed(cmd, **kw))
    return statistics.median(times)


def bench(repo: Path) -> None:
    out = Path(tempfile.mkdtemp())
    index = out / "index.sqlite"
    rc = [sys.executable, "-m", "repoctx"]
    env = {**os.environ, "REPOCTX_INDEX": str(index)}
    timed(rc + ["index", str(repo)], env=env)
    query = median_of(rc + ["pack", str(repo), "--query", QUERY, "--budget", "32k", "-o", str(out / "q.xml")], env=env)
    whole_warm = median_of(rc + ["pack", str(repo), "--mode", "whole", "--budget", "100m", "-o", str(out / "w.xml")], env=env)
    whole_cold = median_of(rc + ["pack", str(repo), "--mode", "whole", "--budget", "100m", "-o", str(out / "w.xml")],
                           before=lambda: index.unlink(missing_ok=True), env=env)
    rmx = median_of(repomix() + [str(repo), "-o", str(out / "r.xml"), "--quiet"], cwd=out)
    print(f"{repo}")
    print(f"  repoctx pack --query (32k, warm index):      {query:6.2f} s")
    print(f"  repoctx pack --mode whole (warm index):      {whole_warm:6.2f} s")
    print(f"  repoctx pack --mode whole (cold index):      {whole_cold:6.2f} s")
    print(f"  repomix default pack:                        {rmx:6.2f} s   (median of {RUNS})")
    shutil.rmtree(out)


def main() -> None:
    repos = [Path(p) for p in sys.argv[1:]] or [django_repo()]
    for repo in repos:
        bench(repo)


if __name__ == "__main__":
    main()
