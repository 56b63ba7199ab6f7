"""The retrieval index of a repository state made from an earlier state's, not from scratch.

After an edit, a pull or a checkout, most files are as they were. Tokenising every file is most of a
cold build (Django: 14 of 20 s), so the chunks and BM25 postings of unchanged files are taken from the
newest retrieval file beside the index (`cache.previous_file`), and only the changed files are chunked
and tokenised. The result is the very index a cold build makes, array for array: chunks are in file
order either way, BM25 term ids are given in order of first appearance from each posting's stored
place in its chunk, and the weights are recomputed from counts and lengths with the cold build's own
code (`BM25.from_postings`). What is global and cheap (the walk graph, priors, the global walk) is
computed again by `RetrievalIndex` itself. The literal index is kept as a base and a delta (see
`literal_index` below).

An earlier file is used only when sealed (`cache.previous_file`) and of this version (its
`state_version`); it names its state (`state_paths`, `state_blobs`: `cache.manifest_columns`), and
keeps what an update needs (each posting's count and place, each chunk's length; each literal site's
place in the scan; each definition's file). A change of more than MAX_SHARE of the files means a
cold build. The graph is updated from its previous file by graph/store.py, and the definitions
table is read from the graph's rows (`graph.store.Definitions`).
"""
from __future__ import annotations

import os
import re
from collections import Counter
from collections.abc import Mapping
from types import SimpleNamespace

import numpy as np

from repoctx.index import seal
from repoctx.index.arrays import StringTable, read_arrays, write_arrays
from repoctx.index.cache import (
    cached_file,
    manifest_columns,
    previous_file,
    state_key,
    state_manifest,
    version_tag,
)
from repoctx.index.load import Repository
from repoctx.retrieve.bm25 import BM25
from repoctx.retrieve.chunks import Chunk, file_chunks
from repoctx.retrieve.query import LiteralIndex, literal_sites

#: Above this share of the files changed, a cold build is as cheap as an update.
MAX_SHARE = 0.3


def updated_parts(repo: Repository, version: str, chunk_docs) -> tuple[list[Chunk], BM25] | None:
    """The chunks and BM25 index `RetrievalIndex.build(repo)` makes, made from the newest earlier
    retrieval file of `version`; None when there is none to start from (then the caller builds).
    `chunk_docs(repo, path, chunks)` is the ranker's tokenizer (rank.py passes it: it imports this
    module, not the other way round)."""
    return _from_previous(repo, "retrieval", version, lambda *args: _update(*args, chunk_docs))


def _from_previous(repo: Repository, kind: str, version: str, update):
    """`update(repo, arrays of the newest earlier file of kind, changed paths in file order, stale
    paths)`, or None: no earlier file, one of another version (or none: older than updates), too
    many changes."""
    if repo.overlay:
        return None
    file = previous_file(repo.index_path, kind, ".arrays", skip=state_key(repo.files, version))
    if file is None:
        return None
    try:
        a, _ = read_arrays(file)
        if "state_version.blob" not in a or list(StringTable.of(a, "state_version")) != [version_tag(version)]:
            return None
        if kind == "retrieval" and (name := base_of(a)) is not None:  # a delta: start from its base
            a = read_base(os.path.dirname(file), name, next(iter(StringTable.of(a, "delta.base_digest"))))
        old = _state(a)
        now = dict(zip(repo.files, state_manifest(repo.files)))
        changed = [p for p, blob in now.items() if old.get(p) != blob]  # in file order
        gone = old.keys() - now.keys()
        if len(changed) + len(gone) > MAX_SHARE * max(len(now), 1):
            return None
        return update(repo, a, changed, set(changed) | gone)
    except (OSError, ValueError, KeyError, IndexError):
        return None  # an earlier file we cannot use only costs a cold build


def _update_literals(repo: Repository, a: dict, changed: list[str], stale: set[str]) -> LiteralIndex:
    file_rank = {p: i for i, p in enumerate(repo.files)}
    old_paths = list(StringTable.of(a, "paths"))
    rank = np.array([-1 if p in stale else file_rank.get(p, -1) for p in old_paths] + [-1], dtype=np.int64)
    site_path = np.asarray(a["path"])
    frag_of = np.repeat(np.arange(len(a["start"]) - 1, dtype=np.int64), np.diff(np.asarray(a["start"])))
    kept = np.flatnonzero(rank[site_path] >= 0)
    kept = kept[np.argsort(np.asarray(a["seq"])[kept], kind="stable")]  # in the earlier scan's order
    frags = StringTable.of(a, "frags").strings()
    old = [(frags[f], old_paths[p], n, r) for f, p, n, r in zip(
        frag_of[kept].tolist(), site_path[kept].tolist(), np.asarray(a["line"])[kept].tolist(), rank[site_path[kept]].tolist())]
    new = [(frag, path, n, file_rank[path]) for path in changed if repo.facts[path].language is not None
           for frag, n in literal_sites(repo.text(path))]
    # both lists are in scan order and a file's sites come from one of them: merged by file
    found = sorted(old + new, key=lambda s: s[3])
    return LiteralIndex(found=((frag, path, n) for frag, path, n, _ in found))


def _update(repo: Repository, a: dict, changed: list[str], stale: set[str], chunk_docs) -> tuple[list[Chunk], BM25]:
    parts = _chunks_and_bm25(repo, a, changed, stale, chunk_docs)
    a.clear()  # the earlier file's pages and the update's arrays are let go before the graph is built
    return parts


