"""Retrieve: BM25 over identifier-split chunks fused with the graph walk, and symbol search, on a
fixture repository in Python, JavaScript, TypeScript and Go."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest
from conftest import make_repo

from repoctx.index.load import load_repository
from repoctx.retrieve.bm25 import tokenize
from repoctx.retrieve.rank import MODULE, RetrievalIndex, rank_chunks
from repoctx.retrieve.search import find_symbols, search

LONG_BODY = "".join(f"    step_{i} = rows[{i}] * weight  # accumulate the weighted row\n" for i in range(80))
FILES = {
    "net/headers.py": '''"""Header utilities."""


def parse_http_header(raw):
    """Split one raw header line into a name and a value."""
    name, _, value = raw.partition(":")
    return name.strip().lower(), value.strip()


def format_header(name, value):
    return f"{name}: {value}"
''',
    "net/client.py": '''from net.headers import parse_http_header


def fetch(conn):
    """Read a response: status line, then headers until a blank line."""
    headers = {}
    for line in conn.readlines():
        if not line.strip():
            break
        key, value = parse_http_header(line)
        headers[key] = value
    return headers
''',
    "net/weights.py": f"def weighted_total(rows, weight):\n{LONG_BODY}    return sum(rows) * weight\n",
    "src/retry.js": '''export function retryWithBackoff(fn, attempts) {
  let delay = 100;
  for (let i = 0; i < attempts; i++) {
    try { return fn(); } catch (e) { delay *= 2; }
  }
  throw new Error("gave up");
}
''',
    "src/jobs.js": '''import { retryWithBackoff } from './retry';

export function runJob(job) {
  return retryWithBackoff(() => job.run(), 5);
}
''',
    "src/limiter.ts": '''export class RateLimiter {
  private tokens: number;

  constructor(private readonly capacity: number) {
    this.tokens = capacity;
  }

  tryAcquire(cost: number): boolean {
    if (this.tokens < cost) { return false; }
    this.tokens -= cost;
    return true;
  }
}
''',
    "go.mod": "module example.com/shop\n\ngo 1.21\n",
    "shipping/cost.go": '''package shipping

// band rounds a weight to whole kilograms.
func band(grams int) int {
	return grams / 1000
}

// ComputeShippingCost prices a parcel by weight band.
func ComputeShippingCost(grams int) int {
	if grams > 20000 {
		return 4000
	}
	return 500 + band(grams)*10
}
''',
    "checkout/order.go": '''package checkout

import "example.com/shop/shipping"

// Total of an order: the items, then the parcel.
func Total(items []int, grams int) int {
	sum := 0
	for _, v := range items {
		sum += v
	}
	return sum + shipping.ComputeShippingCost(grams)
}
''',
    "docs/notes.md": "# Notes\n\nShipping is slow; the cost of a retry matters; an HTTP header can be long.\n",
}
for i in range(6):  # unrelated code, so that document frequencies mean something
    FILES[f"misc/m{i}.py"] = "".join(f"def helper_{i}_{j}(items):\n    return [x + {j} for x in items]\n\n\n"
                                     for j in range(5))


@pytest.fixture(scope="module")
def index(tmp_path_factory):
    repo = load_repository(str(make_repo(tmp_path_factory.mktemp("retrieve") / "r", FILES)), workers=1)
    return RetrievalIndex.load(repo)


def top_chunk(index, query):
    i, _ = rank_chunks(index, query)[0]
    c = index.chunks[i]
    return c.path, c.symbol


@pytest.mark.parametrize("query,expect", [
    # snake_case definition, the query in plain words
    ("the http header parse drops the value", ("net/headers.py", "parse_http_header")),
    # camelCase definition, the query in snake_case and in words
    ("retry_with_backoff gives up too early", ("src/retry.js", "retryWithBackoff")),
    ("retry with backoff never doubles", ("src/retry.js", "retryWithBackoff")),
    # a TypeScript method and a Go function, PascalCase
    ("try acquire must refuse when the rate limiter is empty", ("src/limiter.ts", "RateLimiter.tryAcquire")),
    ("compute shipping cost for heavy parcels", ("shipping/cost.go", "ComputeShippingCost")),
])
def test_the_definition_of_the_queried_identifier_ranks_first(index, query, expect):
    assert top_chunk(index, query) == expect


def test_identifiers_split_the_same_way_in_code_and_in_queries():
    assert set(tokenize("retryWithBackoff")) >= {"retry", "backoff"}
    assert set(tokenize("retry_with_backoff")) >= {"retry", "backoff"}
    assert set(tokenize("ComputeShippingCost")) >= {"compute", "shipping", "cost"}
    assert "with" not in tokenize("retryWithBackoff")  # a stop word on either side


def test_the_caller_ranks_after_the_definition_and_ahead_of_unrelated_code(index):
    ranked = [index.chunks[i] for i, _ in rank_chunks(index, "compute shipping cost")]
    paths = [c.path for c in ranked]
    assert paths[0] == "shipping/cost.go" and "checkout/order.go" in paths
    assert paths.index("checkout/order.go") < min((paths.index(p) for p in paths if p.startswith("misc/")),
                                                   default=len(paths))
    assert paths.index("checkout/order.go") < paths.index("docs/notes.md")  # plain text is discounted


def test_rankings_are_deterministic_and_the_cache_changes_nothing(index):
    q = "retry the http fetch with backoff and a rate limiter"
    fresh = RetrievalIndex.build(index.repo)
    assert rank_chunks(index, q) == rank_chunks(index, q) == rank_chunks(fresh, q)
    seeds = {f"src/jobs.js:{MODULE}": 1.0}
    assert index.ranked_files(seeds) == index.ranked_files(seeds) == fresh.ranked_files(seeds)
    assert index.ranked_files() == fresh.ranked_files() == index.global_files()
    assert sorted(index.ranked_files()) == sorted(index.repo.files)  # every file, once


def test_ranked_files_personalised_by_a_seed_put_it_and_its_neighbours_first(index):
    ranked = index.ranked_files({"shipping/cost.go:ComputeShippingCost": 1.0})
    assert ranked[:2] == ["shipping/cost.go", "checkout/order.go"]
    ranked = index.ranked_files({f"src/jobs.js:{MODULE}": 1.0})
    assert set(ranked[:2]) == {"src/jobs.js", "src/retry.js"}


def test_files_that_tie_are_ordered_by_path(index):
    # the six misc files are alike and unconnected: equal rank, so path order decides
    ranked = [p for p in index.ranked_files() if p.startswith("misc/")]
    assert ranked == sorted(ranked)


RANK_IN_A_FRESH_PROCESS = r"""
import json, sys
from repoctx.index.load import load_repository
from repoctx.retrieve.rank import RetrievalIndex, rank_chunks
index = RetrievalIndex.build(load_repository(sys.argv[1], index_path=sys.argv[2], workers=1))
print(json.dumps([index.ranked_files(), [(index.chunks[i], round(s, 12)) for i, s in rank_chunks(index, sys.argv[3])]]))
"""


def test_rankings_do_not_depend_on_the_hash_seed(index, tmp_path):
    outs = set()
    for seed in ("0", "12345"):
        r = subprocess.run([sys.executable, "-c", RANK_IN_A_FRESH_PROCESS, index.repo.root, str(tmp_path / f"{seed}.sqlite"),
                            "retry the header fetch, compute the shipping cost"],
                           check=False, capture_output=True, text=True, timeout=120, env={"PYTHONHASHSEED": seed, "PATH": "/usr/bin:/bin"})
        assert r.returncode == 0, r.stderr
        outs.add(r.stdout)
    assert len(outs) == 1
    files, chunks = json.loads(outs.pop())
    assert files == index.ranked_files() and len(chunks) > 5


def test_search_gives_each_symbol_once_at_its_whole_extent(index):
    hits = search(index, "weighted total of the rows", limit=5)
    assert hits[0].path == "net/weights.py" and hits[0].symbol == "weighted_total"
    assert (hits[0].start_line, hits[0].end_line) == (1, 82)  # the function, though chunked in pieces
    assert len({(h.path, h.symbol, h.start_line) for h in hits}) == len(hits) <= 5
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    assert search(index, "zzzqqq nothing matches this", limit=5) == []


def names(hits):
    return [s.name for _, _, s in hits]


def test_find_symbols_by_name_exact_then_prefix_then_substring_then_letters(index):
    assert names(find_symbols(index, "tryAcquire")) == ["tryAcquire"]
    assert names(find_symbols(index, "RATELIMITER")) == ["RateLimiter"]  # case does not matter
    hits = find_symbols(index, "parse")
    assert names(hits) == ["parse_http_header"]
    sid, path, s = hits[0]
    assert (sid, path, s.kind, s.start_line) == ("net/headers.py:parse_http_header", "net/headers.py", "function", 4)
    assert names(find_symbols(index, "header")) == ["parse_http_header", "format_header"]  # substring; the called one first
    assert names(find_symbols(index, "cmpshpcst")) == ["ComputeShippingCost"]  # letters in order
    helpers = find_symbols(index, "helper_3")
    assert names(helpers)[:5] == [f"helper_3_{j}" for j in range(5)]  # prefix, ties by id
    assert set(names(helpers)[5:]) == {f"helper_{i}_3" for i in range(6) if i != 3}  # then letters in order
    total = find_symbols(index, "total")
    assert names(total)[0] == "Total" and "weighted_total" in names(total)  # the exact match leads
    assert len(find_symbols(index, "", limit=7)) == 7
    assert find_symbols(index, "nosuchsymbolanywhere") == []


def test_a_source_files_header_inherits_a_share_of_its_score(tmp_path):
    """Issue 26: the second file of a fix is often the other half of a pair (a C source and its
    header). A header whose source matches the query ranks above an unrelated header, though neither
    holds a query word (their paths hold the same one) and nothing links them; a name shared by three files pairs nothing."""
    files = {
        "lib/compress.c": "int compress_block(char *dst, const char *src, int level) {\n  return level * 2;\n}\n",
        "lib/compress.h": "int pack_frame(char *dst);\nint unpack_frame(char *src);\n",
        "lib/compress_api.h": "int pack_frame(char *dst);\nint unpack_frame(char *src);\n",
        "a/util.c": "int util_level(int level) { return level; }\n",
        "b/util.h": "int helper_one(void);\n", "c/util.h": "int helper_two(void);\n",
    }
    repo = load_repository(str(make_repo(tmp_path / "r", files)), workers=1)
    index = RetrievalIndex.build(repo)
    scores = {index.chunks[i].path: s for i, s in rank_chunks(index, "compress block level is wrong")}
    assert max(scores, key=scores.get) == "lib/compress.c"
    # the same text and a path as close to the query: only the pairing sets them apart
    assert scores["lib/compress.h"] - scores["lib/compress_api.h"] > 0.1 * scores["lib/compress.c"], scores
    partners = index.partners()
    assert partners[index.paths.index("a/util.c")] == -1  # util: three files


def test_a_file_the_issue_points_into_lifts_its_other_chunks(tmp_path):
    """Issue 26: in a file the issue points into (here by naming a function it defines), the chunk
    that shares the issue's words outranks the same words in a file the issue does not point into —
    the fix is often beside the named entry point, not in it."""
    body = "    cache.refresh(expired=True)\n    return cache\n"
    steps = "".join(f"    calls = calls + step_{k}(calls)\n" for k in range(12))
    files = {
        "a/engine.py": f"def apply_retry_budget(calls):\n{steps}    return calls\n\n\ndef one(cache):\n{body}",
        "b/engine.py": f"def retry_budget_apply_order(calls):\n{steps}    return calls\n\n\ndef two(cache):\n{body}",
    }
    for i in range(6):  # unrelated code, so that document frequencies mean something
        files[f"misc/m{i}.py"] = f"def helper_{i}(items):\n    return [x + {i} for x in items]\n"
    repo = load_repository(str(make_repo(tmp_path / "r", files)), workers=1)
    index = RetrievalIndex.build(repo)
    scores = {index.chunks[i].symbol: s for i, s in rank_chunks(index, "apply_retry_budget leaves the cache expired after refresh")}
    assert scores["one"] - scores["two"] > 0.1, scores


def test_an_issues_title_outweighs_the_words_of_its_long_body(tmp_path):
    """Issue 26: a title says in a few words what is wrong; a long body (a reproduction, its output)
    repeats other words. The chunk the title's words point to ranks first, though more of the body's
    words match another chunk."""
    files = {
        "net/quoting.py": "def unquote_header_value(value):\n    escaped = value.strip('\"')\n    return escaped\n",
        "app/table.py": ("def print_table(rows, columns):\n    widths = [max(len(r[c]) for r in rows) for c in columns]\n"
                         "    padding = ' ' * 2\n    border = '+' + '-' * sum(widths)\n    return border, padding\n"),
    }
    for i in range(6):  # unrelated code, so that document frequencies mean something
        files[f"misc/m{i}.py"] = f"def helper_{i}(items):\n    return [x + {i} for x in items]\n"
    repo = load_repository(str(make_repo(tmp_path / "r", files)), workers=1)
    index = RetrievalIndex.build(repo)
    query = ("Escaped quote lost when unquoting a header value\n\n"
             "I print a table of rows with columns, widths, padding and a border, and one cell holds a "
             "header value; the table rows, columns, widths, padding and border come out fine but the cell does not.")
    assert top_chunk(index, query) == ("net/quoting.py", "unquote_header_value")
    assert top_chunk(index, query.split("\n", 1)[0]) == ("net/quoting.py", "unquote_header_value")


def test_a_pack_walks_once_per_question_and_answers_as_a_fresh_index(tmp_path, monkeypatch):
    """A pack asks for a query's signals and walk twice (its map's seeds, then its chunks); on the
    Linux source each walk is most of a second. The same question is answered once; another is
    answered anew, as a fresh index answers it. A name that a test file shares still pairs a source
    with its header (tests are told apart only where a name repeats)."""
    from repoctx.retrieve import rank
    files = {**FILES, "lib/pair.c": "int pair_level(int level) { return level; }\n",
             "lib/pair.h": "int pair_level(int level);\n", "tests/pair.c": "int test_pair(void) { return 0; }\n"}
    repo = load_repository(str(make_repo(tmp_path / "r", files)), workers=1)
    index, fresh = RetrievalIndex.load(repo), RetrievalIndex.load(repo)
    walks = []
    real_walk = rank._walk
    monkeypatch.setattr(rank, "_walk", lambda *a: walks.append(1) or real_walk(*a))
    first = rank_chunks(index, "parse the http header")
    assert rank_chunks(index, "parse the http header") == first and len(walks) == 1
    assert rank.query_signals(index, "parse the http header") is rank.query_signals(index, "parse the http header")
    other = rank_chunks(index, "retry with backoff")
    assert len(walks) == 2 and other != first and other == rank_chunks(fresh, "retry with backoff")
    assert rank_chunks(index, "parse the http header") == rank_chunks(fresh, "parse the http header") == first
    partners = index.partners()
    assert partners[index.paths.index("lib/pair.c")] == index.paths.index("lib/pair.h")
    assert partners[index.paths.index("tests/pair.c")] == -1


TIED = {
    "lru/evict.c": ('#include "ttl.h"\n\nint evict_expired(struct table *t, long now) {\n  int evicted = 0;\n'
                    "  for (int i = 0; i < t->size; i++)\n    if (ttl_left(t->entries[i], now) <= 0) evicted++;\n"
                    "  return evicted;\n}\n"),
    "include/ttl.h": "struct entry;\nint ttl_left(struct entry *e, long now);\n",
    "misc/ttl_copy.h": "struct entry;\nint ttl_remaining(struct entry *e, long now);\n",
    "lru/stats.c": "int table_stats(struct table *t) {\n  return t->size;\n}\n",
    "misc/stats_copy.c": "int table_stats_copy(struct table *t) {\n  return t->size;\n}\n",
    **{f"misc/m{i}.c": f"int helper_{i}(int x) {{ return x + {i}; }}\n" for i in range(6)},  # document frequencies
}
TIED_QUERY = "evict expired entries: the table keeps entries whose ttl ran out"


def _file_scores(index, query, budget=None):
    scores: dict[str, float] = {}
    for i, s in rank_chunks(index, query, budget=budget):
        scores.setdefault(index.chunks[i].path, s)
    return scores


def test_files_tied_to_the_likeliest_file_rise_with_it(tmp_path):
    """Issue 26: the second and third files of a fix are most often tied to the first — the header
    it includes (a graph edge) or a sibling in its folder — and share few of the issue's words. Of
    two files with the same text, the one tied to the best-matching file ranks clearly above the
    one that is not; neither is its partner (different names)."""
    repo = load_repository(str(make_repo(tmp_path / "r", TIED)), workers=1)
    scores = _file_scores(RetrievalIndex.build(repo), TIED_QUERY)
    top = scores["lru/evict.c"]
    assert max(scores, key=scores.get) == "lru/evict.c"
    assert scores["include/ttl.h"] - scores["misc/ttl_copy.h"] > 0.1 * top, scores  # included by it
    assert scores["lru/stats.c"] - scores["misc/stats_copy.c"] > 0.05 * top, scores  # its sibling


def test_a_small_budget_spreads_less_over_tied_files_and_the_packer_says_its_budget(tmp_path, monkeypatch):
    """Issue 26: an 8k pack holds few files; spread over the files tied to the first it loses the
    first file's lines. Below TIE_BUDGET the ties count in proportion; from it up, as with no budget.
    The packer ranks for the budget of the pack it makes."""
    from repoctx.pack.packer import Packer
    from repoctx.pack.request import PackRequest
    from repoctx.retrieve import rank
    repo = load_repository(str(make_repo(tmp_path / "r", TIED)), workers=1)
    index = RetrievalIndex.build(repo)

    def margin(budget):
        s = _file_scores(index, TIED_QUERY, budget)
        return s["include/ttl.h"] - s["misc/ttl_copy.h"]
    assert margin(8_000) < 0.5 * margin(32_000)
    assert rank_chunks(index, TIED_QUERY, budget=128_000) == rank_chunks(index, TIED_QUERY)
    asked = []
    real = rank.rank_chunks
    monkeypatch.setattr(rank, "rank_chunks", lambda *a, **k: asked.append(a[4:] or k.get("budget")) or real(*a, **k))
    Packer(repo).pack(PackRequest(TIED_QUERY, budget=300, mode="slice"))
    assert asked and asked[-1] in ((300,), 300), asked


def test_ties_are_the_same_from_flat_edges_and_from_edges_by_source(tmp_path):
    """A small graph's ties come from one pass over its flat edges; a large graph's (and a delta's)
    from the runs of the likeliest files' nodes, its edges grouped by source: the same either way."""
    import numpy as np
    repo = load_repository(str(make_repo(tmp_path / "r", TIED)), workers=1)
    index = RetrievalIndex.build(repo)
    best = np.linspace(1.0, 0.05, len(index.paths))
    flat = index.ties(best)
    index._edges_by_source()
    assert (flat > 0).sum() >= 3 and np.array_equal(index.ties(best), flat)
