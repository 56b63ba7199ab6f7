"""Benchmark: BM25 engines on 50,000 symbol-level code chunks (prints figures; never fails).

Chunks come from Python's `ast` over the CPython stdlib, tests included (not site-packages):
one chunk per function or method (decorators to last line, nested ones too) and one per class
header (the class line up to its first nested def or class). Files in sorted path order, chunks in
line order; the first 50,000 are kept. Each chunk's text is its path line plus its source.
Everything is tokenized once with `repoctx.retrieve.bm25.tokenize`; all engines get the same tokens.

Engines: repoctx.retrieve.bm25.BM25 (numpy), rank-bm25 BM25Okapi, bm25s, SQLite FTS5 on disk (tokens
joined by spaces, `OR` query, `ORDER BY bm25(c)`). All use k1=1.2, b=0.75 where they can be set
(FTS5 fixes them at those values). Queries: 200 random 2–6-term queries (terms drawn from a random
chunk; seed 20261123) and 12 commit-message-like texts of 10–30 words, 5 runs each. Query tokens
are de-duplicated for every engine. "scores" is the time to get a score for every matching
document, as the retriever's fusion needs.

    /work/venv/bin/python bench/bm25_engines.py [--stdlib DIR] [--chunks 50000] [--builds 3]
"""
from __future__ import annotations

import argparse
import ast
import os
import random
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("DISABLE_TQDM", "1")  # bm25s: no progress bars

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from repoctx.retrieve import bm25 as lexical  # noqa: E402

STDLIB = "/root/.pyenv/versions/3.11.7/lib/python3.11"
SEED = 20261123
K = 10

COMMITS = [
    "Fix race condition in ThreadPoolExecutor shutdown when a worker raises during submit and the "
    "pending work items are never cancelled",
    "asyncio: make StreamReader.readuntil raise LimitOverrunError with the consumed byte count "
    "instead of losing buffered data",
    "Handle percent-encoded slashes in urllib.parse.unquote so that quoted path segments round-trip "
    "through urlsplit and urlunsplit",
    "json: preserve key order when decoding objects with object_pairs_hook and add a regression test "
    "for duplicate keys",
    "Speed up pathlib glob for patterns without wildcards by skipping the directory scan",
    "Fix email header folding for long non-ASCII display names in the policy default encoder, "
    "which produced lines above the maximum length",
    "tarfile: reject members whose link target escapes the extraction directory when the data "
    "filter is used",
    "subprocess.Popen communicate timeout leaves zombie process on Windows; wait for the child "
    "after killing it",
    "Add support for HTTP/1.1 chunked transfer encoding with trailers in http.client "
    "HTTPResponse read and readinto",
    "logging RotatingFileHandler should not roll over an empty file when maxBytes is zero and the "
    "stream is not yet open",
    "Correct decimal context rounding in quantize for values near the precision limit and update "
    "the arithmetic test cases",
    "sqlite3 Connection.backup progress callback gets wrong remaining page count after the target "
    "database is locked",
]


# ----------------------------------------------------------------------------- corpus

def chunks_of(path: str, rel: str) -> list[str]:
    """Symbol-level chunks of one Python file (empty if it does not parse)."""
    try:
        source = Path(path).read_text(encoding="utf-8")
        tree = ast.parse(source)
    except (SyntaxError, UnicodeDecodeError, ValueError):
        return []
    lines = source.splitlines()
    spans = []
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            start = min([node.lineno] + [d.lineno for d in node.decorator_list])
            spans.append((start, node.end_lineno))
        elif isinstance(node, ast.ClassDef):
            start = min([node.lineno] + [d.lineno for d in node.decorator_list])
            inner = [n.lineno for n in node.body
                     if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))]
            end = min(inner) - 1 if inner else node.end_lineno
            spans.append((start, max(end, node.lineno)))
    spans.sort()
    return [rel + "\n" + "\n".join(lines[s - 1:e]) for s, e in spans]


