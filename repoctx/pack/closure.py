"""Closure: what a chunk needs and what depends on it, as line spans.

A chunk is only packed with its closure — the headers of the definitions that enclose it, the
import blocks its lines use (a block goes whole), the signatures of the repository symbols it
references, and a few call sites of it elsewhere, each inside its caller's signature — so a diff
written from a slice is coherent. A definition goes with its lead (the doc comment, decorators and
annotations right above it), and a doc comment never goes without the signature it describes. The
call sites not shown are listed (`other_callers`) as `path:line`, callers outside tests first.
Closures are memoised per chunk: a pack revisits chunks, and an editor asks many packs of one
repository.
"""
from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from collections.abc import Callable
from functools import lru_cache
from typing import NamedTuple

from repoctx.graph.link import lines_of_use
from repoctx.index.load import Repository
from repoctx.model import LazyReferences, Symbol
from repoctx.parse.languages import comment_prefix
from repoctx.retrieve.chunks import MAX_LINES, Chunk
from repoctx.retrieve.rank import node_of
from repoctx.scan import is_test_path

MAX_CALLEES = 6
#: Call sites shown as code (inside their caller's signature), and listed as `path:line` after those.
MAX_CALLERS = 2
MAX_LISTED_CALLERS = 5
#: A caller of fewer lines than this (signature to end) is shown whole rather than by its signature
#: and the call's lines.
SMALL_CALLER = 12
SIGNATURE_MAX_LINES = 4
#: A callee's signature comes with its doc comment when both together are at most this long.
MAX_CALLEE_LINES = 8
#: A callee of at most this many lines (with its lead) is shown whole rather than by its signature.
SMALL_DEFINITION = 5
#: A body opened by a `{` that ends a shown line goes whole when it is at most this many lines.
SMALL_BODY = 8
#: The longest lead (doc comment, decorators) taken with a definition, and the farthest apart two
#: import lines may be and still be one block.
MAX_LEAD_LINES = 30
IMPORT_GAP = 8
#: Lines that continue a block comment or are attributes/annotations/decorators, in any language.
LEAD_STARTS = ("/*", "*", "@", "#[", "[")
#: Lead lines that are attributes, annotations or decorators (never cut from a definition).
ANNOTATION_STARTS = ("@", "#[", "[")

Span = tuple[str, int, int]  # (path, first line, last line), 1-based inclusive
#: A Go `const ( … )` / `var ( … )` block up to this long goes whole with any line of it.
MAX_GROUP_LINES = 40
#: A Markdown code fence up to this many lines further than a span goes whole with it (a window
#: cut inside a fence reads its code as prose, and the prose after it as code).
MAX_FENCE_LINES = 120
#: Under a tight budget closures degrade: per this many tokens of budget, one line of a doc taken
#: whole, one callee signature and one call site shown as code (each within its limit above).
DOC_LINE_TOKENS = 1_000
CALLEE_TOKENS = 2_000
CALLER_TOKENS = 8_000


