"""Rank: which chunks matter for a query — BM25 fused with a personalised PageRank over the graph.

Nodes of the walk are symbols ("path:Qualified.name") and files ("path:<module>", standing for the
module-level code). Edges: symbol references (both ways: a callee matters to its caller's edit and
a caller to its callee's), imports between files, and containment (a symbol and its file). The walk
restarts at the seeds — the chunks BM25 likes best, the focus, and symbols or files the query names —
so rank flows from what the text matched to what that code needs and what depends on it.
"""
from __future__ import annotations

import math
import os
import re
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from repoctx.files import split_lines
from repoctx.index.arrays import (
    ListTable,
    StringTable,
    read_arrays,
    write_arrays,
)
from repoctx.index.cache import cached_file, manifest_columns, state_key
from repoctx.index.load import Repository
from repoctx.model import Focus
from repoctx.retrieve.bm25 import BM25, tokenize
from repoctx.retrieve.chunks import Chunk, file_chunks
from repoctx.retrieve.query import LiteralIndex, Signals, definition_table, understand
from repoctx.scan import is_test_path

MODULE = "<module>"
#: Bump when chunking, tokenising or the walk graph change (the references it is built from too):
#: old cache files are then ignored.
CACHE_VERSION = "13"
DAMPING = 0.85
ITERATIONS = 30
SEEDS_FROM_BM25 = 20
#: Above this many walk-graph edges a personalised walk covers only the seeds' neighbourhood, at most
#: this many edges and LOCAL_WALK_HOPS steps out (no repository of the development set comes near it:
#: Django has 355,000 edges, the Linux source 13 million).
LOCAL_WALK_EDGES = 2_000_000
LOCAL_WALK_HOPS = 4
#: Weight of the walk's score against normalised BM25 in the fused score.
WALK_WEIGHT = 0.1
#: Share of its file's best score that each chunk inherits.
FILE_WEIGHT = 0.5
#: Share of its partner file's best score (a source's header, see `partners`) that each chunk inherits:
#: the second file of a fix is often the other half of such a pair.
PARTNER_WEIGHT = 0.15
#: A program file tied to one of the query's likeliest files — by the walk graph (a reference or an
#: import, either way, between their code) or by its folder — has its chunks' scores raised by up
#: to this share (see `RetrievalIndex.ties`): the second and third files of a fix are most often the
#: header, caller, callee, importer or sibling of the first, and only weakly match the issue's words.
#: mswe-dev every-6th line recall 8k/32k/128k .653/.809/.939 -> .649/.850/.945 (C++ 32k .669 -> .773,
#: Rust .862 -> .923); leaving each repository out, the other nine chose it every time.
TIE_WEIGHT = 0.5
#: How many of the likeliest files the ties are taken from.
TIE_FILES = 20
#: Below this budget a pack holds few files, and the ties count in proportion (an 8k pack that
#: spreads over tied files loses the first file's lines: mswe-dev every-6th 8k line recall
#: C .494 -> .444 at the full weight).
TIE_BUDGET = 32_000
#: Score factors for chunks of test files and of files without a grammar.
TEST_FACTOR = 0.3
TEXT_FACTOR = 0.15
#: Added to a chunk whose symbol or file the query names outright.
NAMED_BONUS = 1.0
#: Share of a chunk's bonus (a symbol the issue names, a traceback frame, a quoted message's site)
#: that counts in its file's best score: a file the issue points into is surely relevant, so its
#: other chunks rise with it above files that only share the issue's words (the right function of a
#: large file is often not the one named: zstd's 3,100-line compressor, a named entry point, the fix
#: three calls below). mswe-dev every-6th: line recall .542/.766/.910 -> .566/.776/.929 at 8k/32k/128k.
FILE_BONUS_SHARE = 0.5
#: Weight of an issue's title (its first line) in BM25, on top of the whole text: the title says in
#: a few words what is wrong, and a long body of code, output and versions dilutes them. One-line
#: queries are unchanged (the scores are normalised). mswe-dev every-6th line recall
#: .566/.776/.929 -> .658/.782/.939 (8k/32k/128k; no language down > .001), swe-dev every-2nd
#: .617/.867/1.0 -> .683/.867/1.0.
TITLE_WEIGHT = 1.0


#: Walk edge weights (see `_walk_graph`), whole numbers: 0.3, 1.0, 0.5, 0.5, 0.25 in twentieths.
CONTAINS, CALLS, CALLED, IMPORTS, IMPORTED = 6.0, 20.0, 10.0, 10.0, 5.0
#: The walk's ranks are kept in whole multiples of 2^-QUANTUM_BITS (ranks sum to at most 1, so every
#: partial sum of them is exact): the walk's result does not depend on the order of the edges or the
#: numbering of the nodes, so a base file and a delta read together walk as a cold build does.
QUANTUM_BITS = 52


def node_of(chunk: Chunk) -> str:
    return f"{chunk.path}:{chunk.symbol or MODULE}"


class ChunkTable(Sequence):
    """The chunks of a read-back index, made as they are asked for from its arrays (a Linux-sized
    index has a million and a half; a query looks at a few thousand)."""

    def __init__(self, paths: list[str], path: np.ndarray, start: np.ndarray, end: np.ndarray,
                 symbol: np.ndarray, symbols: StringTable):
        self._paths, self._path, self._start, self._end, self._symbol, self._symbols = paths, path, start, end, symbol, symbols

    def __len__(self) -> int:
        return len(self._path)

    def __getitem__(self, i):
        if isinstance(i, slice):
            return [self[k] for k in range(*i.indices(len(self)))]
        sym = int(self._symbol[i])
        return Chunk(self._paths[self._path[i]], int(self._start[i]), int(self._end[i]),
                     None if sym < 0 else self._symbols.name(sym))

    def __add__(self, other: list[Chunk]) -> list[Chunk]:
        """All the chunks and then `other`, as a list (an editor's patched index; the chunks are made
        once, not on every edit)."""
        if self.__dict__.get("_all") is None:
            self._all = list(self)
        return self._all + list(other)

    def __eq__(self, other) -> bool:
        return isinstance(other, Sequence) and list(self) == list(other)