def load_chunks(root: str, limit: int) -> tuple[list[str], int]:
    """The first `limit` chunks in sorted path order, and how many .py files were read."""
    paths = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if d not in ("site-packages", "__pycache__")]
        paths += [os.path.join(dirpath, f) for f in filenames if f.endswith(".py")]
    out: list[str] = []
    files = 0
    for path in sorted(paths):
        files += 1
        out += chunks_of(path, os.path.relpath(path, root))
        if len(out) >= limit:
            break
    return out[:limit], files


def make_queries(docs: list[list[str]], n: int) -> list[list[str]]:
    """n random queries of 2–6 distinct terms, each drawn from one random chunk."""
    rng = random.Random(SEED)
    queries = []
    while len(queries) < n:
        terms = sorted(set(docs[rng.randrange(len(docs))]))
        if len(terms) >= 2:
            queries.append(rng.sample(terms, min(len(terms), rng.randint(2, 6))))
    return queries


def dedup(tokens: list[str]) -> list[str]:
    return list(dict.fromkeys(tokens))


# ----------------------------------------------------------------------------- engines

def top_k(scores: np.ndarray, k: int) -> list[int]:
    """Doc indices of the k best positive scores; score desc, index asc."""
    hits = np.flatnonzero(scores > 0)
    return [int(i) for i in hits[np.lexsort((hits, -scores[hits]))][:k]]


class Numpy:
    name = "repoctx.retrieve.bm25.BM25 (numpy)"

    def build(self, docs):
        self.ix = lexical.BM25(docs, k1=1.2, b=0.75)

    def search(self, q):
        return [i for i, _ in self.ix.search(q, K)]

    def scores(self, q):
        return self.ix.scores(q)


class RankBM25:
    name = "rank-bm25 0.2.2 BM25Okapi"

    def build(self, docs):
        from rank_bm25 import BM25Okapi
        self.ix = BM25Okapi(docs, k1=1.2, b=0.75)

    def search(self, q):
        return top_k(self.ix.get_scores(q), K)

    def scores(self, q):
        return self.ix.get_scores(q)


class BM25S:
    name = "bm25s 0.3.16 (lucene)"

    def build(self, docs):
        import bm25s
        self.ix = bm25s.BM25(k1=1.2, b=0.75, method="lucene")
        self.ix.index(docs, show_progress=False)

    def search(self, q):
        docs, _ = self.ix.retrieve([q], k=K, show_progress=False, n_threads=0)
        return [int(i) for i in docs[0]]

    def scores(self, q):
        return self.ix.get_scores(q)


class FTS5:
    name = "SQLite FTS5 on disk"

    def __init__(self):
        self.dir = tempfile.TemporaryDirectory()
        self.n = 0

    def build(self, docs):
        self.n += 1
        path = os.path.join(self.dir.name, f"fts{self.n}.sqlite")
        self.db = sqlite3.connect(path)
        self.db.execute("CREATE VIRTUAL TABLE c USING fts5(body, "
                        "tokenize=\"unicode61 tokenchars '_' remove_diacritics 0\")")
        with self.db:
            self.db.executemany("INSERT INTO c(rowid, body) VALUES (?, ?)",
                                ((i, " ".join(d)) for i, d in enumerate(docs)))
            self.db.execute("INSERT INTO c(c) VALUES ('optimize')")
        self.size = os.path.getsize(path)

    @staticmethod
    def match(q):
        return " OR ".join('"' + t.replace('"', '""') + '"' for t in q)

    def search(self, q):
        return [r[0] for r in self.db.execute(
            "SELECT rowid FROM c WHERE c MATCH ? ORDER BY bm25(c), rowid LIMIT ?", (self.match(q), K))]

    def scores(self, q):
        return self.db.execute("SELECT rowid, -bm25(c) FROM c WHERE c MATCH ?", (self.match(q),)).fetchall()


# ----------------------------------------------------------------------------- measuring

def pct(values: list[float], p: float) -> float:
    """The p-th percentile (nearest rank) of `values`, in ms."""
    v = sorted(values)
    return 1000 * v[min(len(v) - 1, max(0, round(p / 100 * len(v)) - 1))]


