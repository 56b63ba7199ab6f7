"""Benchmark: exact token counting throughput — tiktoken vs bpe-openai vs riptoken — and their agreement.

    nice -n 19 .venv/bin/python bench/token_backends.py [--runs 5]

Corpora (whole texts, counted one file at a time and as one concatenated string): this repository's
Python/Markdown files, the first 1,500 .py files of Python's standard library, and 2 MB of random
Unicode (every plane, surrogates excluded, with `<|endoftext|>` sprinkled in). Each backend is loaded
the way repoctx loads it; the figure is the median MB/s of RUNS passes (range in brackets), one thread.
Prints figures and any disagreement with tiktoken; does not pass or fail.

Measured 2026-12-06 12:20 UTC (2 vCPU, load 0.4; median of 3 [range], MB/s; no disagreement):
                        tiktoken 0.14   bpe-openai 0.1.4   riptoken 0.2.4
  o200k  repository     23.4            38.0               37.2
  o200k  stdlib         23.9            43.8               39.9
  o200k  random Unicode 18.5            22.6                0.5
  cl100k repository     15.6            38.5               30.3
  cl100k stdlib         15.7            46.5               41.0
  cl100k random Unicode 14.3            24.3                1.8
Loading: bpe-openai's tokenizer 0.04 s (its extension module alone; the package's __init__ costs
0.35 s), tiktoken's o200k 0.05-0.25 s. bpe-openai holds the interpreter lock while it counts,
tiktoken and riptoken do not: 27 MB on two threads took tiktoken 0.88 s, riptoken 0.47 s,
bpe-openai 0.82 s (one thread 0.85 s); on the loaded machine a bpe-openai + tiktoken pair was
slower than bpe-openai alone (1.15 vs 0.87 s), so repoctx counts with bpe-openai in one thread and
makes whole packs cheap by counting per part, remembered (tokens.count_parts).
"""
from __future__ import annotations

import os
import random
import statistics
import sys
import sysconfig
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from repoctx import tokens  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def corpora() -> dict[str, list[str]]:
    repo = [p.read_text(errors="replace") for p in sorted(ROOT.rglob("*")) if p.suffix in (".py", ".md")
            and ".venv" not in p.parts and ".git" not in p.parts and p.is_file()]
    stdlib = [p.read_text(errors="replace") for p in sorted(Path(sysconfig.get_paths()["stdlib"]).rglob("*.py"))
              if "site-packages" not in p.parts][:1500]
    rng = random.Random(13)
    chars = [chr(c) for c in rng.sample(range(0x110000), 200000) if not 0xD800 <= c < 0xE000]
    chars += list(" \n\t") * 20000 + list("abcdefghijklmnopqrstuvwxyz(){}=:.,") * 3000
    uni = ["".join(rng.choice(chars) for _ in range(rng.randint(100, 20000))) + rng.choice(["", "<|endoftext|>"])
           for _ in range(200)]
    return {"repository": repo, "stdlib": stdlib, "random unicode": uni}


def backends(name: str) -> dict:
    enc = tokens.get_encoding(name)
    out = {"tiktoken": lambda t: len(enc.encode_ordinary(t))}
    try:
        bpe = tokens._bpe_openai(name)
        out["bpe-openai"] = bpe.count
    except Exception as exc:  # noqa: BLE001
        print(f"bpe-openai unavailable: {exc}")
    try:
        import riptoken
        core = riptoken.CoreBPE(enc._mergeable_ranks, enc._special_tokens, enc._pat_str)
        out["riptoken"] = lambda t: len(core.encode_ordinary(t))
    except ImportError:
        print("riptoken not installed")
    return out


def main() -> None:
    runs = int(sys.argv[sys.argv.index("--runs") + 1]) if "--runs" in sys.argv else 5
    print(f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}; median of {runs} [range], MB/s")
    texts = corpora()
    for name in ("o200k_base", "cl100k_base"):
        fns = backends(name)
        for label, docs in texts.items():
            size = sum(len(d.encode("utf-8")) for d in docs) / 1e6
            ref = [fns["tiktoken"](d) for d in docs]
            for backend, fn in fns.items():
                got = [fn(d) for d in docs]
                bad = sum(a != b for a, b in zip(got, ref))
                speeds = []
                for _ in range(runs):
                    t = time.perf_counter()
                    for d in docs:
                        fn(d)
                    speeds.append(size / (time.perf_counter() - t))
                print(f"{name:12s} {label:15s} {size:6.1f} MB {backend:11s} {statistics.median(speeds):6.1f} "
                      f"[{min(speeds):.1f}-{max(speeds):.1f}]" + (f"  {bad} DISAGREE" if bad else ""), flush=True)


if __name__ == "__main__":
    main()
