"""Bring the index up to date with a scan: read, parse and count only what the index lacks.

The work (read → classify → parse → count) runs in worker processes, one per core; the main process
only writes results, in small transactions, so Ctrl-C loses at most the files in flight.
"""
from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from repoctx import tokens as tok
from repoctx.files import fault_point, read_file
from repoctx.index.store import IndexStore, encode_facts
from repoctx.model import FileFacts, ScanResult
from repoctx.parse.extract import parse_file
from repoctx.scan import classify_content, git_blob_sha

#: Below this many files to process, forking workers costs more than it saves.
MIN_FILES_FOR_WORKERS = 24
BATCH_BYTES = 256_000
#: Results are committed at least this often (seconds, files), so Ctrl-C loses little.
COMMIT_EVERY_S = 1.0
COMMIT_EVERY_FILES = 200

Progress = Callable[[int, int], None]


@dataclass
class IndexReport:
    files: int          # files the scan accepted
    parsed: int         # files parsed this run (a blob that several files share is parsed once)
    tokenized: int      # files whose tokens were counted this run
    reused: int         # files answered entirely from the index
    skipped: int        # files skipped by the scan or for their content
    seconds: float
    encoding: str
    warnings: list[str] = field(default_factory=list)

    def summary(self) -> str:
        """e.g. `12 files, 3 parsed, 9 reused, 2 skipped, 0.40s (o200k_base)`: parsed, recounted (tokens
        counted anew in another encoding) and reused add up to the files."""
        recounted = self.files - self.parsed - self.reused
        return (f"{self.files} files, {self.parsed} parsed, " + (f"{recounted} recounted, " if recounted else "")
                + f"{self.reused} reused, {self.skipped} skipped, {self.seconds:.2f}s ({self.encoding})")


def analyze(path: str, data: bytes, encoding_name: str, want_facts: bool
            ) -> tuple[str | None, FileFacts | None, int | None]:
    """(skip reason, facts, token count) for one file's bytes."""
    skip = classify_content(path, data)
    if skip:
        return skip, None, None
    facts = parse_file(path, data) if want_facts else None
    count = tok.count(data.decode("utf-8", errors="replace"), tok.get_encoding(encoding_name))
    return None, facts, count


def _analyze_batch(root: str, batch: list[tuple[str, str, bool, bool]], encoding_name: str) -> list[tuple]:
    """Worker: [(path, sha, want_facts, want_tokens)] → [(path, sha, actual_sha, skip, facts blob, tokens)]."""
    out = []
    for path, sha, want_facts, want_tokens in batch:
        try:
            data = read_file(root, path)
        except OSError:
            out.append((path, sha, sha, "unreadable", None, None))
            continue
        actual = git_blob_sha(data)
        skip, facts, count = analyze(path, data, encoding_name, want_facts or actual != sha)
        out.append((path, sha, actual, skip, encode_facts(facts) if facts else None, count))
    return out


def _worker_init() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the main process handles Ctrl-C
    # A parent killed outright (kill -9) cannot stop its pool, and an idle worker waits on a queue
    # whose write end it holds itself, so it would never see EOF: it leaves when its parent does (the
    # main process, or with forkserver the server, which exits with the main process).
    threading.Thread(target=_exit_with_parent, args=(os.getppid(),), daemon=True).start()