def timed(fn, queries):
    times, results = [], []
    for q in queries:
        t0 = time.perf_counter()
        r = fn(q)
        times.append(time.perf_counter() - t0)
        results.append(r)
    return times, results


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--stdlib", default=STDLIB)
    ap.add_argument("--chunks", type=int, default=50_000)
    ap.add_argument("--builds", type=int, default=3, help="builds per engine; the median is shown")
    args = ap.parse_args()

    t0 = time.perf_counter()
    texts, files = load_chunks(args.stdlib, args.chunks)
    t_load = time.perf_counter() - t0
    mb = sum(len(t.encode("utf-8")) for t in texts) / 1e6

    lexical._cache.clear()
    t0 = time.perf_counter()
    docs = [lexical.tokenize(t) for t in texts]
    t_cold = time.perf_counter() - t0
    t0 = time.perf_counter()
    for t in texts:
        lexical.tokenize(t)
    t_warm = time.perf_counter() - t0
    n_tokens = sum(map(len, docs))

    print(f"python {sys.version.split()[0]}, numpy {np.__version__}, sqlite {sqlite3.sqlite_version}, "
          f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}")
    print(f"corpus: {len(texts)} chunks from {files} files of {args.stdlib} ({t_load:.1f} s to chunk), "
          f"{mb:.1f} MB, {n_tokens / 1e6:.2f} M tokens, {len(set().union(*docs))} distinct")
    print(f"tokenize: {t_cold:.2f} s cold word cache = {mb / t_cold:.1f} MB/s; "
          f"{t_warm:.2f} s warm = {mb / t_warm:.1f} MB/s")

    rand_q = [dedup(q) for q in make_queries(docs, 200)]
    long_q = [dedup(lexical.tokenize(c)) for c in COMMITS] * 5
    print(f"queries: 200 random ({statistics.mean(map(len, rand_q)):.1f} terms avg), "
          f"{len(COMMITS)} commit messages x 5 ({statistics.mean(map(len, long_q)):.1f} distinct tokens avg)")
    print()

    engines = [Numpy(), BM25S(), FTS5(), RankBM25()]
    rows, tops = [], {}
    for e in engines:
        builds = []
        for _ in range(args.builds):
            t0 = time.perf_counter()
            e.build(docs)
            builds.append(time.perf_counter() - t0)
        build = statistics.median(builds)
        e.search(rand_q[0])  # warm-up
        rt, tops[e.name] = timed(e.search, rand_q)
        lt, tops[e.name + "/long"] = timed(e.search, long_q)
        st, _ = timed(e.scores, long_q)
        rows.append((e.name, build, pct(rt, 50), pct(rt, 95), pct(lt, 50), pct(lt, 95), pct(st, 50),
                     build + pct(lt, 95) / 1000))
        print(f"  measured {e.name}: builds {', '.join(f'{b:.2f}' for b in builds)} s", flush=True)

    print()
    print("| engine | build s | random p50 ms | p95 ms | commit-msg p50 ms | p95 ms | all scores (commit) p50 ms "
          "| build + 1 commit query s |")
    print("|---|---|---|---|---|---|---|---|")
    for name, b, r50, r95, l50, l95, s50, total in rows:
        print(f"| {name} | {b:.2f} | {r50:.2f} | {r95:.2f} | {l50:.2f} | {l95:.2f} | {s50:.2f} | {total:.2f} |")
    print()
    names = [e.name for e in engines]
    print("top-10 overlap (mean |A∩B|/10), random queries / commit-message queries:")
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            ov = [statistics.mean(len(set(x) & set(y)) / K for x, y in zip(tops[a + s], tops[b + s]))
                  for s in ("", "/long")]
            print(f"  {a} vs {b}: {ov[0]:.3f} / {ov[1]:.3f}")
    ix = engines[0].ix
    size = ix.post_doc.nbytes + ix.post_weight.nbytes + ix.indptr.nbytes
    print(f"numpy index arrays: {size / 1e6:.1f} MB ({len(ix.post_doc)} postings, {len(ix.vocab)} terms); "
          f"FTS5 file: {engines[2].size / 1e6:.1f} MB")


if __name__ == "__main__":
    main()