def _chunks_and_bm25(repo: Repository, a: dict, changed: list[str], stale: set[str],
                     chunk_docs) -> tuple[list[Chunk], BM25]:
    file_rank = {p: i for i, p in enumerate(repo.files)}

    # The chunks: the unchanged files' from the earlier file, the changed files' made again, all in
    # file order (a file's chunks come from one of the two, so a stable sort keeps them in order).
    old_paths = list(StringTable.of(a, "paths"))
    old_rank = np.array([-1 if p in stale else file_rank.get(p, -1) for p in old_paths] + [-1], dtype=np.int64)
    chunk_path = np.asarray(a["chunk_path"])
    kept = np.flatnonzero(old_rank[chunk_path] >= 0)
    symbols = list(StringTable.of(a, "symbols"))
    sym, start, end = a["chunk_symbol"][kept].tolist(), a["chunk_start"][kept].tolist(), a["chunk_end"][kept].tolist()
    sources = [Chunk(old_paths[p], s, e, None if k < 0 else symbols[k])
               for p, s, e, k in zip(chunk_path[kept].tolist(), start, end, sym)]
    docs: list[list[str]] = []
    for path in changed:
        new = file_chunks(path, repo.facts[path])
        sources += new
        docs += chunk_docs(repo, path, new)
    fresh = len(kept)
    key = np.concatenate((old_rank[chunk_path[kept]],
                          np.array([file_rank[c.path] for c in sources[fresh:]], dtype=np.int64)))
    order = np.argsort(key, kind="stable")          # new chunk id → source
    where = np.empty(len(order), dtype=np.int64)     # source → new chunk id
    where[order] = np.arange(len(order))
    chunks = [sources[i] for i in order.tolist()]

    # The postings: the kept chunks' renumbered (their order kept: kept chunks stay in file order), the
    # changed chunks' sorted and inserted, all under provisional term ids (the earlier ids, then the new
    # terms'). Then the terms are numbered in order of first appearance, as a cold build numbers them:
    # by the first chunk that has the term, then by the term's place among that chunk's terms.
    vocab = list(StringTable.of(a, "vocab"))
    doc_map = np.full(len(chunk_path), -1, dtype=np.int32)
    doc_map[kept] = where[:fresh]
    doc_old = doc_map[np.asarray(a["post_doc"])]
    live = doc_old >= 0
    doc_old = doc_old[live]
    term_old = np.repeat(np.arange(len(vocab), dtype=np.int32), np.diff(np.asarray(a["indptr"])))[live]
    tf_old, pos_old = np.asarray(a["post_tf"])[live], np.asarray(a["post_pos"])[live]
    del live
    counters = [Counter(d) for d in docs]
    word_id = {w: i for i, w in enumerate(vocab)}
    words = vocab + [t for t in dict.fromkeys(t for c in counters for t in c) if t not in word_id]
    word_id.update((w, i) for i, w in enumerate(words[len(vocab):], len(vocab)))
    new_term = np.array([word_id[t] for c in counters for t in c], dtype=np.int32)
    new_doc = np.repeat(where[fresh:], [len(c) for c in counters]).astype(np.int32)
    new_tf = np.array([n for c in counters for n in c.values()], dtype=np.int32)
    new_pos = np.array([i for c in counters for i in range(len(c))], dtype=np.int32)
    by = np.lexsort((new_doc, new_term))
    at = np.searchsorted(term_old.astype(np.int64) * len(chunks) + doc_old,
                         new_term[by].astype(np.int64) * len(chunks) + new_doc[by])
    term, doc, tf, pos = (np.insert(old, at, new[by]) for old, new in (
        (term_old, new_term), (doc_old, new_doc), (tf_old, new_tf), (pos_old, new_pos)))
    del term_old, doc_old, tf_old, pos_old
    first = np.flatnonzero(np.diff(term, prepend=-1))  # each present term's first posting
    order = np.lexsort((pos[first], doc[first]))       # present terms by first appearance
    final = np.zeros(len(words), dtype=np.int32)
    final[term[first[order]]] = np.arange(len(order))
    words = [words[i] for i in term[first[order]].tolist()]
    term = final[term]
    by = np.argsort(term, kind="stable")  # within a term, chunks stay in order
    term, doc, tf, pos = term[by], doc[by], tf[by], pos[by]
    lengths = np.zeros(len(chunks), dtype=np.int64)
    lengths[where[:fresh]] = np.asarray(a["doc_len"])[kept]
    lengths[where[fresh:]] = [len(d) for d in docs]
    return chunks, BM25.from_postings(words, lengths, term, doc, tf, pos)


# --- The retrieval index as a base file and a delta -------------------------------------------------
#
# Rewriting a Linux-sized retrieval file after an edit costs a minute (its chunks made again as
# Python objects, 1.75 GiB written and hashed). So a later state's file is a small delta over the
# newest full file (its base): the chunks and postings of the files changed since the base, the base
# files whose rows are stale, and the walk graph's out-edges of every node whose edges changed. The
# two read together (`view`) are the index a cold build makes: chunks in file order, BM25 statistics
# of the live documents, the same walk graph. Scores do not depend on term ids, node ids or the order
# of the edges (bm25.BM25.scores, rank._walk), so the packs are the cold build's, byte for byte
# (tests/test_incremental.py). A delta grown past MERGE_SHARE of the files is merged into a new base.

#: Above this share of the files changed since the base, the next state's file is a new base.
#: Measured on linux-part (11,694 files, 291,000 chunks): a one-line edit costs 0.14 s CPU over a
#: delta of that file alone and 0.40 s over one of 500 files (4.3 %), a new base 9.5 s and 1.2 GiB.
MERGE_SHARE = 0.05


def delta_arrays(repo: Repository, version: str, key: str, chunk_docs, walk) -> dict | None:
    """The arrays of a delta file of this state over the base of the newest earlier retrieval file,
    or None (then a base is made: `updated_parts` or a build). Needs the graph update this process
    made (`Repository.graph_relinked`: which files' references changed since the previous state);
    reads only the changed files, the rows of the nodes they touch, and per-chunk arrays. `walk`
    is the ranker's module (its node names, walk edge weights and priors), passed as `chunk_docs`
    is: rank.py imports this module, not the other way round."""
    if repo.overlay or not repo.index_path:
        return None
    _ = repo.graph  # made now if it is not yet: the update of it says what changed
    relinked = repo.__dict__.get("graph_relinked")
    if relinked is None or not hasattr(repo.graph, "references_to"):
        return None
    prev = previous_file(repo.index_path, "retrieval", ".arrays", skip=key)
    if prev is None:
        return None
    try:
        return _delta(repo, version, prev, relinked, chunk_docs, walk)
    except (OSError, ValueError, KeyError, IndexError):
        return None  # an earlier file we cannot use only costs a base


def base_of(a: dict) -> str | None:
    """The file name of a delta's base (None for a base)."""
    return next(iter(StringTable.of(a, "delta.base"))) if "delta.base.blob" in a else None


