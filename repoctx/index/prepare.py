"""`repoctx index`: the index brought up to date, and everything the first query reads made with it.

A query reads the graph, the retrieval index, the literal index and the definitions table, each
kept beside the index for one repository state (`index/cache.py`). Made by the first query after an
index, they cost that query a build (Django: ten times a warm query); made here, by the command
whose job is to index, the first query only reads them. Each is made as a query makes it: updated
from the previous state's where that is cheaper (`graph/store.py`, `retrieve/delta.py`), else built.
"""
from __future__ import annotations

from repoctx.index.load import load_repository
from repoctx.index.update import IndexReport, Progress
from repoctx.scan import ScanOptions


def prepare_repository(root: str, options: ScanOptions | None = None, encoding: str | None = None,
                       index_path: str | None = None, progress: Progress | None = None,
                       workers: int | None = None) -> IndexReport:
    """Scan `root`, bring its index up to date (the whole file checked first, as `index_repository`
    does), and make the derived files a query reads; the index's report."""
    from repoctx.retrieve.rank import RetrievalIndex
    repo = load_repository(root, options or ScanOptions(), encoding, index_path, progress, workers, check=True)
    repo.graph  # noqa: B018 (made, or opened, first: the retrieval index's build reads it)
    index = RetrievalIndex.load(repo)
    index.literals()
    index.definitions()
    return repo.report
