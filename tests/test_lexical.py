"""The identifier-aware tokenizer and the BM25 index (repoctx.retrieve.bm25)."""
from __future__ import annotations

import math

import numpy as np
import pytest

from repoctx.retrieve.bm25 import BM25, STOP_WORDS, tokenize


@pytest.mark.parametrize("text, expected", [
    # snake_case
    ("read_file_lines", ["read_file_lines", "read", "file", "line"]),
    ("__init__", ["__init__", "init"]),
    ("MAX_LINE_LENGTH", ["max_line_length", "max", "line", "length"]),
    # camelCase / PascalCase
    ("parseJsonValue", ["parsejsonvalue", "parse", "json", "value"]),
    ("TokenCounter", ["tokencounter", "token", "counter"]),
    ("Parse", ["parse"]),
    # acronyms stay together
    ("HTTPServerError", ["httpservererror", "http", "server", "error"]),
    ("XMLHttpRequest", ["xmlhttprequest", "xml", "http", "request"]),
    ("IOError", ["ioerror", "io", "error"]),
    ("HTTP", ["http"]),
    # a snake piece that splits further is kept too
    ("getHTTPResponse_handler", ["gethttpresponse_handler", "gethttpresponse", "get", "http", "response",
                                 "handler"]),
    # digits
    ("sha256sum", ["sha256sum", "sha", "256", "sum"]),
    ("parse_URL_v2", ["parse_url_v2", "parse", "url", "v2"]),
    ("utf8", ["utf8", "utf"]),
    ("404", ["404"]),
    # paths, kebab-case, dotted names: the separators split
    ("src/net/url_parse.py", ["src", "net", "url_parse", "url", "parse", "py"]),
    ("max-line-length", ["max", "line", "length"]),
    ("os.path.join", ["os", "path", "join"]),
    # unicode identifiers
    ("größeÄnderung", ["größeänderung", "größe", "änderung"]),
    ("café_größe", ["café_größe", "café", "größe"]),
    ("naïveBayes", ["naïvebaye", "naïve", "baye"]),
    ("日本語", ["日本語"]),
    # stop words, 1-character tokens, underscores only, nothing at all
    ("def f(self, x): return None", []),
    ("if the URL is None", ["url"]),
    ("_ __ a b", []),
    ("", []),
    ("  (); {}\n\t", []),
])
def test_tokenize(text, expected):
    assert tokenize(text) == expected


def test_tokenize_keeps_order_and_repeats():
    assert tokenize("fetchURL(url) then cache.fetch url") == [
        "fetchurl", "fetch", "url", "url", "cache", "fetch", "url"]


def test_stop_words_are_dropped_and_lowercase():
    for word in STOP_WORDS:
        assert word == word.lower() and len(word) > 1, word
        assert tokenize(word) == [] and tokenize(word.upper()) == [], word


# A tiny corpus. "parse" is in 3 of 4 documents (common); "http" in one (rare).
DOCS = [
    ["parse", "url", "http"],   # 0
    ["parse", "file"],          # 1
    ["parse", "url", "url"],    # 2
    ["render", "html"],         # 3
]


def hand_score(tf: int, df: int, doc_len: int, n: int = 4, avg_len: float = 10 / 4,
               k1: float = 1.2, b: float = 0.75) -> float:
    idf = math.log(1 + (n - df + 0.5) / (df + 0.5))
    return idf * tf / (tf + k1 * (1 - b + b * doc_len / avg_len))


def test_search_ranks_rare_term_first_then_shorter_docs():
    hits = BM25(DOCS).search(["parse", "http"], limit=10)
    # doc 0 has the rare "http"; docs 1 and 2 only the common "parse", the shorter doc 1 first; doc 3 no match
    assert [i for i, _ in hits] == [0, 1, 2]
    assert hits[0][1] == pytest.approx(hand_score(1, 3, 3) + hand_score(1, 1, 3))
    assert hits[1][1] == pytest.approx(hand_score(1, 3, 2))
    assert hits[2][1] == pytest.approx(hand_score(1, 3, 3))


def test_rare_term_beats_repeated_common_term():
    docs = [["data"] * 5, ["data", "checksum"], ["data"], ["data", "value"]]
    assert [i for i, _ in BM25(docs).search(["data", "checksum"], 2)] == [1, 0]