def read_base(folder: str, name: str, digest: str | None = None) -> dict:
    """A delta's base file's arrays, once its seal holds (and it has `digest`, the digest of the
    base the delta was written over); FileNotFoundError when it is gone or unsealed."""
    from repoctx.index import seal
    if "/" in name or not name.endswith(".arrays") or name.startswith("."):
        raise seal.Damaged(f"its base is named {name!r}")
    path = os.path.join(folder, name)
    try:
        found = seal.check_file(path, f"retrieval/{name}")
    except seal.Damaged:
        seal.discard(path)  # reported once, with the delta read over it: not again
        raise
    if not found:
        raise FileNotFoundError(path)
    if digest is not None and found != digest:
        raise seal.Damaged(f"base {name} is not the one it was written over")
    a, _ = read_arrays(path)
    if "delta.base.blob" in a:
        raise seal.Damaged(f"base {name} is a delta")
    return a


def _state(a: dict) -> dict[str, str]:
    """path → manifest entry of the state a file is of (its tables decoded whole, not string by string)."""
    return dict(zip(StringTable.of(a, "state_paths"), StringTable.of(a, "state_blobs")))


def _graph_key(state: dict[str, str]) -> str:
    """The graph file's state key of a state given as its manifest."""
    from repoctx.graph.store import graph_key
    files = {}
    for p, entry in state.items():
        blob, _, lang = entry.partition("\0")
        files[p] = SimpleNamespace(blob_sha=blob, language=lang or None)
    return graph_key(files)


def _delta(repo: Repository, version: str, prev: str, relinked, chunk_docs, walk) -> dict | None:
    from repoctx.index import seal
    MODULE = walk.MODULE  # the ranker's name
    folder = os.path.dirname(prev)
    a_prev, _ = read_arrays(prev)
    if "state_version.blob" not in a_prev or list(StringTable.of(a_prev, "state_version")) != [version_tag(version)]:
        return None
    prev_state = _state(a_prev)
    graph_base, relinked_files = relinked
    if os.path.basename(graph_base) != _graph_key(prev_state) + ".sqlite":
        return None  # the graph was updated from another state than this file's
    name = base_of(a_prev)
    if name is None:
        name, a_base, digest = os.path.basename(prev), a_prev, seal.check_file(prev, f"retrieval/{os.path.basename(prev)}")
    else:
        digest = next(iter(StringTable.of(a_prev, "delta.base_digest")))
        a_base = read_base(folder, name, digest)
    base_state = _state(a_base)
    files = list(repo.files)
    now = dict(zip(files, state_manifest(repo.files)))
    changed = [p for p in files if base_state.get(p) != now[p]]        # since the base, in file order
    gone = base_state.keys() - now.keys()
    if len(changed) + len(gone) > MERGE_SHARE * max(len(files), 1):
        return None
    step = {p for p in files if prev_state.get(p) != now[p]} | (prev_state.keys() - now.keys())
    touched = step | set(relinked_files)  # files whose chunks or references changed since `prev`

    # The changed files' chunks and postings: made again for the files changed since `prev`, the
    # previous delta's kept for the others.
    chunks, vocab, indptr, post_doc, post_tf, doc_len, from_prev = _rows(
        repo, changed, step, a_prev if a_prev is not a_base else None, chunk_docs)
    g = repo.graph
    base_paths = StringTable.of(a_base, "paths")
    stale = sorted(i for p in set(changed) | gone if (i := base_paths.get(p)) is not None)

    # The nodes whose out-edges differ from the base: the previous delta's, and those touching a file
    # changed or relinked since the previous state (before: as `prev` has them; now: as the graph has).
    base_nodes = StringTable.of(a_base, "nodes")
    old = _Edges(a_base, a_prev if a_prev is not a_base else None)
    state_paths = StringTable.of(a_base, "state_paths")
    in_touched = np.array([p in touched for p in state_paths] + [False])
    mine = {base_nodes.name(i) for i in np.flatnonzero(in_touched[np.asarray(a_base["node_file"])]).tolist()}
    mine.update(n for n in old.new_nodes() if _path_of(n, prev_state) in touched)
    live_chunks = _ChunksOf(a_base, base_paths, set(changed) | gone, chunks)
    for p in touched:
        if p in now:
            mine.add(f"{p}:{MODULE}")
            mine.update(f"{p}:{c.symbol or MODULE}" for c in live_chunks(p))
            mine.update(s for s, _, _ in g.references_from(p))
    by_source: dict[str, dict[str, list]] = {}
    lists: dict[str, list[tuple[str, float]]] = {}

    def edges_now(x: str) -> list[tuple[str, float]]:
        """A node's out-edges now, (target, weight), weighted as rank._walk_graph weighs them."""
        if x not in lists:
            edges = _out_edges(x, g, now, live_chunks, by_source, walk)
            raw = np.array([r for _, r in edges], dtype=np.float64)
            lists[x] = list(zip([t for t, _ in edges], (raw / raw.sum()).tolist() if len(raw) else []))
        return lists[x]
    # A node of those files whose edges are as they were changes nothing; one whose edges changed
    # changes its own and those of the nodes at their other ends (each edge has its reverse).
    # The previous delta's other nodes keep their edges as it has them.
    over: set[str] = set()
    for x in mine:
        new, before = edges_now(x), old.out(x)
        if sorted(new) != sorted(before):
            over.add(x)
            over.update(t for t, _ in new)
            over.update(t for t, _ in before)
    kept = [x for x in old.overridden() if x not in over]
    new_names: dict[str, int] = {}

    def node_id(name: str) -> int:
        i = base_nodes.get(name)
        if i is None:
            i = new_names.setdefault(name, len(base_nodes) + len(new_names))
        return i
    over_ids, ptr, dst, w = [], [0], [], []
    for x in sorted(over):
        edges = edges_now(x)
        if not edges and base_nodes.get(x) is None:
            continue  # a node no longer anywhere: no id
        over_ids.append(node_id(x))
        dst += [node_id(t) for t, _ in edges]
        w.append(np.array([x for _, x in edges], dtype=np.float64))
        ptr.append(len(dst))
    renumber = np.array([node_id(n) for n in old.new_nodes()], dtype=np.int64)
    for x in sorted(kept):
        targets, weights = old.raw(x)
        over_ids.append(node_id(x))
        dst += np.where(targets < len(base_nodes), targets, renumber[np.maximum(targets - len(base_nodes), 0)]
                        if len(renumber) else targets).tolist()
        w.append(np.asarray(weights, dtype=np.float64))
        ptr.append(len(dst))
    # a chunk the previous delta had keeps its node, renumbered; the others' looked up
    chunk_node = np.array([-1 if j >= 0 else node_id(f"{c.path}:{c.symbol or MODULE}")
                           for c, j in zip(chunks, from_prev.tolist())], dtype=np.int64)
    if (from_prev >= 0).any():
        prev_node = np.asarray(a_prev["d.chunk_node"])[from_prev[from_prev >= 0]]
        chunk_node[from_prev >= 0] = np.where(
            prev_node < len(base_nodes), prev_node, renumber[np.maximum(prev_node - len(base_nodes), 0)]
            if len(renumber) else prev_node)
    symbols = sorted({c.symbol for c in chunks if c.symbol is not None})
    symbol_id = {s: i for i, s in enumerate(symbols)}
    paths = list(dict.fromkeys(c.path for c in chunks))
    path_id = {p: i for i, p in enumerate(paths)}
    order = np.argsort(np.array(over_ids, dtype=np.int64), kind="stable")
    counts = np.diff(np.array(ptr, dtype=np.int64))
    runs = [np.arange(ptr[i], ptr[i + 1]) for i in order.tolist()]
    at = np.concatenate(runs) if runs else np.zeros(0, dtype=np.int64)
    return {
        **StringTable.columns("delta.base", [name]), **StringTable.columns("delta.base_digest", [digest]),
        **manifest_columns(repo.files, version),
        "d.stale": np.array(stale, dtype=np.int64),
        **StringTable.columns("d.paths", paths), **StringTable.columns("d.symbols", symbols),
        "d.chunk_path": np.array([path_id[c.path] for c in chunks], dtype=np.int64),
        "d.chunk_start": np.array([c.start for c in chunks], dtype=np.int64),
        "d.chunk_end": np.array([c.end for c in chunks], dtype=np.int64),
        "d.chunk_symbol": np.array([-1 if c.symbol is None else symbol_id[c.symbol] for c in chunks], dtype=np.int64),
        "d.chunk_node": chunk_node,
        "d.prior": np.array([walk._factor(c.path, repo.files[c.path].language) for c in chunks], dtype=np.float64),
        **StringTable.columns("d.vocab", vocab), "d.indptr": indptr, "d.post_doc": post_doc,
        "d.post_tf": post_tf, "d.doc_len": doc_len,
        **StringTable.columns("d.nodes", list(new_names)),
        "d.over": np.array(over_ids, dtype=np.int64)[order],
        "d.over_ptr": np.concatenate(([0], np.cumsum(counts[order]))).astype(np.int64),
        "d.over_dst": np.array(dst, dtype=np.int64)[at] if len(at) else np.zeros(0, dtype=np.int64),
        "d.over_w": np.concatenate(w)[at] if len(at) else np.zeros(0),
        "d.sizes": np.array([len(a_base["chunk_path"]), len(base_nodes), len(base_paths)], dtype=np.int64),
    }


