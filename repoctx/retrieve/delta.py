"""The retrieval index of a repository state made from an earlier state's, not from scratch.

After an edit, a pull or a checkout, most files are as they were. Tokenising every file is most of a
cold build (Django: 14 of 20 s), so the chunks and BM25 postings of unchanged files are taken from the
newest retrieval file beside the index (`cache.previous_file`), and only the changed files are chunked
and tokenised. The result is the very index a cold build makes, array for array: chunks are in file
order either way, BM25 term ids are given in order of first appearance from each posting's stored
place in its chunk, and the weights are recomputed from counts and lengths with the cold build's own
code (`BM25.from_postings`). What is global and cheap (the walk graph, priors, the global walk) is
computed again by `RetrievalIndex` itself. The literal index is updated the same way: the unchanged
files' sites read back, the changed files' scanned, replayed in a cold scan's order.

An earlier file is used only when sealed (`cache.previous_file`) and of this version (its
`state_version`); it names its state (`state_paths`, `state_blobs`: `cache.manifest_columns`), and
keeps what an update needs (each posting's count and place, each chunk's length; each literal site's
place in the scan; each definition's file). A change of more than MAX_SHARE of the files means a
cold build. The definitions table is updated the same way (`updated_definitions`): a file's entries
depend on that file alone, so the unchanged files' are kept and the changed files' made again, each
name's nodes in file order; the table is written with its names sorted, whichever way it was made.
The graph is updated from its previous file by graph/store.py.
"""
from __future__ import annotations

from collections import Counter
from types import SimpleNamespace

import numpy as np

from repoctx.index.arrays import StringListTable, StringTable, read_arrays
from repoctx.index.cache import (
    manifest_columns,
    previous_file,
    state_key,
    state_manifest,
    version_tag,
)
from repoctx.index.load import Repository
from repoctx.retrieve.bm25 import BM25
from repoctx.retrieve.chunks import Chunk, file_chunks
from repoctx.retrieve.query import LiteralIndex, definition_table, literal_sites

#: Above this share of the files changed, a cold build is as cheap as an update.
MAX_SHARE = 0.3


def updated_parts(repo: Repository, version: str, chunk_docs) -> tuple[list[Chunk], BM25] | None:
    """The chunks and BM25 index `RetrievalIndex.build(repo)` makes, made from the newest earlier
    retrieval file of `version`; None when there is none to start from (then the caller builds).
    `chunk_docs(repo, path, chunks)` is the ranker's tokenizer (rank.py passes it: it imports this
    module, not the other way round)."""
    return _from_previous(repo, "retrieval", version, lambda *args: _update(*args, chunk_docs))


def updated_literals(repo: Repository) -> LiteralIndex | None:
    """`LiteralIndex(repo)`, made from the newest earlier literals file: the unchanged files' sites
    read back and the changed files' scanned, replayed in the order a cold scan finds them."""
    return _from_previous(repo, "literals", LiteralIndex.VERSION, _update_literals)


def updated_definitions(repo: Repository, version: str) -> dict[str, list[str]] | None:
    """`query.definition_table(repo)`, made from the newest earlier definitions file of `version`
    (names in sorted order, as `definitions_columns` writes them); None when there is none to
    start from."""
    return _from_previous(repo, "definitions", version, _update_definitions)


def definitions_columns(repo: Repository, table: dict[str, list[str]], version: str) -> dict:
    """The definitions table as arrays: its names sorted (so that a table built and one updated are
    the same file), the repository state, and each node's file (`defs.file`, an index into the
    state's paths; -1 where a path with a ':' in it leaves that open) for the next update."""
    table = dict(sorted(table.items()))
    out = StringListTable.columns("defs", table) | manifest_columns(repo.files, version)
    nodes, rank = StringTable.of(out, "defs.values"), {p: i for i, p in enumerate(repo.files)}
    out["defs.file"] = np.array([_file_of(node, rank) for node in nodes], dtype=np.int64)
    return out


def _file_of(node: str, rank: dict[str, int]) -> int:
    """The place (in `rank`) of the file a node "path:Qualified.name" is in; -1 when no file or
    several files (a path holding ':') could be."""
    found, at = -1, node.find(":")
    while at >= 0:
        if node[:at] in rank:
            if found >= 0:
                return -1
            found = rank[node[:at]]
        at = node.find(":", at + 1)
    return found


def _update_definitions(repo: Repository, a: dict, changed: list[str], stale: set[str]) -> dict[str, list[str]]:
    if "defs.file" not in a:
        raise ValueError("no definition files kept")
    file_rank = {p: i for i, p in enumerate(repo.files)}
    old_paths = list(StringTable.of(a, "state_paths"))
    rank = np.array([-1 if p in stale else file_rank.get(p, -1) for p in old_paths] + [-1], dtype=np.int64)
    node_file = np.asarray(a["defs.file"])
    if len(node_file) and node_file.min() < 0:
        raise ValueError("a node's file is not known")
    node_rank = rank[node_file].tolist()
    table = StringListTable.of(a, "defs")
    values = list(StringTable.of(a, "defs.values"))
    indptr, ids = np.asarray(a["defs.ids.indptr"]).tolist(), np.asarray(a["defs.ids.values"]).tolist()
    merged: dict[str, list[tuple[int, str]]] = {}
    for k, name in enumerate(table):
        kept = [(node_rank[v], values[v]) for v in ids[indptr[k]:indptr[k + 1]] if node_rank[v] >= 0]
        if kept:
            merged[name] = kept
    for path in changed:  # each file's entries depend on that file alone (see query.definition_table)
        for name, nodes in definition_table(SimpleNamespace(facts={path: repo.facts[path]})).items():
            merged.setdefault(name, []).extend((file_rank[path], n) for n in nodes)
    # a name's nodes in file order (a file's own in their order: the sort is stable)
    return {name: [n for _, n in sorted(nodes, key=lambda rn: rn[0])] for name, nodes in sorted(merged.items())}


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
        old = dict(zip(StringTable.of(a, "state_paths").strings(), StringTable.of(a, "state_blobs").strings()))
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
