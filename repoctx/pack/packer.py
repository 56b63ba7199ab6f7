"""Packer: the one entry point — a `PackRequest` in, a `PackResult` out, exact to its budget.

The whole repository if it fits the budget (mode `auto` or `whole`), else a map plus
dependency-closed slices. A slice is a ranked chunk taken together with its closure (`closure.py`)
or not at all. Chunks are taken by value per token (fused score, lowered by a power of the share of
the slice that is closure rather than the chunk), their closure's lines merged per file, and the
final text is rendered and counted exactly: the pack shrinks until its real token count fits the
budget (`fit.py`). Every text it emits passes the packer's `Redactor`.

What a model reads: no gap is elided whose marker costs more than the lines it hides; the call
sites a slice does not show as code are listed once, as `path:line`, after the files. A pack
without a query (or after the little a query matched) goes on with the repository's most central
code, so it never ends at the map; one that stays small says why, in `PackResult.warnings`.
"""
from __future__ import annotations

import heapq
import itertools
import os
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING

from repoctx.files import read_file
from repoctx.git import read_change
from repoctx.model import Focus, PackedFile, PackResult, Rendering
from repoctx.pack.fit import largest_fit
from repoctx.pack.request import STAGED, WORKTREE, PackRequest, RequestError
from repoctx.parse.extract import count_lines
from repoctx.render import (
    PART_SEP,
    FileSlice,
    elision_marker,
    file_slice,
    merge_spans,
    render,
    render_parts,
    shown_path,
)
from repoctx.secrets import Redactor
from repoctx.tokens import count, count_parts, counts_cache, get_encoding

if TYPE_CHECKING:  # retrieval, closures and the map (and numpy) load on a slice pack's first use
    from repoctx.index.load import Repository
    from repoctx.pack.closure import Closures, Detail
    from repoctx.retrieve.chunks import Chunk
    from repoctx.retrieve.rank import RetrievalIndex

#: Share of a slice-mode budget spent on the map (at most the request's `map_budget`), and the
#: map's floor in a small pack (at most a quarter of its budget).
MAP_SHARE = 0.05
MIN_MAP = 400
#: How many of the best-ranked chunks are ordered by value per token (the rest follow by rank),
#: and how strongly a large closure lowers a chunk's value (up to FULL_FILL_BUDGET; see
#: `closure_power` above it).
PRICED = 800
CLOSURE_POWER = 0.25
#: A pack whose exact count is below this share of the budget is selected once more.
REFILL_BELOW = 0.96
#: Chunks whose closure does not fit any more before the fill stops looking further down the ranking.
MAX_MISSES = 1000
#: Ranked chunks considered for a slice pack.
CANDIDATES = 20000
#: Rough cost of a new file header and of an elision marker, for the running estimate only;
#: the final pack is counted exactly.
FILE_OVERHEAD = 20
GAP_OVERHEAD = 12
CALLER_OVERHEAD = 6
#: Call sites not shown as code are listed for the first this many chunks taken (the best ranked).
LISTED_DEFINITIONS = 30
#: A gap is shown rather than marked when its lines cost at most `gap_fill(budget)` times its
#: marker: GAP_FILL up to FILL_FROM tokens of budget, one more per GAP_FILL_TOKENS above that, up
#: to MAX_GAP_FILL at FULL_FILL_BUDGET; above it the fill falls with the square of the budget, to
#: 2 × GAP_FILL. A pack of tens of thousands of tokens holds the likely files in pieces, and a
#: marker every few lines breaks what a model reads (the lines next to selected code are often the
#: ones a fix edits); a small pack spends its tokens on what it selected, and a very large one
#: holds those files nearly whole already, where filling gaps would only crowd out the ranking's
#: tail (the last files of a multi-file fix).
GAP_FILL = 3
MAX_GAP_FILL = 40
GAP_FILL_TOKENS = 600
FILL_FROM = 8_000
FULL_FILL_BUDGET = 32_000
#: A slice pack using less than this share of its budget warns.
SMALL_PACK = 0.5


class PackError(Exception):
    """The pack cannot be made as asked (e.g. `whole` mode over budget); says what would be needed."""