def _rows(repo: Repository, changed: list[str], step: set[str], prev: dict | None, chunk_docs) -> tuple:
    """(chunks, vocabulary, indptr, documents, counts, lengths, each chunk's row in `prev` or -1) of
    the files changed since the base, in file order: a file changed since the previous state
    chunked and tokenised, another's rows taken from the previous delta (`prev`) as they are (what a
    delta costs grows with the change since the previous state, not since the base)."""
    reused: dict[str, np.ndarray] = {}
    if prev is not None:
        prev_paths = list(StringTable.of(prev, "d.paths"))
        by_path = np.asarray(prev["d.chunk_path"])
        for i, p in enumerate(prev_paths):
            if p not in step:
                reused[p] = np.flatnonzero(by_path == i)
        prev_symbols = list(StringTable.of(prev, "d.symbols"))
    chunks: list[Chunk] = []
    docs: list[list[str]] = []
    source: list[tuple[bool, int]] = []  # each chunk: (from the previous delta, its document there or in `docs`)
    for p in changed:
        if p in reused:
            ids = reused[p]
            for j, a, b, k in zip(ids.tolist(), prev["d.chunk_start"][ids].tolist(), prev["d.chunk_end"][ids].tolist(),
                                  prev["d.chunk_symbol"][ids].tolist()):
                chunks.append(Chunk(p, a, b, None if k < 0 else prev_symbols[k]))
                source.append((True, j))
        else:
            new = file_chunks(p, repo.facts[p])
            source += [(False, len(docs) + i) for i in range(len(new))]
            chunks += new
            docs += chunk_docs(repo, p, new)
    bm = BM25(docs)
    fresh_doc = np.full(len(docs), -1, dtype=np.int64)
    lengths = np.zeros(len(chunks), dtype=np.int64)
    terms, doc, tf = [], [], []
    words = list(bm.vocab)
    old = np.array([o for o, _ in source], dtype=bool)
    at = np.array([j for _, j in source], dtype=np.int64)
    if prev is not None:
        prev_doc = np.full(len(prev["d.chunk_start"]), -1, dtype=np.int64)
        prev_doc[at[old]] = np.flatnonzero(old)
        lengths[old] = np.asarray(prev["d.doc_len"])[at[old]]
        d = prev_doc[np.asarray(prev["d.post_doc"])]
        keep = d >= 0
        prev_words = list(StringTable.of(prev, "d.vocab"))
        word_id = {w: i for i, w in enumerate(words)}
        remap = np.array([word_id.setdefault(w, len(word_id)) for w in prev_words], dtype=np.int64)
        words = list(word_id)
        t = np.repeat(np.arange(len(prev_words), dtype=np.int64), np.diff(np.asarray(prev["d.indptr"])))
        terms.append(remap[t[keep]] if len(remap) else t[keep])
        doc.append(d[keep])
        tf.append(np.asarray(prev["d.post_tf"])[keep])
    fresh_doc[at[~old]] = np.flatnonzero(~old)
    lengths[~old] = bm.doc_len[at[~old]]
    terms.append(np.repeat(np.arange(len(bm.vocab), dtype=np.int64), np.diff(bm.indptr)))
    doc.append(fresh_doc[bm.post_doc])
    tf.append(bm.post_tf)
    term, doc, tf = np.concatenate(terms), np.concatenate(doc), np.concatenate(tf).astype(np.int32)
    used = np.bincount(term, minlength=len(words)) > 0  # terms of no kept document are dropped
    new_id = np.cumsum(used) - 1
    term = new_id[term]
    order = np.lexsort((doc, term))
    indptr = np.concatenate(([0], np.cumsum(np.bincount(term, minlength=int(used.sum()))))).astype(np.int64)
    return (chunks, [w for w, u in zip(words, used.tolist()) if u], indptr, doc[order].astype(np.int32),
            tf[order], lengths, np.where(old, at, -1))


