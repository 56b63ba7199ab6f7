"""Chunks: the units retrieval ranks — symbol-sized pieces of a file that never cut a function in half.

Each line belongs to the innermost multi-line definition that contains it. A chunk is a maximal run
of lines with the same owner: a function or method body, a class header (the lines before its first
method), module-level code between definitions. Runs longer than MAX_LINES are split into pieces of
about SPLIT_LINES; every piece of a long body knows its symbol, so the packer can show the signature
with it. Files without a grammar are cut into plain windows.
"""
from __future__ import annotations

from typing import NamedTuple

from repoctx.graph.link import qualified_names
from repoctx.model import FileFacts, Symbol

MAX_LINES = 60
MIN_LINES = 2
SPLIT_LINES = 40


class Chunk(NamedTuple):
    """A tuple, not a dataclass: a large repository has a hundred thousand of them."""
    path: str
    start: int                 # 1-based inclusive
    end: int
    symbol: str | None         # qualified name ("Class.method") of the owning definition, if any


def symbols_in_order(symbols: list[Symbol]) -> list[int]:
    """Indexes of `symbols`, outer definitions before inner ones, in file order."""
    return sorted(range(len(symbols)), key=lambda i: (symbols[i].start_line, -symbols[i].end_line, symbols[i].name))


def file_chunks(path: str, facts: FileFacts) -> list[Chunk]:
    n = facts.lines
    if n == 0:
        return []
    owner = _owners(facts, n)
    runs: list[list] = []  # [start, end, owner]
    start = 1
    for line in range(2, n + 2):
        if line == n + 1 or owner[line] != owner[start]:
            runs.append([start, line - 1, owner[start]])
            start = line
    # A run of a line or two (a decorator, the blank lines between methods) is no unit of its own:
    # it joins the run after it (or, at the end of the file, the one before).
    merged: list[list] = []
    carry = None
    for run in runs:
        if carry is not None:
            run = [carry, run[1], run[2]]
            carry = None
        if run[1] - run[0] + 1 <= MIN_LINES:
            carry = run[0]
            continue
        merged.append(run)
    if carry is not None:
        if merged:
            merged[-1][1] = n
        else:
            merged.append([carry, n, runs[-1][2]])
    return [c for a, b, o in merged for c in _split(path, a, b, o)]


def _owners(facts: FileFacts, n: int) -> list[str | None]:
    """owner[line] (1-based; [0] unused): the qualified name of the multi-line definition that comes
    last in `symbols_in_order` among those containing the line — the innermost one. One sweep with
    a stack (order is by start line, so the newest open definition is the last in that order):
    n + definitions steps, however deep the definitions nest."""
    owner: list[str | None] = [None] * (n + 1)
    quals = qualified_names(facts.symbols)
    starts: dict[int, list[int]] = {}
    for i in symbols_in_order(facts.symbols):
        s = facts.symbols[i]
        if s.end_line > s.start_line and max(1, s.start_line) <= min(n, s.end_line):
            starts.setdefault(max(1, s.start_line), []).append(i)
    stack: list[int] = []
    for line in range(1, n + 1):
        stack.extend(starts.get(line, ()))
        while stack and facts.symbols[stack[-1]].end_line < line:
            stack.pop()
        if stack:
            owner[line] = quals[stack[-1]]
    return owner


def _split(path: str, start: int, end: int, symbol: str | None) -> list[Chunk]:
    length = end - start + 1
    if length <= MAX_LINES:
        return [Chunk(path, start, end, symbol)]
    pieces = -(-length // SPLIT_LINES)
    size = -(-length // pieces)
    return [Chunk(path, a, min(end, a + size - 1), symbol) for a in range(start, end + 1, size)]