def test_term_frequency_counts():
    # docs 0 and 2 have the same length; doc 2 has "url" twice
    assert [i for i, _ in BM25(DOCS).search(["url"])] == [2, 0]


def test_ties_are_broken_by_doc_index():
    docs = [["other"], ["same", "word"], ["other"], ["same", "word"], ["same", "word"], ["same", "word"]]
    ix = BM25(docs)
    assert [i for i, _ in ix.search(["same"], 10)] == [1, 3, 4, 5]
    assert [i for i, _ in ix.search(["same"], 2)] == [1, 3]
    assert len({s for _, s in ix.search(["same"], 10)}) == 1


def test_ties_at_the_limit_keep_the_lowest_indices():
    # every 7th doc has "same" twice; all the others tie with it once, at equal length
    docs = [["same", "same", "pad"] if i % 7 == 0 else ["same", "pad", "pad"] for i in range(300)]
    better = list(range(0, 300, 7))  # 43 docs
    assert [i for i, _ in BM25(docs).search(["same"], 50)] == better + [1, 2, 3, 4, 5, 6, 8]


def test_limit():
    ix = BM25(DOCS)
    assert [i for i, _ in ix.search(["parse"], 1)] == [1]
    assert ix.search(["parse"], 0) == []


def test_scores_cover_every_doc_and_agree_with_search():
    ix = BM25(DOCS)
    s = ix.scores(["parse", "http"])
    assert s.shape == (4,)
    assert s[3] == 0
    assert [(i, s[i]) for i in (0, 1, 2)] == ix.search(["parse", "http"])


def test_query_words_count_once_in_any_order_and_unknown_ones_are_ignored():
    ix = BM25(DOCS)
    base = ix.scores(["parse", "http"])
    assert np.array_equal(ix.scores(["http", "parse", "parse", "http", "nowhere"]), base)
    assert ix.search(["nowhere"]) == []


def test_k1_and_b_matter():
    a = BM25(DOCS).scores(["parse"])
    assert not np.allclose(a, BM25(DOCS, b=0.0).scores(["parse"]))
    assert np.allclose(BM25(DOCS, b=0.0).scores(["parse"])[:3], hand_score(1, 3, 1, b=0.0))


def test_empty_index_and_empty_query():
    empty = BM25([])
    assert empty.search(["parse"]) == []
    assert empty.scores(["parse"]).shape == (0,)
    assert BM25([[], []]).search(["parse"]) == []
    ix = BM25(DOCS)
    assert ix.search([]) == []
    assert np.array_equal(ix.scores([]), np.zeros(4))
    blank = BM25([[], ["parse"]])
    assert [i for i, _ in blank.search(["parse"])] == [1]


@pytest.mark.parametrize("word,expected", [
    ("headers", "header"), ("classifiers", "classifier"), ("properties", "property"), ("classes", "class"),
    ("matches", "match"), ("status", "status"), ("process", "process"), ("analysis", "analysis"),
    ("is", "is"), ("bus", "bus"), ("is_headers", "is_headers"), ("v2s", "v2s"),
])
def test_plurals_match_their_singular(word, expected):
    from repoctx.retrieve.bm25 import singular
    assert singular(word) == expected


def test_streamed_build_scores_every_document_as_the_formula_says():
    """BM25 consumes its documents one at a time (a generator); every score equals the Lucene
    formula computed directly, including repeated terms, empty documents and unseen words."""
    import math
    import random
    from collections import Counter
    rng = random.Random(7)
    words = [f"w{i}" for i in range(40)]
    docs = [[rng.choice(words[: rng.randint(1, 40)]) for _ in range(rng.randint(0, 25))] for _ in range(60)]
    index = BM25(iter(docs))
    n, avg = len(docs), sum(map(len, docs)) / len(docs)
    for query in (["w0"], ["w3", "w17", "w3"], ["w39", "nowhere"], words):
        expected = []
        for doc in docs:
            tf, total = Counter(doc), 0.0
            for t in set(query):
                df = sum(t in d for d in docs)
                if tf[t]:
                    idf = math.log1p((n - df + 0.5) / (df + 0.5))
                    total += idf * tf[t] / (tf[t] + 1.2 * (1 - 0.75 + 0.75 * len(doc) / avg))
            expected.append(total)
        assert index.scores(query).tolist() == pytest.approx(expected, rel=1e-12, abs=0)
    assert list(index.vocab) == list(dict.fromkeys(t for d in docs for t in d))  # ids by first appearance