def _out_edges(x: str, g, now: dict, chunks_of, by_source: dict, walk) -> list[tuple[str, float]]:
    """A walk node's out-edges in the repository's state now, (target, weight) as
    rank._walk_graph makes them: containment, references both ways, imports both ways."""
    MODULE, CALLED, CALLS, CONTAINS, IMPORTED, IMPORTS = (  # the ranker's names
        walk.MODULE, walk.CALLED, walk.CALLS, walk.CONTAINS, walk.IMPORTED, walk.IMPORTS)
    out: list[tuple[str, float]] = []
    path = _path_of(x, now)
    if path is not None:
        module = f"{path}:{MODULE}"
        for c in chunks_of(path):
            if c.symbol:
                node = f"{path}:{c.symbol}"
                if x == module:
                    out.append((node, CONTAINS))
                elif x == node:
                    out.append((module, CONTAINS))
        if path not in by_source:
            rows: dict[str, list] = {}
            for s, t, _ in g.references_from(path):
                rows.setdefault(s, []).append(t)
            by_source[path] = rows
        out += [(t, CALLS) for t in by_source[path].get(x, ())]
    out += [(s, CALLED) for s, _, _ in g.references_to(x)]  # graph/store.py StoredGraph
    if path is not None and x == f"{path}:{MODULE}":
        out += [(f"{b}:{MODULE}", IMPORTS) for b in g.imported_by(path)]
        out += [(f"{a}:{MODULE}", IMPORTED) for a in g.importers_of(path)]
    return out


def _path_of(node: str, files: dict) -> str | None:
    """The file a node "path:Qualified.name" is in (a path may hold ':'; the longest that is a file)."""
    found, at = None, node.find(":")
    while at >= 0:
        if node[:at] in files:
            found = node[:at]
        at = node.find(":", at + 1)
    return found


class _ChunksOf:
    """A file's chunks in the state now: the delta's for a file changed since the base, else the
    base's (read from its arrays by the file's run)."""

    def __init__(self, a_base: dict, base_paths: StringTable, stale: set[str], chunks: list[Chunk]):
        self._a, self._paths, self._stale = a_base, base_paths, stale
        self._symbols = StringTable.of(a_base, "symbols")
        self._new: dict[str, list[Chunk]] = {}
        for c in chunks:
            self._new.setdefault(c.path, []).append(c)

    def __call__(self, path: str) -> list[Chunk]:
        if path in self._stale:
            return self._new.get(path, [])
        i = self._paths.get(path)
        if i is None:
            return []
        a = self._a
        ids, starts, order = a["group_ids"], a["group_starts"], a["group_order"]
        k = int(np.searchsorted(ids, i))
        if k == len(ids) or ids[k] != i:
            return []
        run = order[starts[k]:starts[k + 1] if k + 1 < len(starts) else len(order)]
        return [Chunk(path, int(a["chunk_start"][j]), int(a["chunk_end"][j]),
                      None if a["chunk_symbol"][j] < 0 else self._symbols.name(int(a["chunk_symbol"][j])))
                for j in run.tolist()]