def _exit_with_parent(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(0.2)
    os._exit(1)


def update_index(scan: ScanResult, store: IndexStore, encoding_name: str,
                 progress: Progress | None = None, workers: int | None = None,
                 known: tuple[dict, dict] | None = None) -> IndexReport:
    """Parse and count what `store` lacks for the files of `scan`; returns what was done. `known`:
    the store's `known_blobs()` and `known_tokens(encoding_name)`, if the caller read them (they are
    then brought up to date with what this run stores)."""
    start = time.perf_counter()
    blobs, counted = known or (store.known_blobs(), store.known_tokens(encoding_name))
    todo: dict[tuple[str, str], tuple[str, str, bool, bool]] = {}
    known_skips = reused = 0
    for f in scan.files:
        key = (f.blob_sha, f.language or "")
        if blobs.get(key):
            known_skips += 1
        elif key not in blobs or f.blob_sha not in counted:
            todo.setdefault(key, (f.path, f.blob_sha, key not in blobs, f.blob_sha not in counted))
        else:
            reused += 1

    batches: list[list[tuple[str, str, bool, bool]]] = [[]]
    size = 0
    sizes = {f.path: f.size for f in scan.files} if todo else {}
    for item in todo.values():
        if size > BATCH_BYTES:
            batches.append([])
            size = 0
        batches[-1].append(item)
        size += sizes[item[0]]
    batches = [b for b in batches if b]

    parsed_keys: set[tuple[str, str]] = set()   # what was parsed / counted this run, by index key
    tokenized_keys: set[tuple[str, str]] = set()
    languages = {f.path: f.language or "" for f in scan.files} if todo else {}
    pending_blobs: list = []
    pending_tokens: list = []
    last_commit = time.monotonic()
    done = 0

    new_skips: set[tuple[str, str]] = set()

    def take(results: list[tuple]) -> None:
        nonlocal done, last_commit
        for path, sha, actual, skip, facts_blob, count in results:
            done += 1
            if skip:
                new_skips.add((sha, languages[path]))
            if skip == "unreadable":
                continue  # not stored: it may be readable next time
            if facts_blob is not None or skip:
                pending_blobs.append((actual, languages[path], skip, facts_blob))
                if facts_blob is not None:
                    parsed_keys.add((sha, languages[path]))
            if count is not None:
                pending_tokens.append((actual, encoding_name, count))
                tokenized_keys.add((sha, languages[path]))
        if progress:
            progress(done, len(todo))
        if time.monotonic() - last_commit > COMMIT_EVERY_S or len(pending_blobs) >= COMMIT_EVERY_FILES:
            flush()

    def flush() -> None:
        nonlocal last_commit
        if pending_blobs or pending_tokens:
            store.put(pending_blobs, pending_tokens)
            blobs.update(((sha, lang), skip) for sha, lang, skip, _ in pending_blobs)
            counted.update((sha, count) for sha, _, count in pending_tokens)
            pending_blobs.clear()
            pending_tokens.clear()
            fault_point("index-commit")  # tests' crash point (inert unless REPOCTX_FAULT names it)
        last_commit = time.monotonic()

    if todo:  # load once here, so forked workers inherit it (and no tokens.warm thread runs at the fork)
        tok.get_encoding(encoding_name).settle()
    workers = workers or os.cpu_count() or 1
    try:
        if workers > 1 and len(todo) >= MIN_FILES_FOR_WORKERS:
            # Forking copies only the calling thread: with other threads running (the language server)
            # a lock one of them holds would stay held in the child forever, so start fresh instead.
            import multiprocessing  # here: a warm load never starts workers (~15 ms of imports)
            from concurrent.futures import ProcessPoolExecutor, as_completed
            threaded = threading.active_count() > 1
            fork = "fork" in multiprocessing.get_all_start_methods() and not threaded
            ctx = multiprocessing.get_context("fork" if fork else "forkserver" if threaded and os.name == "posix" else "spawn")
            with ProcessPoolExecutor(workers, mp_context=ctx, initializer=_worker_init) as pool:
                futures = [pool.submit(_analyze_batch, scan.root, b, encoding_name) for b in batches]
                try:
                    for fut in as_completed(futures):
                        take(fut.result())
                except BaseException:
                    pool.shutdown(wait=True, cancel_futures=True)
                    raise
        else:
            for b in batches:
                take(_analyze_batch(scan.root, b, encoding_name))
    finally:
        flush()
    # Counted per file, not per blob, so that parsed + recounted + reused = files when blobs repeat
    # (nothing to count when nothing was done: a warm run passes over the files once, above).
    keys = [(f.blob_sha, f.language or "") for f in scan.files] if todo else []
    content_skipped = known_skips + sum(k in new_skips for k in keys)
    parsed = sum(k in parsed_keys and k not in new_skips for k in keys)
    tokenized = sum(k in tokenized_keys and k not in new_skips for k in keys)
    return IndexReport(
        files=len(scan.files) - content_skipped, parsed=parsed, tokenized=tokenized,
        reused=reused, skipped=len(scan.skipped) + content_skipped,
        seconds=time.perf_counter() - start, encoding=encoding_name, warnings=list(store.warnings))