def _walk_graph(repo: Repository, chunks: list[Chunk]) -> tuple[dict[str, int], np.ndarray, np.ndarray, np.ndarray]:
    """The walk's graph: (node → index, edge sources, edge targets, edge weights normalised per source).
    Edges: symbol ↔ its file (0.3 each way), reference source → target (1.0) and back (0.5),
    importer → imported file (0.5) and back (0.25) — in twentieths (CONTAINS …), so that a
    source's sum is exact in any order (a delta's edges are summed apart from a base file's)."""
    g = repo.graph
    pairs: list[tuple[str, str, float]] = []
    for c in chunks:
        if c.symbol:
            pairs.append((node_of(c), f"{c.path}:{MODULE}", CONTAINS))
            pairs.append((f"{c.path}:{MODULE}", node_of(c), CONTAINS))
    for source, target, _name in g.references:
        pairs.append((source, target, CALLS))
        pairs.append((target, source, CALLED))
    for a, b in g.imports:
        pairs.append((f"{a}:{MODULE}", f"{b}:{MODULE}", IMPORTS))
        pairs.append((f"{b}:{MODULE}", f"{a}:{MODULE}", IMPORTED))
    nodes: dict[str, int] = {}
    for c in chunks:
        nodes.setdefault(node_of(c), len(nodes))
    src = np.fromiter((nodes.setdefault(a, len(nodes)) for a, _, _ in pairs), dtype=np.int64, count=len(pairs))
    dst = np.fromiter((nodes.setdefault(b, len(nodes)) for _, b, _ in pairs), dtype=np.int64, count=len(pairs))
    w = np.fromiter((x for _, _, x in pairs), dtype=np.float64, count=len(pairs))
    out = np.bincount(src, w, minlength=len(nodes))
    return nodes, src, dst, w / np.where(out[src] > 0, out[src], 1.0)


class _Nodes(Mapping):
    """Walk node → id over a base file's node table and a delta's new nodes (ids after the base's)."""

    def __init__(self, base: StringTable, new: list[str]):
        self._base, self._new = base, {name: len(base) + i for i, name in enumerate(new)}

    def __getitem__(self, name: str) -> int:
        i = self._new.get(name)
        return self._base[name] if i is None else i

    def __contains__(self, name) -> bool:
        return name in self._new or name in self._base

    def __iter__(self):
        yield from self._base
        yield from self._new

    def __len__(self) -> int:
        return len(self._base) + len(self._new)


