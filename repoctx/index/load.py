"""The library's entry point: a repository scanned, indexed and loaded — everything later stages read.

    repo = load_repository(".")          # scan → index (incremental) → facts, tokens, graph
    repo.facts["pkg/mod.py"].symbols
    repo.graph.imports
"""
from __future__ import annotations

import dataclasses
import os
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cached_property

from repoctx import tokens as tok
from repoctx.index.cache import cached, gc_paused, state_key
from repoctx.index.store import IndexStore, default_index_path
from repoctx.files import read_file
from repoctx.index.update import IndexReport, Progress, analyze, update_index
from repoctx.model import FileFacts, Skipped, SourceFile
from repoctx.parse.languages import language_for_path
from repoctx.scan import ScanOptions, git_blob_sha, scan


@dataclass
class Repository:
    root: str
    encoding: str
    is_git: bool
    files: dict[str, SourceFile]       # packable files by path, sorted by path
    facts: dict[str, FileFacts]
    tokens: dict[str, int]             # exact token count of each file's text in `encoding`
    skipped: list[Skipped]             # by the scan and for their content, sorted by path
    report: IndexReport
    overlay: dict[str, str] = field(default_factory=dict)  # unsaved editor buffers, by path
    index_path: str | None = None      # the SQLite index these facts came from (caches live beside it)
    scope: str = ""                    # the repository-relative folder the files were narrowed to ("" = all)

    @cached_property
    def graph(self):
        """The import and symbol graph (cached beside the index for this exact repository state)."""
        from repoctx.graph.link import GRAPH_VERSION, RepoGraph, build_graph
        if self.overlay:
            return build_graph(self.root, self.facts)
        return cached(self.index_path, "graph", state_key(self.files, GRAPH_VERSION),
                      lambda: build_graph(self.root, self.facts), RepoGraph.to_record,
                      lambda rec: RepoGraph.from_record(rec, self.facts))

    def with_buffers(self, buffers: dict[str, str]) -> Repository:
        """This repository as an editor sees it: each buffer (path → unsaved text) replaces its file's
        text, facts and token count, and the graph is patched for those files alone (see
        `RepoGraph.patched`). A buffer whose content would be skipped (binary, minified) is ignored."""
        files, facts, tokens = dict(self.files), dict(self.facts), dict(self.tokens)
        overlay = {}
        for path, text in sorted(buffers.items()):
            data = text.encode("utf-8", errors="surrogatepass")
            skip, fa, n = analyze(path, data, self.encoding, want_facts=True)
            if skip:
                continue
            if path not in files:
                files[path] = SourceFile(path, git_blob_sha(data), language_for_path(path), len(data))
            facts[path], tokens[path], overlay[path] = fa, n, text
        repo = dataclasses.replace(self, files=files, facts=facts, tokens=tokens, overlay=overlay)
        if overlay:
            repo.graph = self.graph.patched(self.root, self.facts, facts, sorted(overlay))
        return repo

    def text(self, path: str) -> str:
        """The file's text as packed: UTF-8, undecodable bytes replaced."""
        if path in self.overlay:
            return self.overlay[path]
        return read_file(self.root, path).decode("utf-8", errors="replace")


@contextmanager
def _updated_index(root: str, options: ScanOptions, encoding: str | None, index_path: str | None,
                   progress: Progress | None, workers: int | None):
    """Scan `root` and bring its index up to date: yields (scan, encoding name, index path, open
    store, report)."""
    result = scan(root, options)
    enc = tok.encoding_name(encoding)
    index_path = os.path.abspath(index_path or default_index_path(result.root))
    with IndexStore(index_path) as store:
        report = update_index(result, store, enc, progress=progress, workers=workers)
        yield result, enc, index_path, store, report


def index_repository(root: str, options: ScanOptions = ScanOptions(), encoding: str | None = None,
                     index_path: str | None = None, progress: Progress | None = None,
                     workers: int | None = None) -> IndexReport:
    """Scan `root` and bring its index up to date, without loading anything back."""
    with _updated_index(root, options, encoding, index_path, progress, workers) as (*_, report):
        return report


def _key(f: SourceFile) -> tuple[str, str]:
    """The index key of a file's facts."""
    return f.blob_sha, f.language or ""


def load_repository(root: str, options: ScanOptions = ScanOptions(), encoding: str | None = None,
                    index_path: str | None = None, progress: Progress | None = None,
                    workers: int | None = None) -> Repository:
    """Scan `root`, bring its index up to date, and load facts and token counts for every file."""
    updated = _updated_index(root, options, encoding, index_path, progress, workers)
    with updated as (result, enc, index_path, store, report):
        blobs = store.known_blobs()
        counted = store.known_tokens(enc)
        kept: list[SourceFile] = []
        skipped = list(result.skipped)
        for f in result.files:
            reason = blobs.get(_key(f))
            if reason:
                skipped.append(Skipped(f.path, reason))
            else:
                kept.append(f)
        with gc_paused():
            stored = store.facts(map(_key, kept))
    files: dict[str, SourceFile] = {}
    facts: dict[str, FileFacts] = {}
    tokens: dict[str, int] = {}
    for f in kept:
        fa, count = stored.get(_key(f)), counted.get(f.blob_sha)
        if fa is None or count is None:  # changed or vanished between scan and read: analyse it now
            try:
                data = read_file(result.root, f.path)
            except OSError:
                skipped.append(Skipped(f.path, "unreadable"))
                continue
            skip, fa, count = analyze(f.path, data, enc, want_facts=True)
            if skip:
                skipped.append(Skipped(f.path, skip))
                continue
        files[f.path], facts[f.path], tokens[f.path] = f, fa, count
    skipped.sort(key=lambda s: s.path)
    return Repository(root=result.root, encoding=enc, is_git=result.is_git, files=files, facts=facts,
                      tokens=tokens, skipped=skipped, report=report, index_path=index_path,
                      scope=result.scope)
