"""A sample of repoctx's references for checking by hand, where no reference tool runs (Go here:
gopls needs a newer Go than the machine has).

    python bench/refs_vs_hand.py REPO --index-dir /tmp/NEW_FOLDER [--ext .go] [--n 50] [--seed 1]

Draws --n (definition, line) pairs at random (seeded) from the references repoctx gives
(refs_vs_jedi.repoctx_refs, what `symbol_references` lists) to the functions and methods of the
repository's files ending in --ext, and prints each as a block: the definition (path:line and
signature) and the using line with the lines around it, numbered. The reader marks each true or
false; precision is the share marked true.
"""
from __future__ import annotations

import argparse
import os
import random
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from refs_vs_jedi import Lines, repoctx_refs

from repoctx.index.load import load_repository
from repoctx.scan import ScanOptions


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("repo")
    ap.add_argument("--ext", default=".go")
    ap.add_argument("--n", type=int, default=50)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--index-dir", required=True, help="a fresh folder for the index and its caches")
    a = ap.parse_args()
    root = os.path.realpath(a.repo)
    repo = load_repository(root, ScanOptions(), index_path=os.path.join(a.index_dir, "index.sqlite"))
    g = repo.graph
    pairs = []
    for sid, (p, s) in g.symbols.items():
        if p.endswith(a.ext) and s.kind in ("function", "method"):
            pairs += [(sid, x) for x in sorted(repoctx_refs(repo, sid)) if x != (p, s.start_line)]
    print(f"{len(pairs)} references to {a.ext} functions and methods; {min(a.n, len(pairs))} drawn (seed {a.seed})")
    lines = Lines(root)
    for k, (sid, (p, n)) in enumerate(random.Random(a.seed).sample(pairs, min(a.n, len(pairs))), 1):
        dpath, d = g.symbols[sid]
        print(f"\n#{k} {sid}  [{dpath}:{d.start_line}: {d.signature.splitlines()[0][:100]}]")
        ls = lines(p)
        for i in range(max(1, n - 2), min(len(ls), n + 1) + 1):
            print(f"{'>' if i == n else ' '} {p}:{i}: {ls[i - 1].rstrip()[:150]}")


if __name__ == "__main__":
    main()