class RetrievalIndex:
    """Chunks, their BM25 index and the walk graph of one loaded repository.

    Building it tokenises every file, so `load` keeps a copy next to the SQLite index, keyed by the
    exact repository state (every path with its blob SHA): a warm pack reads it back in milliseconds.
    """

    def __init__(self, repo: Repository, chunks: list[Chunk], bm25: BM25, graph: tuple, derived: dict | None = None):
        self.repo = repo
        self.chunks = chunks
        self.bm25 = bm25
        #: (node → index, edge sources, edge targets, edge weights normalised per source).
        self.graph = graph
        self._global_files: list[str] | None = None
        if derived:  # attributes read back from the cache (see `_write`): the lines below, and more
            self.__dict__.update(derived)
            self._path_id = {p: i for i, p in enumerate(self.paths)}
            return
        factor = {p: _factor(p, f.language) for p, f in repo.files.items()}
        #: Prior by kind of file: tests and plain text (docs, changelogs, config) are less often what a
        #: change is about than program code, and changelogs match every query. 0 for a chunk that an
        #: editor buffer replaced (see `patched`).
        self.prior = np.array([factor.get(c.path, 0.0) for c in chunks])
        # Per-chunk arrays, so that a query scores every chunk without a Python loop.
        self.paths: list[str] = []
        self._path_id: dict[str, int] = {}
        self.chunk_path, self.chunk_start, self.chunk_end, self.chunk_node = self._arrays(chunks)

    def _arrays(self, chunks: list[Chunk]) -> tuple[np.ndarray, ...]:
        """(file id, first line, last line, walk-graph node or -1) of each chunk; new files get ids."""
        for c in chunks:
            if c.path not in self._path_id:
                self._path_id[c.path] = len(self.paths)
                self.paths.append(c.path)
        nodes, n = self.graph[0], len(chunks)
        return (np.fromiter((self._path_id[c.path] for c in chunks), dtype=np.int64, count=n),
                np.fromiter((c.start for c in chunks), dtype=np.int64, count=n),
                np.fromiter((c.end for c in chunks), dtype=np.int64, count=n),
                np.fromiter((nodes.get(node_of(c), -1) for c in chunks), dtype=np.int64, count=n))

    def _groups(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The chunks grouped by file: (chunk ids in file order, where each file's run starts, the
        file ids of the runs, ascending); kept in the index file."""
        if self.__dict__.get("_grouping") is None:
            order = np.argsort(self.chunk_path, kind="stable")
            starts = np.flatnonzero(np.diff(self.chunk_path[order], prepend=-1))
            self._grouping = order, starts, self.chunk_path[order][starts]
        return self._grouping

    def chunks_of(self, path: str) -> np.ndarray:
        """The ids of a file's chunks, ascending (none for a file without chunks)."""
        order, starts, ids = self._groups()
        k = np.searchsorted(ids, self._path_id.get(path, -1))
        if k == len(ids) or ids[k] != self._path_id.get(path, -1):
            return np.zeros(0, dtype=np.int64)
        return order[starts[k]:starts[k + 1] if k + 1 < len(starts) else len(order)]

    def best_per_file(self, values: np.ndarray) -> np.ndarray:
        """The largest of `values` (one per chunk, ≥ 0) in each file, by file id."""
        order, starts, ids = self._groups()
        out = np.zeros(len(self.paths))
        if len(order):
            out[ids] = np.maximum.reduceat(values[order], starts)
        return np.maximum(out, 0.0)

    def partners(self) -> np.ndarray:
        """For each file id, the id of its partner or -1: the one other program file (tests left out)
        with the same name less its extension — a C/C++ source and its header (`zstd_compress.c`,
        `zstd_compress.h`), an implementation and its declarations. Names shared by more than two
        files (`index.js`, `mod.rs`) pair nothing. Built once."""
        if self.__dict__.get("_partners") is None:
            by_stem: dict[str, list[int]] = {}
            for i, p in enumerate(self.paths):
                stem, dot, _ = p.rpartition("/")[2].rpartition(".")
                if dot:
                    by_stem.setdefault(stem, []).append(i)
            out = np.full(len(self.paths), -1, dtype=np.int64)
            for ids in by_stem.values():
                if len(ids) >= 2:  # tests are told apart only where a name repeats (O(repository) otherwise)
                    ids = [i for i in ids if not is_test_path(self.paths[i])]
                    if len(ids) == 2:
                        out[ids[0]], out[ids[1]] = ids[1], ids[0]
            self._partners = out
        return self._partners

    def ties(self, file_best: np.ndarray) -> np.ndarray:
        """Per file id, how closely the file is tied to the likeliest files of a query (`file_best`:
        each file's best score): the mean of two ties, each the largest (best of a tied file / best
        of all)^2 over the TIE_FILES best files — the walk graph (an edge between their nodes: a
        reference or an import, either way; a C source and the header it includes, a Go or Java
        implementation and its interface, a caller and its callee, a Rust module and its parent)
        and the folder (siblings often change together). Squared, so that a tie to the best file
        counts and a tie to a file that merely shares a word with the issue barely does."""
        out = np.zeros(len(self.paths))
        best = file_best.max(initial=0.0)
        if best <= 0:
            return out
        top = np.argsort(-file_best, kind="stable")[:TIE_FILES]
        top = top[file_best[top] > 0]
        rel = (file_best[top] / best) ** 2
        folder, node_path = self._folders_and_node_paths()
        graph, near = np.zeros(len(self.paths)), np.zeros(len(self.paths))
        place = np.full(len(self.paths) + 1, -1, dtype=np.int64)  # top file -> its place in `top`; [-1] for no file
        place[top] = np.arange(len(top))
        on_top = place[node_path]  # each node's file's place in `top`, or -1
        if self.__dict__.get("_by_source") is None:  # a small graph's edges, flat: one pass over them
            s, d, _ = self._flat_edges()
            sel = on_top[s] >= 0
            src, dst = on_top[s[sel]], node_path[d[sel]]
        else:  # edges grouped by source (a large graph, a delta): the runs of the top files' nodes
            nodes = np.flatnonzero(on_top >= 0)
            (first, end), by_dst, _ = self._edges_by_source()
            counts = end[nodes] - first[nodes]
            at = np.repeat(first[nodes] - np.cumsum(counts) + counts, counts) + np.arange(counts.sum())
            src, dst = np.repeat(on_top[nodes], counts), node_path[by_dst[at]]
        other = (dst >= 0) & (dst != top[src])
        np.maximum.at(graph, dst[other], rel[src[other]])
        for k, f in enumerate(top):
            same = folder == folder[f]
            same[f] = False
            near[same] = np.maximum(near[same], rel[k])
        return (graph + near) / 2

    def _folders_and_node_paths(self) -> tuple[np.ndarray, np.ndarray]:
        """(each file id's folder, as a number; each walk node's file id, -1 for none), made once."""
        if self.__dict__.get("_tie_maps") is None:
            folder_id: dict[str, int] = {}
            folders = np.fromiter((folder_id.setdefault(p.rpartition("/")[0], len(folder_id)) for p in self.paths),
                                  dtype=np.int64, count=len(self.paths))
            by_file = np.array([self._path_id.get(p, -1) for p in self.repo.files] + [-1], dtype=np.int64)
            self._tie_maps = folders, by_file[self._node_files()]  # a node of no file (-1) maps to -1
        return self._tie_maps

    def mask(self, paths) -> np.ndarray:
        """Chunks of the given files."""
        ids = [self._path_id[p] for p in paths if p in self._path_id]
        return np.isin(self.chunk_path, ids)

    def covered(self, focus: list[Focus]) -> np.ndarray:
        """Chunks some focus covers."""
        hit = np.zeros(len(self.chunks), dtype=bool)
        for f in focus:
            m = self.mask({f.path})
            if f.start is not None:
                m &= (self.chunk_start <= (f.end or f.start)) & (f.start <= self.chunk_end)
            hit |= m
        return hit & (self.prior > 0)

    def literals(self) -> LiteralIndex:
        """The string literals of the repository's code (read from the cache or built, on first use)."""
        if "_literals" not in self.__dict__:
            repo = self.repo
            if repo.overlay:
                self._literals = LiteralIndex(repo)
            else:  # a pure function of the files: kept beside the index, as a base and a delta
                from repoctx.retrieve.delta import literal_index
                self._literals = literal_index(repo)
        return self._literals

    def definitions(self) -> Mapping[str, list[str]]:
        """Name and qualified name → defining nodes (`query.definition_table`; its users only look
        names up): answered from the stored graph's definition rows (`graph.store.Definitions`),
        which an edit updates with the graph — a table of its own cost Linux 36 s an edit. Built
        where there is no stored graph (an editor's buffers, no index)."""
        if "_definitions" not in self.__dict__:
            repo = self.repo
            stored = None if repo.overlay else getattr(repo.graph, "definitions", None)
            self._definitions = (stored and stored()) or definition_table(repo)
        return self._definitions

    def node_ids(self) -> dict[str, int]:
        """Walk node → id as a dict, built once per index, for callers that look up thousands (the
        index's own table answers by binary search, for a query's few dozen)."""
        if self.__dict__.get("_node_ids") is None:
            nodes = self.graph[0]
            self._node_ids = nodes if isinstance(nodes, dict) else {name: i for i, name in enumerate(nodes)}
        return self._node_ids

    def leaf_chunks(self) -> dict[str, list[int]]:
        """Last component of a chunk's symbol → the chunks (ids), built once per index."""
        if "_leaf_chunks" not in self.__dict__:
            out: dict[str, list[int]] = {}
            for i, c in enumerate(self.chunks):
                if c.symbol is not None:
                    out.setdefault(c.symbol.rsplit(".", 1)[-1], []).append(i)
            self._leaf_chunks = out
        return self._leaf_chunks

    def issue_share(self, issue: Signals) -> np.ndarray:
        """Per chunk, the weight an issue's signals give it (0..1): chunks around a spot (a
        traceback frame's function or line, a quoted literal's line), the chunks of a named symbol,
        and every chunk of a file the code imports a little."""
        share = np.zeros(len(self.chunks))
        live = self.prior > 0
        for path, a, b, w, _why in issue.spots:  # each spot reads its file's chunks alone
            ids = self.chunks_of(path)
            ids = ids[(self.chunk_start[ids] <= b) & (a <= self.chunk_end[ids]) & live[ids]]
            share[ids] = np.maximum(share[ids], w)
        if issue.symbols:
            nodes = self.graph[0]
            weight = np.zeros(len(nodes) + 1)
            for node, w in issue.symbols.items():
                if node in nodes:
                    weight[nodes[node]] = max(weight[nodes[node]], w)
            share = np.maximum(share, np.where(live, weight[self.chunk_node], 0.0))
        for path, w in issue.files.items():
            ids = self.chunks_of(path)
            ids = ids[live[ids]]
            share[ids] = np.maximum(share[ids], 0.2 * w)
        return np.minimum(share, 1.0)

    def patched(self, repo: Repository, changed: list[str]) -> RetrievalIndex:
        """This index with the chunks of `changed` files replaced by those of `repo` (whose facts and
        text hold the editor's buffers): old chunks stay in place but dead (prior 0), new ones are
        appended and scored with this index's BM25 statistics. Costs what the changed files cost,
        whatever the repository's size. The walk graph is this index's: a symbol the buffer adds
        has no node until the next full build."""
        dead = self.mask(set(changed))
        new: list[Chunk] = []
        docs = []
        for path in changed:
            if path in repo.facts:
                chunks = file_chunks(path, repo.facts[path])
                new += chunks
                docs += _chunk_docs(repo, path, chunks)
        out = RetrievalIndex.__new__(RetrievalIndex)
        out.repo, out.chunks, out.bm25, out.graph = repo, self.chunks + new, self.bm25.extended(docs), self.graph
        out.paths, out._path_id, out._global_files = list(self.paths), dict(self._path_id), self._global_files
        for name in ("_view", "_by_source", "_live_nodes"):  # a delta's view: its walk graph as it reads it
            if name in self.__dict__:
                out.__dict__[name] = self.__dict__[name]
        if list(repo.files)[:len(self.repo.files)] == list(self.repo.files):  # each file's id kept (a new one comes last):
            out._node_file = self.__dict__.get("_node_file")  # so is each node's file (a map per edit made it again: 1.8 s on 1/7 of Linux)
        factor = {p: _factor(p, repo.files[p].language) for p in changed if p in repo.files}
        prior = np.where(dead, 0.0, self.prior)
        out.prior = np.concatenate((prior, [factor[c.path] for c in new]))
        arrays = out._arrays(new)
        out.chunk_path, out.chunk_start, out.chunk_end, out.chunk_node = (
            np.concatenate((a, b)) for a, b in zip((self.chunk_path, self.chunk_start, self.chunk_end, self.chunk_node), arrays))
        return out

    @classmethod
    def build(cls, repo: Repository) -> RetrievalIndex:
        chunks: list[Chunk] = []

        def docs():  # streamed into the BM25 build, one file at a time (bounded memory)
            for path, facts in repo.facts.items():
                new = file_chunks(path, facts)
                chunks.extend(new)
                yield from _chunk_docs(repo, path, new)
        bm25 = BM25(docs())
        return cls(repo, chunks, bm25, _walk_graph(repo, chunks))

    @classmethod
    def load(cls, repo: Repository) -> RetrievalIndex:
        """From the cache when the repository state is unchanged, else updated from an earlier state's
        (`delta.updated_parts`) or built (and cached)."""
        if repo.overlay:
            return cls.build(repo)
        from repoctx.retrieve.delta import base_of, delta_arrays, updated_parts
        key = state_key(repo.files, CACHE_VERSION)

        def made() -> RetrievalIndex | dict:  # a delta over an earlier base when small, else a base
            delta = delta_arrays(repo, CACHE_VERSION, key, _chunk_docs, sys.modules[__name__])
            if delta is not None:
                return delta
            parts = updated_parts(repo, CACHE_VERSION, _chunk_docs)
            return cls(repo, *parts, _walk_graph(repo, parts[0])) if parts else cls.build(repo)
        return cached_file(repo.index_path, "retrieval", key, ".arrays", made, cls._write,
                           lambda file: cls._read(repo, file), reopen=True,
                           needs=lambda built: {base_of(built)} if isinstance(built, dict) else set())

    @staticmethod
    def _write(built, file: str) -> None:
        """Everything a query reads, as arrays in one file (`index.arrays`): the BM25 postings, the walk
        graph, the chunks, and what is derived from them and the repository state alone (priors, the
        global file order, the chunks by symbol name, each walk node's file), so that a warm query
        computes none of it again and reads only the pages it touches. Strings are tables, never
        dicts: the vocabulary, the walk nodes, the chunks' symbols. A delta (`delta.delta_arrays`)
        is written as it is."""
        if isinstance(built, dict):
            write_arrays(file, built)
            return
        n, avglen, vocab, indptr, post_doc, post_tf, post_pos, doc_len = built.bm25.state()
        nodes, src, dst, w = built.graph
        symbols = sorted({c.symbol for c in built.chunks if c.symbol is not None})
        symbol_id = {name: i for i, name in enumerate(symbols)}
        file_id = {p: i for i, p in enumerate(built.repo.files)}
        arrays = {
            "indptr": indptr, "post_doc": post_doc, "post_tf": post_tf, "doc_len": doc_len, "src": src, "dst": dst,
            "w": w, "post_pos": post_pos,  # what an update reads (retrieve/delta.py)
            **manifest_columns(built.repo.files, CACHE_VERSION),
            "prior": built.prior, "chunk_path": built.chunk_path, "chunk_start": built.chunk_start,
            "chunk_end": built.chunk_end, "chunk_node": built.chunk_node,
            "chunk_symbol": np.fromiter((-1 if c.symbol is None else symbol_id[c.symbol] for c in built.chunks),
                                        dtype=np.int64, count=len(built.chunks)),
            "node_file": built._node_files(),
            "global_files": np.array([file_id[p] for p in built.global_files()], dtype=np.int64),
            **StringTable.columns("vocab", vocab), **StringTable.columns("nodes", list(nodes)),
            **StringTable.columns("symbols", symbols), **StringTable.columns("paths", built.paths),
            **ListTable.columns("leaves", built.leaf_chunks()), "global_walk": built.pagerank_vector({}),
            **dict(zip(("group_order", "group_starts", "group_ids"), built._groups())),
        }
        if len(src) > LOCAL_WALK_EDGES:  # what a local walk reads (see `_neighbourhood`)
            (first, end), arrays["source_dst"], arrays["source_w"] = built._edges_by_source()
            arrays["source_ptr"] = np.concatenate((first, end[-1:])) if len(first) else np.zeros(1, dtype=np.int64)
        write_arrays(file, arrays, (n, avglen))

    @classmethod
    def _read(cls, repo: Repository, file: str) -> RetrievalIndex:
        a, extra = read_arrays(file)
        from repoctx.retrieve.delta import base_of
        if base_of(a) is not None:
            return cls._read_view(repo, file, a)
        # What every query reads whole is copied into memory: numpy gathers over mapped pages run
        # 2.5x slower (Django's walk: 86 vs 34 ms), and a mapping saves nothing on what is read
        # whole. Postings and a large graph's edges (walked locally) stay mapped.
        whole = ["prior", "chunk_path", "chunk_start", "chunk_end", "chunk_node"]
        if len(a["src"]) <= LOCAL_WALK_EDGES:
            whole += ["src", "dst", "w"]
        a.update({k: np.array(a[k]) for k in whole})
        bm25 = BM25.from_state((*extra, StringTable.of(a, "vocab"), a["indptr"], a["post_doc"], a["post_tf"],
                                a["post_pos"], a["doc_len"]))
        graph = (StringTable.of(a, "nodes"), a["src"], a["dst"], a["w"])
        paths = list(StringTable.of(a, "paths"))
        files = list(repo.files)
        if len(a["chunk_path"]) != len(a["chunk_symbol"]) or len(a["node_file"]) != len(graph[0]):
            raise ValueError("damaged retrieval index")
        chunks = ChunkTable(paths, a["chunk_path"], a["chunk_start"], a["chunk_end"], a["chunk_symbol"],
                            StringTable.of(a, "symbols"))
        derived = {k: a[k] for k in ("prior", "chunk_path", "chunk_start", "chunk_end", "chunk_node")}
        derived.update(paths=paths, _global_files=[files[i] for i in a["global_files"].tolist()],
                       _leaf_chunks=ListTable.of(a, "leaves"), _node_file=a["node_file"], _global_walk=a["global_walk"],
                       _grouping=(a["group_order"], a["group_starts"], a["group_ids"]))
        if "source_ptr" in a:
            derived["_by_source"] = (a["source_ptr"][:-1], a["source_ptr"][1:]), a["source_dst"], a["source_w"]
        return cls(repo, chunks, bm25, graph, derived)

    @classmethod
    def _read_view(cls, repo: Repository, file: str, a: dict) -> RetrievalIndex:
        """A delta and its base read as one index (`delta.View`): what a query reads is the cold
        build's, in its order."""
        from types import SimpleNamespace

        from repoctx.retrieve.delta import View, base_of, read_base
        base = read_base(os.path.dirname(file), base_of(a), next(iter(StringTable.of(a, "delta.base_digest"))))
        view = View(repo, a, base)
        nodes = _Nodes(view.base_nodes, view.new_nodes)
        edges = view.edges() if view.n_edges() <= LOCAL_WALK_EDGES else (None, None, None)
        graph = (nodes, *edges)
        chunks = ChunkTable(view.paths, view.chunk_path, view.chunk_start, view.chunk_end, view.chunk_symbol,
                            SimpleNamespace(name=view.symbol_name))
        starts = np.flatnonzero(np.diff(view.chunk_path, prepend=-1))
        derived = {"prior": view.prior, "chunk_path": view.chunk_path, "chunk_start": view.chunk_start,
                   "chunk_end": view.chunk_end, "chunk_node": view.chunk_node, "paths": view.paths,
                   "_leaf_chunks": view.leaves, "_node_file": view.node_file, "_view": view,
                   "_by_source": view.edges_by_source(), "_live_nodes": view.live_nodes(),
                   "_grouping": (np.arange(len(view.chunk_path)), starts, view.chunk_path[starts])}
        return cls(repo, chunks, view.bm25, graph, derived)

    def _flat_edges(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The walk graph's edges (sources, targets, weights); a large delta's view makes them here."""
        if self.graph[1] is None:
            self.graph = (self.graph[0], *self._view.edges())
        return self.graph[1:]

    def global_files(self) -> list[str]:
        """Files by the summed global PageRank of their nodes (query-independent, so computed once)."""
        if self._global_files is None:
            self._global_files = self.ranked_files()
        return self._global_files

    def ranked_files(self, seeds: dict[str, float] | None = None) -> list[str]:
        """Files by the summed PageRank of their nodes, personalised by `seeds` (ties by path). A node
        counts for the file its id starts with ("path:…"), nodes of no file for none."""
        node_file, rank, files = self._node_files(), self.pagerank_vector(seeds or {}), list(self.repo.files)
        known = node_file >= 0  # summed in node order, as a loop over the nodes would
        per_file = np.bincount(node_file[known], rank[known], minlength=len(files))
        if self.__dict__.get("_files_in_order") is None:  # as a load lists them: by path
            self._files_in_order = all(map(str.__lt__, files, files[1:]))
        if self._files_in_order:  # ties by path are ties by position: one sort in numpy, not 78k keys
            return [files[i] for i in np.lexsort((np.arange(len(files)), -per_file)).tolist()]
        per_file = per_file.tolist()
        return [files[i] for i in sorted(range(len(files)), key=lambda i: (-per_file[i], files[i]))]

    def _node_files(self) -> np.ndarray:
        """Each walk node's file (the path its id starts with, "path:…"), as an id in `repo.files`;
        -1 for a node of no file."""
        if self.__dict__.get("_node_file") is None:
            file_id = {p: i for i, p in enumerate(self.repo.files)}
            self._node_file = np.fromiter((file_id.get(name.split(":", 1)[0], -1) for name in self.graph[0]),
                                          dtype=np.int64, count=len(self.graph[0]))
        return self._node_file

    def pagerank_vector(self, seeds: dict[str, float]) -> np.ndarray:
        """Personalised PageRank over the walk graph's nodes, restarting at `seeds` (node → weight);
        the global walk (uniform restart, computed once) when no seed is a node. On a graph of more
        than LOCAL_WALK_EDGES edges the walk runs on the seeds' neighbourhood alone (`_neighbourhood`):
        what lies beyond it gets a share of (0.85)^LOCAL_WALK_HOPS of the rank, and a fifth of a second
        instead of five on the Linux source's 13 million edges."""
        nodes = self.graph[0]
        view = self.__dict__.get("_view")
        n, n_edges = len(nodes), view.n_edges() if view is not None else len(self.graph[1])
        if n == 0:
            return np.zeros(0)
        p = np.zeros(n)
        for name, weight in seeds.items():
            if name in nodes:
                p[nodes[name]] += weight
        total = math.fsum(p[p != 0])  # exact: the same whatever the nodes' numbering
        if total <= 0:
            if self.__dict__.get("_global_walk") is None:
                live = self.__dict__.get("_live_nodes")  # a delta's view: the nodes a cold build has
                k = n if live is None else int(live.sum())
                self._global_walk = _walk(np.full(n, 1.0 / k) if live is None else np.where(live, 1.0 / k, 0.0),
                                          *self._flat_edges())
            return self._global_walk
        key = sorted(seeds.items())  # a pack asks twice with the same seeds (its map, its chunks)
        last = self.__dict__.get("_last_walk")
        if last is not None and last[0] == key:
            return last[1]
        p = p / total
        if n_edges <= LOCAL_WALK_EDGES:
            r = _walk(p, *self._flat_edges())
        else:
            keep, src, dst, w = self._neighbourhood(np.flatnonzero(p))
            local = np.full(n, -1, dtype=np.int64)
            local[keep] = np.arange(len(keep))
            inside = local[dst] >= 0  # edges leaving the neighbourhood lose their rank
            r = np.zeros(n)
            r[keep] = _walk(p[keep], local[src[inside]], local[dst[inside]], w[inside])
        self._last_walk = key, r
        return r

    def _neighbourhood(self, start: np.ndarray) -> tuple[np.ndarray, ...]:
        """(nodes, and the sources, targets and weights of their out-edges) within LOCAL_WALK_HOPS
        steps of `start` along the edges, grown hop by hop while the edges stay under
        LOCAL_WALK_EDGES. The edges are read by source (`_edges_by_source`): each node's are one
        run, so a walk touches the pages of the nodes it reaches, not of the whole graph."""
        (first, end), by_dst, by_w = self._edges_by_source()
        seen = np.zeros(len(first), dtype=bool)
        seen[start] = True
        frontier, parts, total = start, [], 0
        for _ in range(LOCAL_WALK_HOPS):
            lo, counts = first[frontier], end[frontier] - first[frontier]
            if total + counts.sum() > LOCAL_WALK_EDGES:
                break
            at = np.repeat(lo - np.cumsum(counts) + counts, counts) + np.arange(counts.sum())
            parts.append((np.repeat(frontier, counts), by_dst[at], by_w[at]))
            total += len(at)
            fresh = np.zeros(len(seen), dtype=bool)  # the targets not seen yet, ascending: a mark per
            fresh[parts[-1][1]] = True               # node, not a sort of the hop's edges (np.unique
            fresh &= ~seen                           # was most of a Linux walk)
            frontier = np.flatnonzero(fresh)
            seen |= fresh
            if not len(frontier):
                break
        if not parts:  # even the seeds' own edges are over the limit
            return start, np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64), np.zeros(0)
        src, dst, w = (np.concatenate([p[k] for p in parts]) for k in range(3))
        return np.flatnonzero(seen), src, dst, w

    def _edges_by_source(self) -> tuple[tuple[np.ndarray, np.ndarray], np.ndarray, np.ndarray]:
        """The walk graph's edges grouped by source: ((each node's first position, one past its
        last), the targets and weights in that order; a delta's view reads them at its own and its
        base's positions: `delta.View.edges_by_source`)."""
        if self.__dict__.get("_by_source") is None:
            _, s, d, w = self.graph
            order = np.argsort(s, kind="stable")
            ptr = np.concatenate(([0], np.cumsum(np.bincount(s, minlength=len(self.graph[0])))))
            self._by_source = (ptr[:-1], ptr[1:]), d[order], w[order]
        return self._by_source


def _walk(p: np.ndarray, s: np.ndarray, d: np.ndarray, w: np.ndarray) -> np.ndarray:
    """ITERATIONS steps of the power iteration restarting at the distribution `p` over edges
    (s → d, weight w); a node without out-edges gives its rank back to `p`. Ranks and each edge's
    flow are rounded to whole multiples of 2^-QUANTUM_BITS, so that every sum is exact: the result
    is the same whatever the order of the edges and the nodes (see QUANTUM_BITS)."""
    n, scale = len(p), 2.0 ** QUANTUM_BITS
    r = np.rint(p * scale) / scale
    has_out = np.bincount(s, minlength=n) > 0 if len(s) else np.zeros(n, dtype=bool)
    for _ in range(ITERATIONS):
        dangling = r[~has_out].sum()
        flow = np.bincount(d, np.rint(r[s] * w * scale), minlength=n) / scale
        r = np.rint(((1 - DAMPING) * p + DAMPING * (flow + dangling * p)) * scale) / scale
    return r


_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*")
_PATHISH = re.compile(r"[\w./-]+\.\w+|[\w-]+(?:/[\w.-]+)+")


def named_in_query(repo: Repository, query: str,
                   definitions: dict[str, list[str]] | None = None) -> tuple[set[str], set[str]]:
    """(paths, symbol names) the query names outright: a path or file name, or a defined symbol's
    name that is distinctive (has an underscore, inner capital or digit, or ≥ 8 characters) and
    defined in at most three files (`definitions`: `query.definition_table(repo)`, if kept)."""
    paths: set[str] = set()
    words = set(_PATHISH.findall(query))
    slashed = [w for w in words if "/" in w]
    for path in repo.files if words else ():  # every path: a query without a path-like word skips it
        base = path.rpartition("/")[2]
        if path in words or base in words or slashed and any(w.endswith("/" + base) or path.endswith("/" + w) for w in slashed):
            paths.add(path)
    defined = definitions if definitions is not None else definition_table(repo)
    # a plain name's nodes are those of the definitions so named (a top-level one's qualified name
    # is its name), so their files are the files defining that name
    by_name = {name: {n.rsplit(":", 1)[0] for n in nodes} for name in set(_IDENT.findall(query)) | {
        i.rsplit(".", 1)[-1] for i in _IDENT.findall(query)} if "." not in name and (nodes := defined.get(name))}
    symbols: set[str] = set()
    for ident in set(_IDENT.findall(query)):
        for part in {ident, ident.rsplit(".", 1)[-1]}:
            distinctive = "_" in part.strip("_") or any(ch.isupper() for ch in part[1:]) or \
                any(ch.isdigit() for ch in part) or len(part) >= 8
            if distinctive and part in by_name and len(set(by_name[part])) <= 3:
                symbols.add(part)
    return paths, symbols


@dataclass
class QuerySignals:
    """What a query and focus say about each chunk, before the walk."""
    bm25: np.ndarray        # normalised BM25 score per chunk (best = 1)
    bonus: np.ndarray       # for chunks the query names or the focus covers
    seeds: dict[str, float]  # restart weights of the walk, by node
    covered: np.ndarray      # chunks the focus covers


def query_signals(index: RetrievalIndex, query: str, focus: list[Focus] = ()) -> QuerySignals:
    """What `query` and `focus` say about each chunk (`_signals`); kept for the last question asked,
    since a pack asks twice (for its map's seeds, then to rank its chunks). Read-only to callers."""
    key = query, tuple(focus)
    last = index.__dict__.get("_last_signals")
    if last is None or last[0] != key:
        last = index._last_signals = key, _signals(index, query, focus)
    return last[1]


def _signals(index: RetrievalIndex, query: str, focus: list[Focus]) -> QuerySignals:
    chunks = index.chunks
    issue = understand(index.repo, query, index.literals(), index.definitions()) if query.strip() else None
    title = _title(query) if issue else ""
    query = issue.text if issue else query
    bm = index.bm25.scores(tokenize(query)) if query.strip() else np.zeros(len(chunks))
    if title and TITLE_WEIGHT:
        bm = bm + TITLE_WEIGHT * index.bm25.scores(tokenize(title))
    bm = bm * (index.prior > 0)  # chunks an editor buffer replaced score nothing
    top = float(bm.max()) if len(bm) else 0.0
    bm_norm = bm / top if top > 0 else bm
    named_paths, named_symbols = named_in_query(index.repo, query, index.definitions()) if query else (set(), set())
    # A named symbol's chunks get the whole bonus. In a named file, its best-matching chunk gets the
    # whole bonus and the others a steeply falling share, so the file ranks first without its every
    # line outranking the rest of the repository.
    share = np.zeros(len(chunks))
    if named_paths:
        in_named = index.mask(named_paths) & (index.prior > 0)
        file_best = index.best_per_file(np.where(in_named, bm, 0.0))[index.chunk_path]
        ratio = np.divide(bm, file_best, out=np.ones(len(chunks)), where=file_best > 0)
        share = np.where(in_named, ratio ** 4, 0.0)
    if named_symbols:
        leaf = np.zeros(len(chunks), dtype=bool)
        by_leaf = index.leaf_chunks()
        for name in named_symbols:
            leaf[by_leaf.get(name, [])] = True
        share = np.where(leaf & (index.prior > 0), 1.0, share)
    if issue:
        share = np.maximum(share, index.issue_share(issue))
    covered = index.covered(list(focus)) if focus else np.zeros(len(chunks), dtype=bool)
    bonus = NAMED_BONUS * share + 2 * NAMED_BONUS * covered
    seeds: dict[str, float] = {}
    for i in np.flatnonzero(share + 2.0 * covered):
        node = node_of(chunks[i])
        seeds[node] = seeds.get(node, 0.0) + float(share[i] + 2.0 * covered[i])
    for i in np.argsort(-bm_norm, kind="stable")[:SEEDS_FROM_BM25]:
        if bm_norm[i] > 0:
            seeds[node_of(chunks[i])] = seeds.get(node_of(chunks[i]), 0.0) + float(bm_norm[i])
    return QuerySignals(bm_norm, bonus, seeds, covered)


def _title(text: str) -> str:
    """An issue's title: its first non-blank line, without Markdown heading marks."""
    return next((t for t in (ln.strip(" #\t") for ln in text.splitlines()) if t), "")


def rank_chunks(index: RetrievalIndex, query: str, focus: list[Focus] = (), limit: int | None = None,
                budget: int | None = None) -> list[tuple[int, float]]:
    """(chunk index, fused score) for every chunk with a positive score (the first `limit` of them),
    best first, deterministic. `budget`: the tokens of the pack the ranking is for, if any (a small
    one spreads less over the files tied to the likeliest: `TIE_BUDGET`)."""
    chunks = index.chunks
    if not chunks:
        return []
    sig = query_signals(index, query, focus)
    walk_scores = np.zeros(len(chunks))
    if sig.seeds:
        walk = index.pagerank_vector(sig.seeds)
        has_node = index.chunk_node >= 0
        walk_scores[has_node] = walk[index.chunk_node[has_node]]
        top_walk = walk.max(initial=0.0)
        if top_walk > 0:
            walk_scores /= top_walk
    fused = (sig.bm25 + WALK_WEIGHT * walk_scores) * index.prior
    # A chunk inherits part of its file's relevance, so the best files fill up before stray chunks.
    file_best = index.best_per_file(fused + FILE_BONUS_SHARE * sig.bonus * index.prior)
    partner = index.partners()
    partner_best = np.where(partner >= 0, file_best[np.maximum(partner, 0)], 0.0)
    fused = fused + FILE_WEIGHT * file_best[index.chunk_path]
    tie_weight = TIE_WEIGHT * min(1.0, budget / TIE_BUDGET) if budget else TIE_WEIGHT
    if tie_weight:
        tied = 1.0 + tie_weight * index.ties(file_best)
        fused *= np.where(index.prior == 1.0, tied[index.chunk_path], 1.0)
    fused = fused + PARTNER_WEIGHT * partner_best[index.chunk_path] + sig.bonus
    fused *= index.prior > 0
    order = np.argsort(-fused, kind="stable")  # ties by chunk index
    order = order[fused[order] > 0][:limit]
    return list(zip(order.tolist(), fused[order].tolist()))


def _factor(path: str, language: str | None) -> float:
    return TEST_FACTOR if is_test_path(path) else 1.0 if language else TEXT_FACTOR


def _chunk_docs(repo: Repository, path: str, chunks: list[Chunk]) -> list[list[str]]:
    """The BM25 document of each chunk of one file: path, symbol and body tokens."""
    lines = split_lines(repo.text(path))  # as packed; BM25 tokens are the same either way
    path_tokens = tokenize(path)
    return [path_tokens + tokenize(c.symbol or "") + tokenize("\n".join(lines[c.start - 1:c.end])) for c in chunks]


def central_chunks(index: RetrievalIndex) -> list[tuple[int, float]]:
    """(chunk index, score) of the program code outside tests, most central first: the global
    PageRank of the chunk's symbol (the most-referenced definitions and the files everything imports),
    plus a share of its file's best, so that small core files come whole. What "the repository at a
    glance" shows when a pack has no query, or after the little a query matched."""
    chunks = index.chunks
    if not chunks:
        return []
    walk = index.pagerank_vector({})
    score = np.zeros(len(chunks))
    has_node = index.chunk_node >= 0
    score[has_node] = walk[index.chunk_node[has_node]]
    score /= max(score.max(initial=0.0), 1e-300)
    score = (score + FILE_WEIGHT * index.best_per_file(score)[index.chunk_path]) * (index.prior == 1.0)
    order = np.lexsort((np.arange(len(chunks)), -score))
    order = order[score[order] > 0]
    return list(zip(order.tolist(), score[order].tolist()))