class Detail(NamedTuple):
    """How much of its closure a chunk takes: docs (a lead's comment, an enclosing definition's
    docstring) longer than `doc` lines go to their first paragraph (`doc_end`; None: whole), at most
    `callees` callee signatures and `callers` call sites shown as code (the rest are listed)."""
    doc: int | None = None
    callees: int = MAX_CALLEES
    callers: int = MAX_CALLERS

    @classmethod
    def for_budget(cls, budget: int) -> Detail:
        """What a pack of `budget` tokens affords: everything from 32k up (docs to 32 lines, 128 at
        128k); at 8k docs to 8 lines, 4 callee signatures, 1 call site."""
        return cls(max(2, budget // DOC_LINE_TOKENS), max(2, min(MAX_CALLEES, budget // CALLEE_TOKENS)),
                   max(1, min(MAX_CALLERS, budget // CALLER_TOKENS)))


FULL = Detail()


def symbol_signature(path: str, s: Symbol) -> Span:
    """A definition's signature lines (at most SIGNATURE_MAX_LINES, never its body)."""
    body = s.body_start_line or s.start_line + 1
    return path, s.start_line, max(s.start_line, min(body - 1, s.start_line + SIGNATURE_MAX_LINES - 1, s.end_line))


class Closures:
    """The closures of one loaded repository's chunks, and the per-file name indexes they use."""

    def __init__(self, repo: Repository, lines: Callable[[str], list[str]]):
        self.repo = repo
        self.lines = lines  # a file's lines as packed
        self.symbols: dict[str, tuple[str, Symbol]] = repo.graph.symbols  # node id → (path, symbol)
        self._callees: dict[str, dict[str, list[tuple[str, str]]]] = {}  # path → node id → [(target id, name used)]
        self._names: dict[str, dict[int, set[str]]] = {}
        self._uses: dict[tuple[str, str], list[int]] = {}  # (path, name) → lines
        self._blocks: dict[str, list[tuple[int, int]]] = {}
        self._by_line: dict[str, tuple[dict[int, list[int]], list[int], list[int]]] = {}  # see _symbol_lines
        self._closures: dict[tuple[Chunk, bool, Detail], list[Span]] = {}
        self._sites: dict[tuple[Chunk, bool], list[tuple[str, int]]] = {}  # see call_sites
        self._closures_by: dict[str, set[tuple[Chunk, bool, Detail]]] = {}  # path or node id → closures it is in

    def derived(self, repo: Repository, changed: list[str]) -> Closures:
        """The closures of `repo`, which is this one's repository with the `changed` files replaced
        (editor buffers), keeping every closure the change cannot affect: those that touch no changed
        file and whose call sites no changed file adds or removes."""
        new = Closures.__new__(Closures)
        new.repo, new.lines = repo, self.lines
        gone = set(changed)
        new._names = {p: v for p, v in self._names.items() if p not in gone}
        new._uses = {k: v for k, v in self._uses.items() if k[0] not in gone}
        new._blocks = {p: v for p, v in self._blocks.items() if p not in gone}
        new._by_line = {p: v for p, v in self._by_line.items() if p not in gone}
        new.symbols = repo.graph.symbols
        new._callees = {p: v for p, v in self._callees.items() if p not in gone}
        refs = [r for p in changed for r in repo.graph.references_from(p)]
        touched = {t for _, t, _ in refs} | {t for p in changed for _, t, _ in self.repo.graph.references_from(p)}
        drop = set().union(*(self._closures_by.get(x, ()) for x in touched | gone))
        new._closures = {k: v for k, v in self._closures.items() if k not in drop}
        new._sites = {}
        new._closures_by = {}  # views are derived from the base only, never from each other
        return new

    def callees(self, path: str, node: str) -> list[tuple[str, str]]:
        """(target id, name used) of each reference from `node`, a definition in `path` (the file's
        references grouped once, on first use: most files are never asked for)."""
        if path not in self._callees:
            by_source: dict[str, list[tuple[str, str]]] = {}
            for source, target, name in self.repo.graph.references_from(path):
                by_source.setdefault(source, []).append((target, name))
            self._callees[path] = by_source
        return self._callees[path].get(node, [])

    def signature_span(self, node: str) -> Span | None:
        if node not in self.symbols:
            return None
        return self.signature_of(*self.symbols[node])

    def signature_of(self, path: str, s: Symbol) -> Span:
        """`symbol_signature`, taking the line that opens the body with `{` when the signature goes
        on to it (`-> T {` of a C++ trailing return type, `throws X {`, a `{` on a line of its own):
        cut before it, a declaration stops midway; with it, the body's marker says `(body)`."""
        sig = symbol_signature(path, s)
        body, lines = s.body_start_line, self.lines(path)
        if not body and s.start_line < s.end_line < s.start_line + SIGNATURE_MAX_LINES:
            return path, s.start_line, s.end_line  # no body: a short definition is its own signature
        if body and body == sig[2] + 1 <= min(s.end_line, len(lines)) and (self.repo.files[path].language or "") != "python" \
                and (lines[body - 1].rstrip().endswith("{") or lines[sig[2] - 1].lstrip().startswith("template")):
            return path, sig[1], body  # `template <…>` alone is no signature either: the declaration follows
        return sig

    def names_by_line(self, path: str) -> dict[int, set[str]]:
        """The names a file's lines use, by line (built once per file)."""
        if path not in self._names:
            by_line: dict[int, set[str]] = {}
            refs = self.repo.facts[path].references
            for name, line, *_ in refs.pairs() if isinstance(refs, LazyReferences) else refs:
                by_line.setdefault(line, set()).add(name)
            self._names[path] = by_line
        return self._names[path]

    def lines_using(self, path: str, name: str) -> list[int]:
        """The lines of a file that use `name`, sorted (once per file and name: a call site is
        looked for in a few hundred files, a name or two each)."""
        key = (path, name)
        if key not in self._uses:
            refs = self.repo.facts[path].references
            self._uses[key] = refs.lines_of(name) if isinstance(refs, LazyReferences) else \
                sorted(r.line for r in refs if r.name == name)
        return self._uses[key]

    def lead(self, path: str, line: int) -> int:
        """The first line of the doc comment, decorators and annotations right above `line` (no blank
        line between, except after a `/** … */` block), or `line` itself when there are none."""
        lines = self.lines(path)
        prefix = comment_prefix(self.repo.files[path].language or path)
        starts = LEAD_STARTS + ((prefix,) if isinstance(prefix, str) else prefix or ())
        first = line
        while first > 1 and line - first < MAX_LEAD_LINES and first - 1 <= len(lines):
            text = lines[first - 2].strip()
            if not text or not text.startswith(starts):
                break
            first -= 1
        if first == line:
            first = self._doc_block_above_blank(lines, line)
        return first

    @staticmethod
    def _doc_block_above_blank(lines: list[str], line: int) -> int:
        """The first line of a `/** … */` doc block that ends one blank line above `line` (a common
        JSDoc style), or `line` when there is none."""
        end = line - 2  # the line above the blank one, 1-based
        if end < 1 or end > len(lines) or lines[line - 2].strip() or not lines[end - 1].strip().endswith("*/"):
            return line
        for k in range(end, max(0, end - MAX_LEAD_LINES), -1):
            text = lines[k - 1].strip()
            if text.startswith("/**"):
                return k
            if not text.startswith("*"):
                break
        return line

    def definition_head(self, node: str) -> Span | None:
        """A definition's signature with its lead and, where the docstring opens the body (Python),
        the docstring."""
        parts = self._head_parts(node)
        return parts and (parts[0], parts[1], parts[4])

    def head_spans(self, node: str, doc: int | None = None) -> list[Span]:
        """`definition_head` as spans, its lead's comment and its docstring cut to `doc` lines
        (`doc_end`); decorators and the signature are never cut."""
        parts = self._head_parts(node)
        if not parts:
            return []
        path, lead, sig_first, sig_last, last = parts
        spans = self.lead_spans(path, lead, sig_first - 1, doc) if lead < sig_first else []
        end = self.doc_end(path, sig_last + 1, last, doc) if last > sig_last else sig_last
        return spans + [(path, sig_first, end)]

    def _head_parts(self, node: str) -> tuple[str, int, int, int, int] | None:
        """(path, lead's first line, signature's first and last line, docstring's last line or the
        signature's)."""
        sig = self.signature_span(node)
        if not sig:
            return None
        path, first, sig_last = sig
        last = sig_last
        s = self.symbols[node][1]
        if s.doc and s.body_start_line and s.body_start_line > last:
            text = self.lines(path)[s.body_start_line - 1:s.body_start_line].pop().lstrip() \
                if s.body_start_line <= len(self.lines(path)) else ""
            if text[:1] in "\"'rRbBuUfF" and text[:4].strip("rRbBuUfF")[:1] in "\"'":
                last = min(s.end_line, s.body_start_line + s.doc.count("\n"))
        return path, self.lead(path, first), first, sig_last, last

    def doc_end(self, path: str, first: int, last: int, doc: int | None) -> int:
        """The last line to show of a doc comment or docstring on lines first..last: all of it when
        it has at most `doc` lines (or `doc` is None), else its first paragraph — up to the first
        line with no text after one with text — and at most `doc` lines. The lines cut are a gap
        like any other (marked, or shown when a marker would cost more)."""
        if doc is None or last - first + 1 <= doc:
            return last
        lines, seen = self.lines(path), False
        stop = min(last, first + max(1, doc) - 1, len(lines))
        for n in range(first, stop + 1):
            if lines[n - 1].strip().lstrip("/*#!").strip().strip("\"'"):
                seen = True
            elif seen:
                return n - 1
        return stop

    def lead_spans(self, path: str, first: int, last: int, doc: int | None) -> list[Span]:
        """A lead on lines first..last (comment lines, then annotations) as spans, its comment cut
        to `doc` lines (`doc_end`); the annotations right above the definition always go."""
        lines = self.lines(path)
        k = first
        while k <= last and k <= len(lines) and not lines[k - 1].strip().startswith(ANNOTATION_STARTS):
            k += 1
        end = self.doc_end(path, first, k - 1, doc) if k > first else first - 1
        if end >= k - 1:
            return [(path, first, last)]
        return [(path, first, end)] + ([(path, k, last)] if k <= last else [])

    def import_blocks(self, path: str) -> list[tuple[int, int]]:
        """A file's imports as blocks of lines: import lines no definition separates and at most
        IMPORT_GAP apart, from a block's opening line (Go's `import (`) to the end of its last
        statement (brackets closed, no line continued by a backslash). Built once per file."""
        if path not in self._blocks:
            facts, lines = self.repo.facts[path], self.lines(path)
            starts = sorted({s.start_line for s in facts.symbols})
            blocks: list[list[int]] = []
            for n in sorted({i.line for i in facts.imports if 0 < i.line <= len(lines)}):
                at = bisect_left(starts, blocks[-1][1] + 1) if blocks else 0
                if blocks and n - blocks[-1][1] <= IMPORT_GAP and not (at < len(starts) and starts[at] < n):
                    blocks[-1][1] = n
                else:
                    blocks.append([n, n])
            for b in blocks:
                if b[0] > 1 and lines[b[0] - 2].strip().endswith("(") and not lines[b[0] - 1].strip().endswith("("):
                    b[0] -= 1  # Go's `import (`
                depth, n, more = 0, b[0], False  # `more`: the line before ends in `\` (continued)
                while n <= len(lines) and (n <= b[1] or depth > 0 or more) and n - b[1] < 50:
                    depth += sum(lines[n - 1].count(o) - lines[n - 1].count(c) for o, c in ("()", "{}", "[]"))
                    more = lines[n - 1].rstrip().endswith("\\")
                    n += 1
                b[1] = max(b[1], n - 1)
            self._blocks[path] = [(a, b) for a, b in blocks]
        return self._blocks[path]

    def of(self, c: Chunk, full: bool = True, detail: Detail | None = None) -> list[Span]:
        """The chunk's lines plus what it needs (headers, imports; with `full`, callee signatures and
        call sites) as spans, as much of it as `detail` says (default: all of it). Memoised."""
        detail = detail or FULL
        key = (c, full, detail)
        if key not in self._closures:
            self._closures[key] = spans = self._closure(c, full, detail)
            for where in {p for p, _, _ in spans} | {node_of(c)}:
                self._closures_by.setdefault(where, set()).add(key)
        return self._closures[key]

    def _closure(self, c: Chunk, full: bool, detail: Detail) -> list[Span]:
        return self.whole_units(self._parts(c, full, detail))

    def whole_units(self, spans: list[Span]) -> list[Span]:
        """The spans, each grown to whole syntactic units where it would cut one: an import statement
        or block (`from .x import (` … `)`), a Go `const ( … )` / `var ( … )` block of at most
        MAX_GROUP_LINES, a Markdown code fence, a statement whose brackets open before the span or
        close after it (within SMALL_BODY lines: a call's arguments, `X = (` … `)`). A signature that
        ends with an open `{` brings a small body whole (`_small_body_end`); otherwise it is whole as
        it is: its elided body's marker says where the body ends (`render.file_body`), one marker
        and no one-line span for the closing line."""
        out: list[Span] = []
        for path, a, b in spans:
            lines = self.lines(path)
            if not lines:
                out.append((path, a, b))
                continue
            for x, y in self.import_blocks(path):
                if x < a <= y:
                    a = x
                if x <= b < y:
                    b = y
            if path.endswith((".md", ".markdown")):
                a, b = _fence_bounds(lines, a, b)
            else:
                a, b = _group_bounds(lines, a, b)
                if path.endswith(".go"):
                    out.extend((path, x, x) for x in _group_frame(lines, a, b))
                b = self._small_body_end(path, b)
                language = self.repo.files[path].language if path in self.repo.files else None
                if language:  # code: no statement cut inside its brackets (a call's arguments, `X = (`)
                    hashes = comment_prefix(language) == "#"
                    a = _statement_start(lines, a, hashes)
                    b = _statement_end(lines, b, hashes)
            out.append((path, a, b))
        return out

    def _small_body_end(self, path: str, b: int) -> int:
        """The last line of the body that opens with a `{` ending line b when that body (its
        closing line included) is at most SMALL_BODY lines: shown, it costs little more than its
        marker, and the definition reads whole (a struct's fields, a short function) (else b)."""
        lines = self.lines(path)
        last = lines[b - 1].rstrip() if b <= len(lines) else ""
        bodies = self._symbol_lines(path)[0]
        if last.endswith("{"):
            ends = [e for e in bodies.get(b, ()) if b < e]
        elif last.endswith(":"):  # an indented body (Python) starts on the next line
            ends = [e for e in bodies.get(b + 1, ()) if b + 1 <= e]
        else:
            return b
        return ends[0] if ends and ends[0] - b <= SMALL_BODY else b

    def _symbol_lines(self, path: str) -> tuple[dict[int, list[int]], list[int], list[int]]:
        """A file's definitions by line, built once per file, so that a closure looks up the few it
        needs instead of reading every definition of the file (10,000 nested ones made packing
        O(depth²)): (body's first line → end lines, start lines sorted, the definitions' indexes in
        that order), each in the facts' order where lines tie."""
        if path not in self._by_line:
            symbols = self.repo.facts[path].symbols
            bodies: dict[int, list[int]] = {}
            for s in symbols:
                bodies.setdefault(s.body_start_line, []).append(s.end_line)
            order = sorted(range(len(symbols)), key=lambda i: symbols[i].start_line)
            self._by_line[path] = bodies, [symbols[i].start_line for i in order], order
        return self._by_line[path]

    def starting(self, path: str, first: int, last: int) -> list[Symbol]:
        """The file's definitions that start on lines first..last, in the facts' order."""
        _, starts, order = self._symbol_lines(path)
        symbols = self.repo.facts[path].symbols
        return [symbols[i] for i in sorted(order[bisect_left(starts, first):bisect_right(starts, last)])]

    def _parts(self, c: Chunk, full: bool, detail: Detail) -> list[Span]:
        doc = detail.doc
        spans = [(c.path, c.start, c.end)]
        node = node_of(c)
        facts = self.repo.facts[c.path]
        parts = (c.symbol or "").split(".")
        heads = [f"{c.path}:{'.'.join(parts[:i])}" for i in range(1, len(parts) + 1)] if c.symbol else []
        for h in heads:
            head = self.head_spans(h, doc)
            if head and head[0][1] < c.start:
                spans += head
        # Definitions starting in the chunk bring their lead; one starting right after it brings its
        # signature when the chunk ends in its lead (a doc comment without the code it describes).
        for s in self.starting(c.path, c.start, c.end + 1):
            first = self.lead(c.path, s.start_line)
            if s.start_line <= c.end and first < c.start:
                spans += self.lead_spans(c.path, first, c.start - 1, doc)
            elif s.start_line == c.end + 1 and first <= c.end:
                # a chunk that is only this definition's doc comment brings the code it describes
                # (when short: a body of more than a chunk's lines brings its signature)
                only_lead = c.symbol is None and not any(t.strip() for t in self.lines(c.path)[c.start - 1:first - 1])
                small = s.end_line - s.start_line < MAX_LINES
                spans.append((c.path, s.start_line, s.end_line) if only_lead and small else self.signature_of(c.path, s))
        by_line = self.names_by_line(c.path)
        used = set().union(*(by_line.get(n, ()) for n in range(c.start, c.end + 1)))
        wanted = set()
        for imp in facts.imports:
            last = imp.module.replace("::", ".").replace("/", ".").rsplit(".", 1)[-1]
            if used & set(imp.names) or last in used:
                wanted.add(imp.line)
        for a, b in self.import_blocks(c.path):
            if any(a <= n <= b for n in wanted):
                spans.append((c.path, a, b))
        if not full:
            return spans
        seen: set[str] = set()
        test = is_test_path(c.path)
        for target, name in self.callees(c.path, node):
            if not test and is_test_path(target.split(":", 1)[0]):  # code outside tests never calls into them
                continue
            if name in used and target not in seen and target != node and len(seen) < detail.callees:
                seen.add(target)
                head = self.definition_head(target)
                if head:
                    end = self.symbols[target][1].end_line
                    if self.symbols[target][1].kind == "macro":  # `#define` in its `#if … #endif`, if short
                        spans.append((head[0], *_directive_block(self.lines(head[0]), head[1], end)))
                    elif end - head[1] < SMALL_DEFINITION:  # whole: as cheap as its signature, and no sliver
                        spans.append((head[0], head[1], end))
                    else:
                        spans.append(head if head[2] - head[1] < MAX_CALLEE_LINES else self.signature_span(target))
        for caller, line in self.shown_call_sites(c, detail.callers):
            cpath = caller.split(":", 1)[0]
            lo, hi = line - 1, line + 1  # the call's statement, as far as its caller's extent allows
            if caller in self.symbols:
                sig = self.signature_span(caller)
                end = self.symbols[caller][1].end_line
                if end - sig[1] < SMALL_CALLER:  # whole: a few lines more than its signature and window
                    spans.append((cpath, sig[1], end))
                    continue
                spans.append(sig)
                lo, hi = max(lo, sig[2] + 1), min(hi, end)
            lines = self.lines(cpath)
            hashes = comment_prefix(self.repo.files[cpath].language or cpath) == "#"
            if line < hi <= len(lines) and _statement_end(lines, hi, hashes) == hi and _net_brackets(lines[hi - 1], hashes) > 0:
                hi = line  # the line after the call opens a block it does not close: left out, not left open
            spans.append((cpath, max(1, min(lo, line)), max(hi, line)))
        return spans

    def shown_call_sites(self, c: Chunk, most: int = MAX_CALLERS) -> list[tuple[str, int]]:
        """The call sites shown as code: the first `most` outside tests (calls from tests are
        listed, not shown, unless the chunk is test code itself)."""
        test = is_test_path(c.path)
        return [s for s in self.call_sites(c, test) if test or not is_test_path(s[0].split(":", 1)[0])][:most]

    def call_sites(self, c: Chunk, tests: bool = True) -> list[tuple[str, int]]:
        """(caller node, line) of each call of the chunk's symbol, in the chunk that starts the symbol
        only: callers outside tests first, then the chunk's own file, then by path and line. Without
        `tests`, the calls from test files are left out (and their files not read)."""
        key = (c, tests)
        if key not in self._sites:
            self._sites[key] = self._call_sites(c, tests)
        return self._sites[key]

    def _call_sites(self, c: Chunk, tests: bool) -> list[tuple[str, int]]:
        node = node_of(c)
        if not (c.symbol and node in self.symbols and self.symbols[node][1].start_line >= c.start):
            return []
        name = self.symbols[node][1].name
        sites = {}  # (path, line) → the innermost caller there (a definition rather than its module)
        for caller in self.repo.graph.callers_of(node):
            cpath = caller.split(":", 1)[0]
            if not tests and is_test_path(cpath):
                continue
            lo, hi = 1, self.repo.facts[cpath].lines
            if caller in self.symbols:
                lo, hi = self.symbols[caller][1].start_line, self.symbols[caller][1].end_line
            imports = {i.line for i in self.repo.facts[cpath].imports}
            uses = lines_of_use(self.repo.graph, self.repo.facts[cpath].references, node, caller,
                                self.lines_using(cpath, name))  # the lines where the name is this one
            at = bisect_left(uses, lo)
            while at < len(uses) and uses[at] in imports:
                at += 1  # importing a name is no call of it
            if at < len(uses) and uses[at] <= hi and (caller in self.symbols or (cpath, uses[at]) not in sites):
                sites[cpath, uses[at]] = caller
        return sorted(((caller, line) for (_, line), caller in sites.items()), key=lambda s: (is_test_path(s[0].split(":", 1)[0]), s[0].split(":", 1)[0] != c.path, s))

    def other_callers(self, c: Chunk, detail: Detail | None = None) -> tuple[list[str], int]:
        """The call sites of the chunk's symbol not shown as code (in its closure of `detail`), as
        `path:line` (at most MAX_LISTED_CALLERS), and how many more there are."""
        shown = set(self.shown_call_sites(c, (detail or FULL).callers))
        rest = [f"{caller.split(':', 1)[0]}:{line}" for caller, line in self.call_sites(c) if (caller, line) not in shown]
        return rest[:MAX_LISTED_CALLERS], max(0, len(rest) - MAX_LISTED_CALLERS)


def _group_bounds(lines: list[str], a: int, b: int) -> tuple[int, int]:
    """Lines a..b grown to the Go `const (` / `var (` / `type (` blocks that hold line a or line b,
    each when it is at most MAX_GROUP_LINES long (a constant shown without its block reads as a bare
    name)."""
    for n in (a, b):
        group = _group_around(lines, n)
        if group:
            a, b = min(a, group[0]), max(b, group[1])
    return a, b


def _group_frame(lines: list[str], a: int, b: int) -> list[int]:
    """The opening and closing lines (`var (`, `)`) of a Go block longer than MAX_GROUP_LINES that
    lines a..b lie inside: shown with them, a constant cut out of a long block still reads as one
    of its block (a bare `root` reads as a statement). Inside a gofmt'ed block every line is
    indented, so the scans stop at the first line at column 0."""
    k = a - 2  # 0-based, the line above a
    while k >= 0 and lines[k][:1] in (" ", "\t", ""):
        k -= 1
    if k < 0 or lines[k].strip() not in ("const (", "var (", "type ("):
        return []
    m = b  # 0-based, the line below b
    while m < len(lines) and lines[m][:1] in (" ", "\t", ""):
        m += 1
    return [k + 1, m + 1] if m < len(lines) and lines[m].rstrip() == ")" else []


def _group_around(lines: list[str], n: int) -> tuple[int, int] | None:
    """The Go `const (` / `var (` / `type (` block of at most MAX_GROUP_LINES that holds line n, as
    (its opening line, its `)` line), or None."""
    for k in range(min(n, len(lines)) - 1, max(0, n - MAX_GROUP_LINES) - 1, -1):  # 0-based, from line n up
        text = lines[k].strip()
        if text in ("const (", "var (", "type ("):
            close = next((m for m in range(k + 1, min(len(lines), k + MAX_GROUP_LINES)) if lines[m].strip() == ")"), None)
            return (k + 1, close + 1) if close is not None and close + 1 >= n else None
        if k < n - 1 and (text == ")" or lines[k][:1].isalpha()):
            return None  # a line at column 0 or a closed block above: not inside one
    return None


def _directive(text: str) -> str:
    """A preprocessor line's directive (`if`, `ifdef`, `endif`, …), or ""."""
    text = text.lstrip()
    return text[1:].lstrip().split(None, 1)[0] if text.startswith("#") and text[1:].strip() else ""


def _directive_block(lines: list[str], a: int, b: int) -> tuple[int, int]:
    """Lines a..b grown to the innermost `#if` … `#endif` around them when that block is at most
    SMALL_BODY + 4 lines (a `#define` shown alone hides that it is one branch of a conditional);
    else a..b."""
    most, depth, opening = SMALL_BODY + 4, 0, None
    for k in range(a - 1, max(0, b - most), -1):
        d = _directive(lines[k - 1]) if k <= len(lines) else ""
        if d == "endif":
            depth += 1
        elif d.startswith("if"):
            if not depth:
                opening = k
                break
            depth -= 1
    if opening is None:
        return a, b
    depth = 0
    for k in range(b + 1, min(len(lines), opening + most - 1) + 1):
        d = _directive(lines[k - 1])
        if d.startswith("if"):
            depth += 1
        elif d == "endif":
            if not depth:
                return opening, k
            depth -= 1
    return a, b


_QUOTES = re.compile("[\"']")
#: A string literal from its opening quote, up to (not including) its closing one or where it stops.
_STRING_BODY = {q: re.compile(q + r"(?:\\.|[^" + q + r"\\])*") for q in "\"'"}


def _without_strings(text: str) -> str:
    """`text` without its string literals, `"…"` and `'…'` (escapes within), leftmost first: what
    `re.sub(r'"(?:\\.|[^"\\])*"|\'(?:\\.|[^\'\\])*\'', "", text)` gives, in linear time (that
    pattern retries each quote of an unterminated `"\\"\\"\\"…` to the line's end: quadratic, minutes
    for a minified line). A quote whose literal runs out at e unclosed: each quote of its kind before
    e was escaped within it and runs out at e too, so none is tried again."""
    if '"' not in text and "'" not in text:
        return text
    out, pos, i, dead = [], 0, 0, {'"': 0, "'": 0}  # dead[q]: a `q` before this opens no literal
    while m := _QUOTES.search(text, i):
        i, q = m.start(), m.group()
        if i < dead[q]:
            i += 1
            continue
        e = _STRING_BODY[q].match(text, i).end()
        if text.startswith(q, e):
            out.append(text[pos:i])
            pos = i = e + 1
        else:
            dead[q], i = e, i + 1
    out.append(text[pos:])
    return "".join(out)


@lru_cache(maxsize=1 << 16)  # each span's statement bounds ask it of the same lines again and again
def _net_brackets(text: str, hashes: bool, pairs=("()", "[]", "{}")) -> int:
    """Brackets a line opens minus those it closes, outside string literals and line comments
    (`//`, and `#` where that starts a comment)."""
    text = _without_strings(text)
    for mark in ("//", "#") if hashes else ("//",):
        text = text.split(mark, 1)[0]
    return sum(text.count(o) - text.count(c) for o, c in pairs)


def _statement_end(lines: list[str], b: int, hashes: bool) -> int:
    """The line that closes the brackets still open at the end of line b, when that is at most
    SMALL_BODY lines further (else b): a span never stops inside a statement's brackets."""
    depth = 0
    for n in range(max(1, b - SMALL_BODY), b + 1):  # brackets opened in the lines up to b
        depth = max(0, depth + _net_brackets(lines[n - 1], hashes)) if n <= len(lines) else depth
    if depth <= 0 or b > len(lines):
        return b
    for n in range(b + 1, min(len(lines), b + SMALL_BODY) + 1):
        depth += _net_brackets(lines[n - 1], hashes)
        if depth <= 0:
            return n
    return b


def _statement_start(lines: list[str], a: int, hashes: bool) -> int:
    """The line whose `(` or `[` is still open at line a (the statement line a continues), when
    that is at most SMALL_BODY lines above (else a); a `{` opens a block, which a span may start in."""
    net, start = 0, a
    for n in range(min(a - 1, len(lines)), max(0, a - 1 - SMALL_BODY), -1):
        net += _net_brackets(lines[n - 1], hashes, ("()", "[]"))
        if net > 0:  # a bracket opened on line n is open at line a (and at every line since start)
            net, start = 0, n
    return start


def _fence_bounds(lines: list[str], a: int, b: int) -> tuple[int, int]:
    """Lines a..b of a Markdown file grown so that no code fence is cut (a fence opened before `a`
    starts the span; one open at `b` ends it), up to MAX_FENCE_LINES further each way."""
    fences = [n for n, t in enumerate(lines, 1) if t.lstrip().startswith(("```", "~~~"))]
    before = [n for n in fences if n < a]
    if len(before) % 2 and a - before[-1] <= MAX_FENCE_LINES:
        a = before[-1]
    upto = [n for n in fences if n <= b]
    if len(upto) % 2:
        after = [n for n in fences if b < n <= b + MAX_FENCE_LINES]
        if after:
            b = after[0]
    return a, b
