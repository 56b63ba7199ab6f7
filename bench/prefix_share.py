"""Benchmark: how much of a pack is a stable, prompt-cacheable prefix across queries.

    python bench/prefix_share.py REPO [BUDGET]

Packs REPO (slice mode) for pairs of unrelated queries and reports the length of the common prefix
of the two texts, in characters and tokens, as a share of the pack. Prints figures; no pass/fail.
"""
from __future__ import annotations

import os
import sys

from repoctx.pack.packer import Packer
from repoctx.pack.request import PackRequest
from repoctx.index.load import load_repository
from repoctx.tokens import count, get_encoding

QUERIES = [
    ("fix timeout handling when the connection is reset", "add support for custom headers in redirects"),
    ("improve error message for invalid configuration", "refactor the router to avoid duplicate lookups"),
]


def main() -> None:
    root = sys.argv[1]
    budget = int(sys.argv[2]) if len(sys.argv) > 2 else 32_000
    repo = load_repository(root)
    packer = Packer(repo)
    enc = get_encoding(repo.encoding)
    for a, b in QUERIES:
        ta = packer.pack(PackRequest(a, budget=budget, mode="slice")).text
        tb = packer.pack(PackRequest(b, budget=budget, mode="slice")).text
        n = len(os.path.commonprefix([ta, tb]))
        shared = count(ta[:n], enc)
        print(f"{os.path.basename(root.rstrip('/'))} @ {budget}: shared prefix {n:,} chars = {n / len(ta):.1%} of "
              f"the pack; {shared:,} of {count(ta, enc):,} tokens = {shared / count(ta, enc):.1%}")


if __name__ == "__main__":
    main()