class NoChange(PackError):
    """A pack of a change (`diff`) where there is no change: said, rather than a general pack made
    in its place that a reader would take for the change's context."""


def no_change(diff: str) -> str:
    """Why a change's pack is empty, in the words of what was asked."""
    if diff == STAGED:
        return "no change: nothing is staged (stage the change with git add first)"
    if diff == WORKTREE:
        return "no change: the work tree has no change against HEAD (a new file counts once git add -N'd)"
    return f"no change: the work tree has no change against {diff}"


def change_focus(touched: dict[str, list[tuple[int, int]]], repo: Repository) -> list[Focus]:
    """The lines a change touches in files the repository packs, as focus."""
    return [Focus(path, a, b) for path, ranges in sorted(touched.items()) if path in repo.files for a, b in ranges]


class Packer:
    """Packs one loaded repository; keeps its retrieval index, closures, line texts and costs between
    packs (an editor or agent asks many)."""

    def __init__(self, repo: Repository, index: RetrievalIndex | None = None, redact: bool = True):
        self.repo = repo
        self._index = index  # the retrieval index and the closures are built on first use: a whole
        self._closures: Closures | None = None  # pack needs neither
        self.enc = get_encoding(repo.encoding)
        #: Secrets are found in the files packed (cached beside the index) and redacted in place.
        self.redactor = Redactor(os.path.join(os.path.dirname(repo.index_path), "secrets.sealed")
                                 if repo.index_path else None, enabled=redact)
        self._lines: dict[str, list[str]] = {}
        self._costs: dict[str, list[int]] = {}
        self._gaps: dict[tuple[str, int, int, int], bool] = {}
        self._diff: str | None = None
        self._maps: dict[int, tuple[str, list]] = {}  # the query-independent map and its findings, by budget

    def derived(self, repo: Repository, index: RetrievalIndex, changed: list[str]) -> Packer:
        """A packer for `repo`, which is this packer's repository with the `changed` files replaced
        (editor buffers; `index` patched to match), keeping what this one computed for everything
        the change cannot affect."""
        new = Packer.__new__(Packer)
        new.repo, new._index, new.enc, new._diff = repo, index, self.enc, None
        gone = set(changed)
        new.redactor = self.redactor.derived(changed)
        new._closures = None
        if self._closures is not None:
            new._closures = self._closures.derived(repo, changed)
            new._closures.lines = new.lines
        new._lines = {p: v for p, v in self._lines.items() if p not in gone}
        new._costs = {p: v for p, v in self._costs.items() if p not in gone}
        new._gaps = {k: v for k, v in self._gaps.items() if k[0] not in gone}
        new._maps = {b: m for b, m in self._maps.items()  # the map names a file as every output does
                     if not any(f"\n{shown_path(p)}\n" in f"\n{m[0]}\n" for p in changed)}
        return new

    @property
    def index(self) -> RetrievalIndex:
        if self._index is None:
            from repoctx.retrieve.rank import RetrievalIndex
            self._index = RetrievalIndex.load(self.repo)
        return self._index

    @property
    def closures(self) -> Closures:
        if self._closures is None:
            from repoctx.pack.closure import Closures
            self._closures = Closures(self.repo, self.lines)
        return self._closures

    # -- text ------------------------------------------------------------------------------------

    def lines(self, path: str) -> list[str]:
        """The file's lines as packed: secrets redacted (unless redaction is off)."""
        if path not in self._lines:
            key = None if path in self.repo.overlay else self.repo.files[path].blob_sha
            self._lines[path] = self.redactor.file_lines(path, self.repo.text(path), key)
        return self._lines[path]

    def snippet(self, path: str, text: str) -> str:
        """Text taken from a file (a signature, a doc comment), redacted as the file's lines are."""
        self.lines(path)
        return self.redactor.snippet(path, text)

    def line_costs(self, path: str) -> list[int]:
        """Estimated tokens per line, from the file's exact count spread by characters (encoding every
        line would cost more than the whole pack); the finished pack is counted exactly."""
        if path not in self._costs:
            lines = self.lines(path)
            per_char = self.repo.tokens[path] / max(1, sum(len(ln) + 1 for ln in lines))
            self._costs[path] = [max(1, round((len(ln) + 1) * per_char)) for ln in lines]
        return self._costs[path]

    def worth_eliding(self, path: str, first: int, last: int, fill: int = GAP_FILL) -> bool:
        """Whether a gap's lines cost more than `fill` times its marker (else they are shown)."""
        key = (path, first, last, fill)
        if key not in self._gaps:
            marker = count(elision_marker(self.repo.files[path].language or path, first, last), self.enc)
            hidden = self.lines(path)[first - 1:last]
            self._gaps[key] = (len(hidden) < last - first + 1 or sum(self.line_costs(path)[first - 1:last]) > (fill + 1) * marker
                               or count("\n".join(hidden), self.enc) > fill * marker)
        return self._gaps[key]

    def spans(self, path: str, lines, fill: int = GAP_FILL) -> tuple[tuple[int, int], ...]:
        """A file's selected lines as spans, with every gap not worth its marker (`worth_eliding`
        with `fill`) filled in."""
        total = self.repo.facts[path].lines
        out: list[list[int]] = []
        for a, b in merge_spans((n, n) for n in lines):
            if out and not self.worth_eliding(path, out[-1][1] + 1, a - 1, fill):
                out[-1][1] = b
            elif not out and a > 1 and not self.worth_eliding(path, 1, a - 1, fill):
                out.append([1, b])
            else:
                out.append([a, b])
        if out and out[-1][1] < total and not self.worth_eliding(path, out[-1][1] + 1, total, fill):
            out[-1][1] = total
        return tuple((a, b) for a, b in out)

    def map(self, budget: int, seeds: dict[str, float] | None = None) -> str:
        """The signature map cut to `budget` tokens (most central files first, personalised by
        `seeds`), redacted."""
        from repoctx.pack.map import repo_map
        return self.redactor.text("<map>", repo_map(self.index, budget, seeds))

    # -- packs -----------------------------------------------------------------------------------

    def render_selection(self, map_text: str, spans: dict[str, tuple[tuple[int, int], ...]], fmt: str,
                         line_numbers: bool, callers: str = "") -> tuple[str, list[FileSlice]]:
        slices = [file_slice(self.repo, p, s) for p, s in sorted(spans.items())]
        return render(map_text or None, slices, self.lines, fmt, line_numbers, self._diff, callers or None), slices

    def callers_listing(self, chunks: list[Chunk], spans: dict[str, tuple[tuple[int, int], ...]],
                        detail: Detail | None = None) -> str:
        """One line per packed definition whose call sites are not all shown (with closures of
        `detail`): where else it is called, each place once in the pack."""
        out, listed = [], set()
        for c in sorted(set(chunks[:LISTED_DEFINITIONS])):
            where, more = self.closures.other_callers(c, detail)
            fresh = [w for w in where if w not in listed and not _shown(w, spans)]
            listed.update(fresh)
            if fresh:
                out.append(f"{c.symbol} ({c.path}) called at {', '.join(fresh)}" + (f", +{more} more" if more else ""))
        return "\n".join(out)

    def streamed_lines(self, path: str) -> list[str]:
        """`lines`, not kept (a whole pack reads each file once)."""
        if path in self._lines:
            return self._lines[path]
        key = None if path in self.repo.overlay else self.repo.files[path].blob_sha
        return self.redactor.file_lines(path, self.repo.text(path), key)

    def whole_slice(self, path: str) -> FileSlice:
        """A file whole: its lines counted from its bytes as its facts count them (`count_lines`), so
        that a whole pack decodes no file's facts (a quarter of its time on Django); an editor's
        buffer, or a file that cannot be read, by its facts."""
        n = None
        if path not in self.repo.overlay:
            try:
                n = count_lines(read_file(self.repo.root, path))
            except OSError:
                pass
        if n is None:
            n = self.repo.facts[path].lines
        return FileSlice(path, self.repo.files[path].language, ((1, n),) if n else (), n)

    def whole(self, fmt: str, line_numbers: bool, tree: str | None = None) -> tuple[str, int, list[FileSlice]]:
        """The whole repository rendered and counted, `tree` (its file tree) first. Each file's lines
        are read, redacted and rendered in turn, not kept: at most one file's lines are held beside
        the text."""
        slices = [self.whole_slice(p) for p in sorted(self.repo.facts)]
        parts = render_parts(tree, slices, self.streamed_lines, fmt, line_numbers, self._diff)
        tokens = count_parts(parts, PART_SEP, self.enc, counts_cache(self.repo.index_path))
        return PART_SEP.join(parts), tokens, slices

    def pack(self, request: PackRequest) -> PackResult:
        """The pack a request asks for. With `request.diff`, that change's diff goes last in the pack
        (and counts against the budget), and the lines it touches join the focus. A json pack's
        budget holds for the object as written (`render.written`): its text is packed to a budget
        lowered by what the object's escaping and fields cost, until the object fits."""
        if request.format != "json":
            return self._pack(request)
        from dataclasses import replace
        from repoctx.render import written
        inner = request.budget
        for _ in range(8):
            result = self._pack(replace(request, budget=inner))
            size = count(written(result, "json"), self.enc)
            if size <= request.budget:
                result.budget = request.budget
                return result
            inner = int(inner * min(request.budget / size, 0.99))  # at least 1% lower: packs grow in steps
            if inner < 1:
                break
        raise PackError(f"a budget of {request.budget:,} tokens cannot hold the json object of a pack "
                        f"({size:,} tokens as written); raise the budget")

    def _pack(self, request: PackRequest) -> PackResult:
        start = time.perf_counter()
        focus = list(request.focus)
        for f in focus:  # a focus past the file's end would pack no code of it, only the map
            lines = self.repo.facts[f.path].lines if f.path in self.repo.facts else None
            # an empty file is one empty line to an editor, which asks for context there
            if f.start is not None and lines is not None and f.start > max(lines, 1):
                raise RequestError(f"{request.origin}focus {f.path}:{f.start}: the file has {lines:,} line(s)")
        diff = None
        if request.diff:
            rev = None if request.diff in (STAGED, WORKTREE) else request.diff
            root = self.repo.root  # a file packs leave out is left out of the diff too
            change = read_change(root, rev, staged=request.diff == STAGED,
                                 left_out=self.redactor.left_out_rule(root, by_name=True))
            if not change.diff.strip():
                raise NoChange(no_change(request.diff))
            diff = change.diff
            focus += change_focus(change.touched, self.repo)
        self._diff = self.redactor.text("<diff>", diff) or None
        budget, fmt, numbers = request.budget, request.format, request.line_numbers
        if request.mode in ("auto", "whole"):
            # Rendering only adds text, so a repository whose files alone exceed the budget cannot fit.
            whole = None
            # The file tree opens a whole pack (a reader orients by it), counted in the budget; a
            # repository that fits only without it goes whole without it (built only then: a tenth
            # of a warm Django query pack went to a tree no slice pack shows).
            if sum(self.repo.tokens.values()) - 2 * len(self.repo.files) <= budget:
                tree = file_tree(sorted(self.repo.facts)) if request.tree and len(self.repo.facts) > 1 else None
                whole = text, tokens, slices = self.whole(fmt, numbers, tree)
                if tokens > budget and tree:
                    tree, whole = None, self.whole(fmt, numbers)
                    text, tokens, slices = whole
                if tokens <= budget:
                    empty = [] if self.repo.files else ["the pack is empty: the repository has no file to pack "
                                                        "(see `repoctx stats` for what was skipped and why)"]
                    rendering = Rendering(tree, tuple(slices), None, self._diff, fmt, numbers, self.streamed_lines)
                    return self._result("whole", budget, text, tokens, slices, start, (), empty, rendering)
            if request.mode == "whole":
                tokens = (whole or self.whole(fmt, numbers))[1]  # the least that goes whole: without the tree
                raise PackError(f"the whole repository needs {tokens:,} tokens (budget {budget:,}); "
                                f"raise --budget to at least {tokens:,} or use --mode auto/slice")
        return self._slice(request.query, focus, budget, fmt, numbers, request.map_budget, start)

    def _slice(self, query, focus, budget, fmt, line_numbers, map_budget, start) -> PackResult:
        # A small budget still opens with a map (the reader's orientation), a few hundred tokens of it.
        mb = min(max(int(budget * MAP_SHARE), min(budget // 4, MIN_MAP)), map_budget)
        if query.strip() or focus:  # the map follows what the pack is about
            from repoctx.retrieve.rank import query_signals
            map_text = self.map(mb, query_signals(self.index, query, list(focus)).seeds) if mb > 50 else ""
            map_found = list(self.redactor.findings.get("<map>", ())) if map_text else []
        else:
            if mb not in self._maps:
                text = self.map(mb) if mb > 50 else ""
                self._maps[mb] = text, list(self.redactor.findings.get("<map>", ())) if text else []
            map_text, map_found = self._maps[mb]
        base_text, _ = self.render_selection(map_text, {}, fmt, line_numbers)
        base = count(base_text, self.enc)

        def build(k: int, chosen=None):
            """The pack of the first k additions (of `chosen`, else of the fill's): (text, exact
            tokens, slices, k, call-site listing)."""
            lines: dict[str, set[int]] = {}
            chosen = additions if chosen is None else chosen
            for _, adds in chosen[:k]:
                for p, n in adds:
                    lines.setdefault(p, set()).add(n)
            spans = {p: self.spans(p, ls, fill) for p, ls in lines.items()}
            callers = self.callers_listing([c for c, _ in chosen[:k]], spans, detail)
            text, slices = self.render_selection(map_text, spans, fmt, line_numbers, callers)
            return text, count(text, self.enc), slices, k, callers

        # Selection works on estimated line costs; when the real count leaves much of the budget
        # unused, select once more with the estimate scaled to what it actually cost.
        estimate = budget - base
        fill = gap_fill(budget)
        from repoctx.pack.closure import Detail
        detail = Detail.for_budget(budget)  # a tight budget takes lighter closures
        order, matched, central = self._order(query, focus, detail, closure_power(budget), budget)
        for attempt in range(2):
            additions, costs = self._select(order(), estimate, detail)
            used = sum(costs)
            best = build(len(additions))
            if attempt or best[1] > budget or best[1] >= REFILL_BELOW * budget or used < REFILL_BELOW * estimate:
                break
            estimate = int(estimate * (budget - base) / max(1, best[1] - base))
        if best[1] > budget:
            best = largest_fit(build, lambda b: b[1], costs, base, budget, best)
        with_map = bool(map_text)
        if best[1] > budget:  # even the map alone is too big: drop it
            with_map = False
            text, slices = self.render_selection("", {}, fmt, line_numbers)
            best = (text, count(text, self.enc), slices, 0, "")
            if best[1] > budget:
                what = "the diff alone" if self._diff else "an empty pack"
                raise PackError(f"a budget of {budget:,} tokens is below the {best[1]:,} that {what} takes")
        if not with_map and best[3] == 0 and not self._diff and self.repo.files:
            # Nothing fitted by the estimates: the first slice, counted exactly, fits or is the least
            # budget to name (a repository with no code a slice could hold keeps its empty pack).
            first = self._select(itertools.islice(order(), 1), 1 << 40, detail)[0]
            one = build(1, first) if first else None
            if one and one[1] <= budget:
                additions, best = first, one
            elif one:
                raise PackError(f"a budget of {budget:,} tokens holds nothing of the repository: its first slice "
                                f"({first[0][0].path}) takes {one[1]:,}; raise the budget to at least {one[1]:,}")
        warnings = []
        packed = [c for c, _ in additions[:best[3]]]
        if (query.strip() or focus) and any(c in central for c in packed):
            warnings.append(f"the query matched little ({matched:,} chunk(s)); the rest of the pack is the "
                            f"repository's most central code")
        if best[1] < SMALL_PACK * budget:
            warnings.append(f"the pack uses only {best[1]:,} of {budget:,} tokens: "
                            + ("the repository has no more code to add" if len(additions) == best[3] else
                               "the next slices do not fit with their closures"))
        rendering = Rendering(map_text if with_map else None, tuple(best[2]), best[4] or None, self._diff, fmt,
                              line_numbers, self.lines)
        return self._result("slice", budget, best[0], best[1], best[2], start, map_found if with_map else (),
                            warnings, rendering)

    def _order(self, query: str, focus: list[Focus], detail: Detail | None = None, power: float = CLOSURE_POWER,
               budget: int | None = None):
        """The candidate chunks in the order the fill takes them — covered by the focus first, then
        the best-ranked by value per token, then the rest by rank, then (worked out only when the fill
        gets that far, and not for the context of a focus alone) the repository's most central code
        that the query did not reach — as a function giving a fresh iterator; how many chunks the
        query or focus reached; and the set of the central chunks the iterators have given so far."""
        from repoctx.retrieve.rank import central_chunks, rank_chunks
        ranked = rank_chunks(self.index, query, list(focus), CANDIDATES, budget)
        reached = {i for i, _ in ranked}
        first, tail, central = self._priced(ranked, focus, detail, power), [], set()

        def order():
            yield from first
            if focus and not query.strip():
                return  # the context of given code: what it reaches, nothing unrelated
            if not tail:
                tail.append(self._priced([(i, v) for i, v in central_chunks(self.index) if i not in reached]
                                         [:CANDIDATES], [], detail, power))
            for c in tail[0]:
                central.add(c)
                yield c

        return order, len(reached), central

    def _priced(self, ranked: list[tuple[int, float]], focus: list[Focus], detail: Detail | None = None,
                power: float = CLOSURE_POWER) -> _Replayed:
        """The ranked chunks in fill order: those the focus covers first, then the first PRICED by
        value per token — score × (the chunk's share of its closure's lines) ** `power` — then
        the rest by rank; ties by rank. Priced as far as the fill reads: a value is at most its
        score and scores fall with rank, so a priced chunk goes out once no unpriced one can beat it
        (the order is the one pricing every chunk gives; a 32k pack on Django prices 238 of 800)."""
        chunks = self.index.chunks
        covered = self.index.covered(list(focus)) if focus else None
        forced = {k for k, (i, _) in enumerate(ranked) if covered[i]} if focus else set()

        def value_per_token(k: int) -> float:
            c = chunks[ranked[k][0]]
            own = c.end - c.start + 1
            total = sum(b - a + 1 for _, a, b in self.closures.of(c, True, detail))
            return ranked[k][1] * (own / total) ** power

        priced = min(PRICED, len(ranked))

        def fill_order() -> Iterator[Chunk]:
            first = sorted((-value_per_token(k) if k < priced else 0.0, k) for k in forced)
            yield from (chunks[ranked[k][0]] for _, k in first)
            heap: list[tuple[float, int]] = []
            unpriced = (k for k in range(priced) if k not in forced)
            k = next(unpriced, None)
            while heap or k is not None:
                if heap and (k is None or -heap[0][0] > ranked[k][1] or (-heap[0][0] == ranked[k][1] and heap[0][1] < k)):
                    yield chunks[ranked[heapq.heappop(heap)[1]][0]]
                else:
                    heapq.heappush(heap, (-value_per_token(k), k))
                    k = next(unpriced, None)
            yield from (chunks[ranked[k][0]] for k in range(priced, len(ranked)) if k not in forced)

        return _Replayed(fill_order())

    def _select(self, order, budget: int, detail: Detail | None = None) -> tuple[list[tuple[Chunk, list[tuple[str, int]]]], list[int]]:
        """Chunks with their closures (of `detail`), greedily in `order` while they fit
        `budget` (estimated), as (chunk, new (path, line)s); and the estimated tokens each adds."""
        selected: dict[str, set[int]] = {}
        additions: list[tuple[Chunk, list[tuple[str, int]]]] = []
        costs: list[int] = []
        used = 0
        misses = 0
        for c in order:
            for full in (True, False):
                new = [(p, n) for p, a, b in self.closures.of(c, full, detail) for n in range(a, b + 1)
                       if n not in selected.get(p, ()) and n <= self.repo.facts[p].lines]
                new = list(dict.fromkeys(new))
                fresh = set(new)
                cost = sum(self.line_costs(p)[n - 1] for p, n in new)
                cost += FILE_OVERHEAD * len({p for p, _ in new if p not in selected})
                cost += GAP_OVERHEAD * sum((p, n - 1) not in fresh and n - 1 not in selected.get(p, ()) for p, n in new)
                if full and len(additions) < LISTED_DEFINITIONS:
                    cost += CALLER_OVERHEAD * len(self.closures.other_callers(c, detail)[0])
                if used + cost <= budget:
                    break
            else:
                misses += 1
                if misses > MAX_MISSES or used > budget * 0.98:
                    break
                continue
            if new:
                for p, n in new:
                    selected.setdefault(p, set()).add(n)
                additions.append((c, new))
                costs.append(cost)
                used += cost
        return additions, costs

    def _result(self, mode, budget, text, tokens, slices: list[FileSlice], start, map_found=(), warnings=(),
                rendering: Rendering | None = None) -> PackResult:
        files = [PackedFile(s.path, [list(sp) for sp in s.spans], s.whole) for s in slices if s.spans or s.whole]
        found = self.redactor.findings
        redactions = sorted({(s.path, f.line, f.kind) for s in slices for f in found.get(s.path, ())
                             if any(a <= f.line <= b for a, b in s.spans)})
        redactions += sorted({("<map>", f.line, f.kind) for f in map_found})
        if self._diff:
            redactions += sorted({("<diff>", f.line, f.kind) for f in found.get("<diff>", ())})
        self.redactor.save()
        secret_files = [s.path for s in self.repo.skipped if s.reason == "secret-file"]
        return PackResult(mode=mode, encoding=self.enc.name, budget=budget, tokens=tokens, text=text,
                          files=files, seconds=time.perf_counter() - start, redactions=redactions,
                          secret_files=secret_files, warnings=self.redactor.warnings + list(warnings),
                          rendering=rendering)


def gap_fill(budget: int) -> int:
    """How many times its marker's cost a gap's lines may cost and still be shown, in a pack of
    `budget` tokens (see GAP_FILL)."""
    if budget > FULL_FILL_BUDGET:
        return max(2 * GAP_FILL, int(MAX_GAP_FILL * (FULL_FILL_BUDGET / budget) ** 2))
    return max(GAP_FILL, min(MAX_GAP_FILL, GAP_FILL + (budget - FILL_FROM) // GAP_FILL_TOKENS))


def closure_power(budget: int) -> float:
    """How strongly a chunk's closure lowers its value in a pack of `budget` tokens: CLOSURE_POWER
    up to FULL_FILL_BUDGET, then falling with the square of the budget. A large pack already holds
    most of what a closure names (the signatures and headers the best chunks share), so a chunk's
    whole closure overstates what it adds; priced by it, a short function that calls much (zstd's
    16-line `ZSTD_compressBegin_usingCDict_advanced`, ranked 100th) fell to 398th and out of a 128k
    pack. mswe-dev every-6th + swe-dev every-2nd, 128k line recall .956 -> .974 (C .794 -> .994,
    no language lower); 8k and 32k unchanged."""
    return CLOSURE_POWER * min(1.0, FULL_FILL_BUDGET / budget) ** 2


def file_tree(paths: list[str]) -> str:
    """A compact file tree of sorted repository paths: each folder once as `name/`, what it holds
    indented under it by two spaces; names shown as every output shows them (`render.shown_path`)."""
    out: list[str] = []
    prev: list[str] = []
    for path in paths:
        *folders, name = path.split("/")
        same = 0
        while same < min(len(prev), len(folders)) and prev[same] == folders[same]:
            same += 1
        out += ["  " * d + shown_path(folders[d]) + "/" for d in range(same, len(folders))]
        out.append("  " * len(folders) + shown_path(name))
        prev = folders
    return "\n".join(out)


def pack(repo: Repository, request: PackRequest = PackRequest(), redact: bool = True) -> PackResult:
    """One pack of a loaded repository (keep a `Packer`, or a `Workspace`, to pack it many times)."""
    return Packer(repo, redact=redact).pack(request)


class _Replayed:
    """An iterator's items, worked out only as far as they are read, and read again from the start
    by every new iteration."""

    def __init__(self, items: Iterator):
        self._items, self._done = items, []

    def __iter__(self) -> Iterator:
        done = self._done
        for i in itertools.count():
            if i == len(done):
                item = next(self._items, _END)
                if item is _END:
                    return
                done.append(item)
            yield done[i]


_END = object()


def _shown(where: str, spans: dict[str, tuple[tuple[int, int], ...]]) -> bool:
    path, _, line = where.rpartition(":")
    return any(a <= int(line) <= b for a, b in spans.get(path, ()))
