"""What secret redaction adds to a whole-repository pack, cold and warm.

    python bench/secret_overhead.py REPO [RUNS]

Alternates `repoctx pack REPO --mode whole` with and without `--no-redact`, each time on a fresh
index in a new temporary folder (cold: parse, count, scan everything), then once more on that index
(warm: the secret findings come from the cache). Prints the medians and the overhead (issue 6's
target: at most 20% cold, nearly nothing warm).
"""
from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time


def run(repo: str, index: str, redact: bool) -> float:
    cmd = [sys.executable, "-m", "repoctx", "pack", repo, "--mode", "whole", "--budget", "100m",
           "--index", index, "-o", os.devnull] + ([] if redact else ["--no-redact"])
    t = time.perf_counter()
    subprocess.run(cmd, capture_output=True, check=True)
    return time.perf_counter() - t


def main() -> None:
    repo = sys.argv[1]
    runs = int(sys.argv[2]) if len(sys.argv) > 2 else 5
    cold: dict[bool, list[float]] = {True: [], False: []}
    warm: dict[bool, list[float]] = {True: [], False: []}
    for _ in range(runs):
        for redact in (True, False):
            with tempfile.TemporaryDirectory() as tmp:
                index = os.path.join(tmp, "index.sqlite")
                cold[redact].append(run(repo, index, redact))
                warm[redact].append(run(repo, index, redact))
    for name, figures in (("cold", cold), ("warm", warm)):
        on, off = statistics.median(figures[True]), statistics.median(figures[False])
        print(f"{os.path.basename(os.path.abspath(repo))} {name}: redact {on:.2f} s, --no-redact {off:.2f} s "
              f"(medians of {runs}): {100 * (on / off - 1):+.0f}%")


if __name__ == "__main__":
    main()