class _Edges:
    """The walk graph's out-edges of a node as a retrieval file (a base, or a delta over it) has
    them, by name."""

    def __init__(self, a_base: dict, a_delta: dict | None):
        self._nodes = StringTable.of(a_base, "nodes")
        if "source_ptr" in a_base:
            self._ptr, self._dst, self._w = a_base["source_ptr"], a_base["source_dst"], a_base["source_w"]
        else:
            src = np.asarray(a_base["src"])
            order = np.argsort(src, kind="stable")
            self._ptr = np.concatenate(([0], np.cumsum(np.bincount(src, minlength=len(self._nodes)))))
            self._dst, self._w = np.asarray(a_base["dst"])[order], np.asarray(a_base["w"])[order]
        self._over: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        self._new: list[str] = []
        if a_delta is not None:
            self._new = list(StringTable.of(a_delta, "d.nodes"))
            ptr, dst, w = a_delta["d.over_ptr"], a_delta["d.over_dst"], a_delta["d.over_w"]
            for k, x in enumerate(a_delta["d.over"].tolist()):
                self._over[x] = dst[ptr[k]:ptr[k + 1]], w[ptr[k]:ptr[k + 1]]
        self._new_id = {name: len(self._nodes) + k for k, name in enumerate(self._new)}

    def name(self, i: int) -> str:
        n = len(self._nodes)
        return self._nodes.name(i) if i < n else self._new[i - n]

    def overridden(self) -> list[str]:
        return [self.name(i) for i in self._over]

    def new_nodes(self) -> list[str]:
        return self._new

    def raw(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        """An overridden node's out-edges as the delta holds them: (target ids, weights)."""
        i = self._nodes.get(name)
        return self._over[self._new_id[name] if i is None else i]

    def out(self, name: str) -> list[tuple[str, float]]:
        """The node's out-edges, (target, weight)."""
        i = self._nodes.get(name)
        if i is None:
            i = self._new_id.get(name)
            if i is None:
                return []
        if i in self._over:
            targets, w = self._over[i]
        elif i < len(self._nodes):
            targets, w = self._dst[self._ptr[i]:self._ptr[i + 1]], self._w[self._ptr[i]:self._ptr[i + 1]]
        else:
            return []
        return [(self.name(t), x) for t, x in zip(targets.tolist(), w.tolist())]


class View:
    """A base file and a delta over it read as one index: the arrays `RetrievalIndex` reads, in the
    cold build's chunk order, with the postings of both (`bm25.BM25.of_segments`) and the walk
    graph's edges of both (`edges_by_source`). Costs per-chunk and per-node arrays, nothing per
    posting or edge, until a query walks the graph."""

    def __init__(self, repo: Repository, a: dict, base: dict):
        files = list(repo.files)
        rank = {p: i for i, p in enumerate(files)}
        sizes = a["d.sizes"].tolist()
        if sizes != [len(base["chunk_path"]), len(StringTable.of(base, "nodes")), len(StringTable.of(base, "paths"))]:
            raise ValueError("a delta of another base")
        # chunks: the base's of files unchanged since it, the delta's, by file in the files' order
        base_paths = list(StringTable.of(base, "paths"))
        path_rank = np.array([rank.get(p, -1) for p in base_paths] + [-1], dtype=np.int64)
        stale = np.asarray(a["d.stale"])
        if len(stale) and (stale.min() < 0 or stale.max() >= len(base_paths)):
            raise ValueError("damaged delta")
        path_rank[stale] = -1
        bpath = np.asarray(base["chunk_path"])
        if len(bpath) and (bpath.min() < 0 or bpath.max() >= len(base_paths)):
            raise ValueError("damaged retrieval index")
        live = np.flatnonzero(path_rank[bpath] >= 0)
        d_paths = list(StringTable.of(a, "d.paths"))
        d_rank = np.array([rank[p] for p in d_paths], dtype=np.int64)[np.asarray(a["d.chunk_path"])] \
            if d_paths else np.zeros(0, dtype=np.int64)
        key = np.concatenate((path_rank[bpath[live]], d_rank))
        order = np.argsort(key, kind="stable")
        where = np.empty(len(order), dtype=np.int64)
        where[order] = np.arange(len(order))
        self.base_map = np.full(len(bpath), -1, dtype=np.int64)
        self.base_map[live] = where[:len(live)]
        self.delta_map = where[len(live):]
        ranks = key[order]  # ascending: each file's chunks are one run
        first = np.diff(ranks, prepend=-1) != 0
        self.paths = [files[i] for i in ranks[first].tolist()]
        self.chunk_path = np.cumsum(first) - 1

        def join(name: str, delta_name: str) -> np.ndarray:
            return np.concatenate((np.asarray(base[name])[live], np.asarray(a[delta_name])))[order]
        self.chunk_start, self.chunk_end = join("chunk_start", "d.chunk_start"), join("chunk_end", "d.chunk_end")
        self.prior, self.doc_len = join("prior", "d.prior"), join("doc_len", "d.doc_len")
        self.base_symbols, self.delta_symbols = StringTable.of(base, "symbols"), list(StringTable.of(a, "d.symbols"))
        d_sym = np.asarray(a["d.chunk_symbol"])
        self.chunk_symbol = np.concatenate((np.asarray(base["chunk_symbol"])[live],
                                            np.where(d_sym < 0, -1, d_sym + len(self.base_symbols))))[order]
        self.base_nodes, self.new_nodes = StringTable.of(base, "nodes"), list(StringTable.of(a, "d.nodes"))
        n_nodes = len(self.base_nodes) + len(self.new_nodes)
        self.chunk_node = join("chunk_node", "d.chunk_node")
        if len(self.chunk_node) and (self.chunk_node.min() < -1 or self.chunk_node.max() >= n_nodes):
            raise ValueError("damaged delta")
        self.bm25 = BM25.of_segments(
            [(StringTable.of(base, "vocab"), base["indptr"], base["post_doc"], base["post_tf"], self.base_map),
             (StringTable.of(a, "d.vocab"), a["d.indptr"], a["d.post_doc"], a["d.post_tf"], self.delta_map)],
            self.doc_len)
        # walk graph: the base's edges of every node the delta does not give anew, and the delta's
        self.over = np.asarray(a["d.over"])
        self.over_ptr, self.over_dst, self.over_w = a["d.over_ptr"], a["d.over_dst"], a["d.over_w"]
        if len(self.over) and (self.over.min() < 0 or self.over.max() >= n_nodes) or \
                len(self.over_dst) and (self.over_dst.min() < 0 or self.over_dst.max() >= n_nodes) or \
                len(self.over_ptr) != len(self.over) + 1 or self.over_ptr[-1] != len(self.over_dst):
            raise ValueError("damaged delta")
        self.n_nodes = n_nodes
        self.base = base
        base_files = list(StringTable.of(base, "state_paths"))
        file_map = np.array([rank.get(p, -1) for p in base_files] + [-1], dtype=np.int64)
        self.node_file = np.concatenate((file_map[np.asarray(base["node_file"])],
                                         np.array([rank.get(_path_of(n, rank), -1) if _path_of(n, rank) else -1
                                                   for n in self.new_nodes], dtype=np.int64)))
        d_leaves: dict[str, list[int]] = {}
        for i, sym in zip(self.delta_map.tolist(), np.asarray(a["d.chunk_symbol"]).tolist()):
            if sym >= 0:
                d_leaves.setdefault(self.delta_symbols[sym].rsplit(".", 1)[-1], []).append(i)
        self.leaves = _Leaves(base, self.base_map, d_leaves)

    def symbol_name(self, i: int) -> str:
        n = len(self.base_symbols)
        return self.base_symbols.name(i) if i < n else self.delta_symbols[i - n]

    def edges_by_source(self) -> tuple:
        """((each node's first edge, one past its last), targets, weights): a base node's run is
        the base's, an overridden or new node's the delta's (at positions after the base's)."""
        if "_by_source" not in self.__dict__:
            b = self.base
            if "source_ptr" in b:
                ptr, dst, w = b["source_ptr"], b["source_dst"], b["source_w"]
            else:
                src = np.asarray(b["src"])
                order = np.argsort(src, kind="stable")
                ptr = np.concatenate(([0], np.cumsum(np.bincount(src, minlength=len(self.base_nodes)))))
                dst, w = np.asarray(b["dst"])[order], np.asarray(b["w"])[order]
            nb, e = len(self.base_nodes), len(dst)
            lo = np.zeros(self.n_nodes, dtype=np.int64)
            hi = np.zeros(self.n_nodes, dtype=np.int64)
            lo[:nb], hi[:nb] = ptr[:-1], ptr[1:]
            lo[self.over], hi[self.over] = e + self.over_ptr[:-1], e + self.over_ptr[1:]
            self._by_source = (lo, hi), _Joined(dst, self.over_dst), _Joined(w, self.over_w)
        return self._by_source

    def n_edges(self) -> int:
        (lo, hi), _, _ = self.edges_by_source()
        return int((hi - lo).sum())

    def edges(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Every edge (sources, targets, weights), in no particular order (the walk does not care)."""
        (lo, hi), dst, w = self.edges_by_source()
        counts = hi - lo
        at = np.repeat(lo - np.cumsum(counts) + counts, counts) + np.arange(counts.sum())
        return np.repeat(np.arange(self.n_nodes), counts), dst[at], w[at]

    def live_nodes(self) -> np.ndarray:
        """The nodes a cold build of this state has: every edge has its reverse, so those with an
        out-edge, and the chunks' nodes."""
        (lo, hi), _, _ = self.edges_by_source()
        live = hi > lo
        live[self.chunk_node[self.chunk_node >= 0]] = True
        return live


class _Joined:
    """Two arrays read as one (the base's, then the delta's), by gathers only."""

    def __init__(self, first: np.ndarray, second: np.ndarray):
        self._a, self._b = first, second

    def __getitem__(self, at: np.ndarray) -> np.ndarray:
        at = np.asarray(at)
        n = len(self._a)
        first = at < n
        if first.all():
            return self._a[at]
        out = np.empty(len(at), dtype=self._a.dtype)
        out[first] = self._a[at[first]]
        out[~first] = self._b[at[~first] - n]
        return out


class _Leaves(Mapping):
    """Last part of a chunk's symbol → its chunks, of a view: the base's (renumbered, the stale
    left out) and the delta's."""

    def __init__(self, base: dict, base_map: np.ndarray, delta: dict[str, list[int]]):
        from repoctx.index.arrays import ListTable
        self._base, self._map, self._delta = ListTable.of(base, "leaves"), base_map, delta

    def __getitem__(self, name: str) -> list[int]:
        ids = self._map[self._base[name]].tolist() if name in self._base else []
        out = [i for i in ids if i >= 0] + self._delta.get(name, [])
        if not out:
            raise KeyError(name)
        return sorted(out)

    def __iter__(self):
        return (k for k in dict.fromkeys([*self._base, *self._delta]) if k in self)

    def __len__(self) -> int:
        return sum(1 for _ in self)


# --- The literal index as a base file and a delta ----------------------------------------------------
#
# The literal index of the Linux source is 60 MB; reading every site back and writing the index again
# after an edit took 6 s. So a state's literals file is a delta over a base kept in `literals-base/`
# (apart from `literals/`, whose states `cache._prune` removes): the sites of the files changed since
# the base (the files unchanged since the previous state carried over from its delta, the others
# scanned), the files whose base sites it supersedes (`delta.stale`), and the base's name and digest.
# A base is sealed once; one that fails its seal or the delta's digest is discarded and the state
# scanned again with one warning. `LiteralView` reads the two as the index a cold scan makes. Past
# MERGE_SHARE of the files changed since the base, the next state gets a new base (`_update_literals`).

#: What a literal base may be named (a delta names its base: never a path, a link or a seal).
_LITERAL_BASE = re.compile(r"[0-9a-f]{40}\.arrays")
#: A literal delta is merged into a new base past this share of the files changed since the base.
LITERAL_MERGE_SHARE = 0.05


def literal_index(repo: Repository) -> LiteralIndex:
    """The literal index of this state (`LiteralIndex(repo)`), read from its file or made: a delta
    over the previous state's base, a new base, or a cold scan."""
    key = state_key(repo.files, LiteralIndex.VERSION)
    return cached_file(repo.index_path, "literals", key, ".arrays", lambda: _literal_state(repo, key),
                       lambda value, file: _write_literal_state(repo, value, file), _read_literal_state,
                       reopen=True, unwritten=lambda value: value[1] if value[0] == "base" else LiteralIndex(repo))


def _literal_state(repo: Repository, key: str) -> tuple[str, object]:
    """("delta", the arrays of a delta over the newest earlier state's base) or ("base", a whole
    `LiteralIndex`: made from that base and the changed files, or scanned cold)."""
    prev = previous_file(repo.index_path, "literals", ".arrays", skip=key)
    if prev is not None:
        try:
            got = _literal_update(repo, prev)
            if got is not None:
                return got
        except seal.Damaged as exc:
            seal.warn(f"literals cache {prev} could not be updated from ({exc}): scanned again")
        except (OSError, ValueError, KeyError, IndexError):
            pass  # an earlier file we cannot use only costs a cold scan
    return "base", LiteralIndex(repo)


def _literal_update(repo: Repository, prev: str) -> tuple[str, object] | None:
    a, _ = read_arrays(prev)
    if "state_version.blob" not in a or list(StringTable.of(a, "state_version")) != [version_tag(LiteralIndex.VERSION)]:
        return None
    now = dict(zip(repo.files, state_manifest(repo.files)))
    name = next(iter(StringTable.of(a, "delta.base"))) if "delta.base.blob" in a else None
    a_base = a if name is None else _literal_base(prev, name, next(iter(StringTable.of(a, "delta.base_digest"))))
    base_state = _state(a_base)
    since = [p for p in now if base_state.get(p) != now[p]]  # changed since the base, in file order
    gone = base_state.keys() - now.keys()
    if len(since) + len(gone) > MAX_SHARE * max(len(now), 1):
        return None
    if name is None or len(since) + len(gone) > LITERAL_MERGE_SHARE * max(len(now), 1):
        return "base", _update_literals(repo, a_base, since, set(since) | gone)
    prev_state, prev_stale = _state(a), set(StringTable.of(a, "delta.stale").strings())
    carried = {p for p in since if p in prev_stale and prev_state.get(p) == now[p]}  # in the previous delta
    kept: dict[str, list[tuple[int, str, int]]] = {}
    if carried:
        lit, seq = LiteralIndex.of(a), np.asarray(a["seq"]).tolist()
        for i, frag in enumerate(lit.frags):
            at = int(lit._start[i])
            for k, (path, line) in enumerate(lit.sites(i)):
                if path in carried:
                    kept.setdefault(path, []).append((seq[at + k], frag, line))
    found = []
    for p in since:
        if p in carried:
            found += [(frag, p, line) for _, frag, line in sorted(kept.get(p, ()))]
        elif repo.facts[p].language is not None:
            found += [(frag, p, line) for frag, line in literal_sites(repo.text(p))]
    digest = next(iter(StringTable.of(a, "delta.base_digest")))
    return "delta", LiteralIndex(found=found).columns() | _literal_delta_columns(repo, name, digest, sorted(set(since) | gone))


def _literal_delta_columns(repo: Repository, base: str, digest: str, stale: list[str]) -> dict:
    return (manifest_columns(repo.files, LiteralIndex.VERSION) | StringTable.columns("delta.base", [base])
            | StringTable.columns("delta.base_digest", [digest]) | StringTable.columns("delta.stale", stale))


def _write_literal_state(repo: Repository, value: tuple[str, object], file: str) -> None:
    """A delta's arrays at `file`; or a whole index as a new base, sealed, and an empty delta over it."""
    kind, got = value
    folder = os.path.join(os.path.dirname(os.path.dirname(file)), "literals-base")
    if kind == "delta":
        write_arrays(file, got)
        _prune_literal_bases(file, folder)  # a base only states pruned since named
        return
    os.makedirs(folder, exist_ok=True)
    name = f"{os.urandom(20).hex()}.arrays"  # never an existing base: a kept state may read that one
    base = os.path.join(folder, name)
    try:
        write_arrays(base, got.columns() | manifest_columns(repo.files, LiteralIndex.VERSION))
        digest = seal.seal_file(base, f"literals-base/{name}")
        write_arrays(file, LiteralIndex(found=()).columns() | _literal_delta_columns(repo, name, digest, []))
    finally:
        _prune_literal_bases(file, folder)


def _prune_literal_bases(file: str, folder: str) -> None:
    """Remove the bases no state file beside `file` names (their states were pruned)."""
    named = set()
    for e in os.scandir(os.path.dirname(file)):
        if e.name.endswith(".arrays") and e.is_file(follow_symlinks=False):
            try:
                a, _ = read_arrays(e.path)
                named.update(StringTable.of(a, "delta.base").strings() if "delta.base.blob" in a else ())
            except (OSError, ValueError, KeyError):
                continue
    for e in os.scandir(folder):
        if e.name not in named and not e.name.endswith(".seal"):
            seal.discard(e.path)


def _literal_base(file: str, name: str, digest: str) -> dict:
    """The arrays of the base a literals delta at `file` names, once its seal and `digest` hold;
    FileNotFoundError when it is gone or unsealed, Damaged (and discarded) when it fails."""
    if not _LITERAL_BASE.fullmatch(name):
        raise seal.Damaged(f"its base is named {name!r}")
    path = os.path.join(os.path.dirname(os.path.dirname(file)), "literals-base", name)
    try:
        found = seal.check_file(path, f"literals-base/{name}")
        if found and found != digest:
            raise seal.Damaged(f"base {name} is not the one it was written over")
        if not found:
            raise FileNotFoundError(path)  # unsealed: as good as missing
        a, _ = read_arrays(path)
        if "delta.base.blob" in a:
            raise seal.Damaged(f"base {name} is a delta")
        return a
    except seal.Damaged:
        seal.discard(path)  # said once: no other state's read or update meets it again
        raise


def _read_literal_state(file: str) -> LiteralIndex:
    """The literal index of a state's file: a whole index (an earlier layout), its base alone (a
    delta that supersedes nothing), or the two read together (`LiteralView`)."""
    a, _ = read_arrays(file)
    if "delta.base.blob" not in a:
        return LiteralIndex.of(a)
    a_base = _literal_base(file, next(iter(StringTable.of(a, "delta.base"))),
                           next(iter(StringTable.of(a, "delta.base_digest"))))
    stale = set(StringTable.of(a, "delta.stale").strings())
    if not stale:
        return LiteralIndex.of(a_base)
    return LiteralView((LiteralIndex.of(a_base), a_base["seq"], stale), (LiteralIndex.of(a), a["seq"], set()))


class LiteralView(LiteralIndex):
    """A base literal index and a delta read as the one index a cold scan of the state makes: the
    base's sites in the files the delta supersedes left out, the delta's added; a fragment's sites
    in scan order (files in path order, each file's in its order: each file's sites come from one
    part), fragments and lowered fragments in order of their first site. `LiteralIndex.matches`
    reads it through `by_word`, `lowered`, `frags` and `sites`, resolved per lowered fragment."""

    def __init__(self, *parts: tuple[LiteralIndex, np.ndarray, set[str]]):
        super().__init__()
        self._parts = [(lit, np.asarray(seq), np.array([p in stale for p in lit._paths] + [False], dtype=bool))
                       for lit, seq, stale in parts]
        self.frags, self._sites = [], []
        self._by_low: dict[str, tuple[tuple, list[int]]] = {}  # lowered → (first site, fragment ids)
        self.lowered = _Lookup(lambda low: self._low(low)[1])
        self.by_word = _Lookup(self._word)

    def sites(self, i: int) -> list[tuple[str, int]]:
        return self._sites[i]

    def _low(self, low: str) -> tuple[tuple, list[int]]:
        got = self._by_low.get(low)
        if got is None:
            by_frag: dict[str, list[tuple[str, int, int]]] = {}
            for lit, seq, dead in self._parts:
                for i in lit.lowered.get(low, ()):
                    a, b = int(lit._start[i]), int(lit._start[i + 1])
                    paths = np.asarray(lit._path[a:b])
                    live = np.flatnonzero(~dead[paths])
                    if len(live):
                        by_frag.setdefault(lit.frags[i], []).extend(
                            (lit._paths[p], s, n) for p, s, n in zip(paths[live].tolist(), seq[a:b][live].tolist(),
                                                                      np.asarray(lit._line[a:b])[live].tolist()))
            ids = []
            for frag, sites in sorted(by_frag.items(), key=lambda fs: min(fs[1])):
                sites.sort()
                self.frags.append(frag)
                self._sites.append([(p, n) for p, _, n in sites])
                ids.append(len(self.frags) - 1)
            got = self._by_low[low] = (min(min(s) for s in by_frag.values()) if by_frag else (), ids)
        return got

    def _word(self, word: str) -> list[str]:
        lows = dict.fromkeys(low for lit, _, _ in self._parts if word in lit.by_word for low in lit.by_word[word])
        return sorted((low for low in lows if self._low(low)[1]), key=lambda low: self._low(low)[0])


class _Lookup(Mapping):
    """A mapping answered by `get(key)` (an empty answer: no such key), looked up only."""

    def __init__(self, get):
        self._get = get

    def __getitem__(self, key):
        got = self._get(key)
        if not got:
            raise KeyError(key)
        return got

    def __contains__(self, key) -> bool:
        return bool(self._get(key))

    def __iter__(self):
        raise TypeError("not iterable: looked up by key")

    def __len__(self) -> int:
        raise TypeError("no length: looked up by key")
