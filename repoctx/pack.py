"""Pack: the whole repository if it fits the budget, else a map plus dependency-closed slices.

A slice is a ranked chunk taken together with its closure — the headers of the definitions that
enclose it, the imports its lines use, the signatures of the repository symbols it references, and
the call sites of it elsewhere — or not at all. Chunks are taken by value per token (fused score,
lowered by a power of the share of the slice that is closure rather than the chunk), their
closure's lines merged per file, and the final text is rendered and counted exactly: the pack
shrinks until its real token count fits the budget.
"""
from __future__ import annotations

import os
import time
from bisect import bisect_left

import numpy as np

from .chunks import Chunk
from .config import MODES, Settings
from .model import PackedFile, PackResult, Symbol
from .rank import Focus, RepoIndex, node_of, rank_chunks
from .render import FileSlice, merge_spans, render
from .repomap import repo_map
from .repository import Repository
from .scan import is_test_path
from .secrets import Finding, SecretScanner, redact_lines, redact_text
from .tokens import count, get_encoding

#: Share of a slice-mode budget spent on the map (at most the `map_budget` setting).
MAP_SHARE = 0.05
MAX_CALLEES = 6
MAX_CALLERS = 3
SIGNATURE_MAX_LINES = 4
#: How many of the best-ranked chunks are ordered by value per token (the rest follow by rank),
#: and how strongly a large closure lowers a chunk's value.
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


class PackError(Exception):
    """The pack cannot be made as asked (e.g. `whole` mode over budget); says what would be needed."""


class Packer:
    """Packs one loaded repository; keeps its chunk index, line texts and line costs between packs."""

    def __init__(self, repo: Repository, index: RepoIndex | None = None, redact: bool = True):
        self.repo = repo
        self.index = index or RepoIndex.load(repo)
        self.enc = get_encoding(repo.encoding)
        #: Secrets are found in the files packed (cached beside the index) and redacted in place.
        self.scanner = SecretScanner(os.path.join(os.path.dirname(repo.index_path), "secrets.marshal")
                                     if repo.index_path else None) if redact else None
        self._findings: dict[str, list[Finding]] = {}
        self._lines: dict[str, list[str]] = {}
        self._costs: dict[str, list[int]] = {}
        self._diff: str | None = None
        self._names: dict[str, dict[int, set[str]]] = {}
        self._uses: dict[str, dict[str, list[int]]] = {}
        self._maps: dict[int, str] = {}  # the query-independent map, by budget
        self._closures: dict[tuple[Chunk, bool], list[tuple[str, int, int]]] = {}
        self._closures_by: dict[str, set[tuple[Chunk, bool]]] = {}  # path or node id → closures it is in
        self.symbols: dict[str, tuple[str, Symbol]] = repo.graph.symbols  # node id → (path, symbol)
        self.callees: dict[str, list[tuple[str, str]]] = {}  # node id → [(target id, name used)]
        for source, target, name in repo.graph.references:
            self.callees.setdefault(source, []).append((target, name))

    def derived(self, repo: Repository, index: RepoIndex, changed: list[str]) -> Packer:
        """A packer for `repo`, which is this packer's repository with the `changed` files replaced
        (editor buffers; `index` patched to match), keeping what this one computed for everything
        the change cannot affect: closures that touch no changed file and whose call sites no
        changed file adds or removes, line texts and costs, the callee lists."""
        new = Packer.__new__(Packer)
        new.repo, new.index, new.enc, new._diff = repo, index, self.enc, None
        gone = set(changed)
        new.scanner = self.scanner
        new._findings = {p: v for p, v in self._findings.items() if p not in gone}
        prefixes = tuple(f"{p}:" for p in changed)
        new._lines = {p: v for p, v in self._lines.items() if p not in gone}
        new._costs = {p: v for p, v in self._costs.items() if p not in gone}
        new._names = {p: v for p, v in self._names.items() if p not in gone}
        new._uses = {p: v for p, v in self._uses.items() if p not in gone}
        new._maps = {b: m for b, m in self._maps.items() if not any(f"\n{p}\n" in f"\n{m}\n" for p in changed)}
        new.symbols = repo.graph.symbols
        new.callees = {k: v for k, v in self.callees.items() if not k.startswith(prefixes)}
        refs = [r for p in changed for r in repo.graph.references_from(p)]
        for source, target, name in refs:
            new.callees.setdefault(source, []).append((target, name))
        touched = {t for _, t, _ in refs} | {t for p in changed for _, t, _ in self.repo.graph.references_from(p)}
        drop = set().union(*(self._closures_by.get(x, ()) for x in touched | gone))
        new._closures = {k: v for k, v in self._closures.items() if k not in drop}
        new._closures_by = {}  # views are derived from the base packer only, never from each other
        return new

    # -- text ------------------------------------------------------------------------------------

    def lines(self, path: str) -> list[str]:
        """The file's lines as packed: secrets redacted (unless redaction is off)."""
        if path not in self._lines:
            text = self.repo.text(path)
            lines = [ln[:-1] if ln.endswith("\r") else ln for ln in text.split("\n")]
            if self.scanner:
                key = None if path in self.repo.overlay else self.repo.files[path].blob_sha
                self._findings[path] = found = self.scanner.scan(path, text, key)
                if found:
                    lines = redact_lines(lines, found)
            self._lines[path] = lines
        return self._lines[path]

    def line_costs(self, path: str) -> list[int]:
        """Estimated tokens per line, from the file's exact count spread by characters (encoding every
        line would cost more than the whole pack); the finished pack is counted exactly."""
        if path not in self._costs:
            lines = self.lines(path)
            per_char = self.repo.tokens[path] / max(1, sum(len(ln) + 1 for ln in lines))
            self._costs[path] = [max(1, round((len(ln) + 1) * per_char)) for ln in lines]
        return self._costs[path]

    def file_slice(self, path: str, spans) -> FileSlice:
        return FileSlice(path, self.repo.files[path].language, tuple(spans), self.repo.facts[path].lines)

    # -- closure ---------------------------------------------------------------------------------

    def signature_span(self, node: str) -> tuple[str, int, int] | None:
        if node not in self.symbols:
            return None
        path, s = self.symbols[node]
        body = s.body_start_line or s.start_line + 1
        end = max(s.start_line, min(body - 1, s.start_line + SIGNATURE_MAX_LINES - 1, s.end_line))
        return path, s.start_line, end

    def names_by_line(self, path: str) -> dict[int, set[str]]:
        """The names a file's lines use, by line (built once per file)."""
        if path not in self._names:
            by_line: dict[int, set[str]] = {}
            for r in self.repo.facts[path].references:
                by_line.setdefault(r.line, set()).add(r.name)
            self._names[path] = by_line
        return self._names[path]

    def lines_using(self, path: str) -> dict[str, list[int]]:
        """The lines of a file that use each name, sorted (built once per file)."""
        if path not in self._uses:
            by_name: dict[str, list[int]] = {}
            for r in self.repo.facts[path].references:
                by_name.setdefault(r.name, []).append(r.line)
            self._uses[path] = {k: sorted(v) for k, v in by_name.items()}
        return self._uses[path]

    def closure(self, c: Chunk, full: bool = True) -> list[tuple[str, int, int]]:
        """The chunk's lines plus what it needs (headers, imports; with `full`, callee signatures and
        call sites) as (path, first line, last line) spans. Memoised: packs revisit chunks."""
        key = (c, full)
        if key not in self._closures:
            self._closures[key] = spans = self._closure(c, full)
            for where in {p for p, _, _ in spans} | {node_of(c)}:
                self._closures_by.setdefault(where, set()).add(key)
        return self._closures[key]

    def _closure(self, c: Chunk, full: bool) -> list[tuple[str, int, int]]:
        spans = [(c.path, c.start, c.end)]
        node = node_of(c)
        parts = (c.symbol or "").split(".")
        heads = [f"{c.path}:{'.'.join(parts[:i])}" for i in range(1, len(parts) + 1)] if c.symbol else []
        for h in heads:
            sig = self.signature_span(h)
            if sig and sig[1] < c.start:
                spans.append(sig)
        facts = self.repo.facts[c.path]
        by_line = self.names_by_line(c.path)
        used = set().union(*(by_line.get(n, ()) for n in range(c.start, c.end + 1)))
        for imp in facts.imports:
            last = imp.module.replace("::", ".").replace("/", ".").rsplit(".", 1)[-1]
            if used & set(imp.names) or last in used:
                spans.append((c.path, imp.line, imp.line))
        if not full:
            return spans
        seen: set[str] = set()
        for target, name in self.callees.get(node, []):
            if name in used and target not in seen and target != node and len(seen) < MAX_CALLEES:
                seen.add(target)
                sig = self.signature_span(target)
                if sig:
                    spans.append(sig)
        if c.symbol and node in self.symbols and self.symbols[node][1].start_line >= c.start:
            # Call sites: in the chunk that starts the symbol only, callers outside tests first.
            name = self.symbols[node][1].name
            callers = sorted(self.repo.graph.callers_of(node), key=lambda sid: (is_test_path(sid), sid))
            for caller in callers[:MAX_CALLERS]:
                cpath = caller.split(":", 1)[0]
                lo, hi = 1, self.repo.facts[cpath].lines
                if caller in self.symbols:
                    lo, hi = self.symbols[caller][1].start_line, self.symbols[caller][1].end_line
                    spans.append(self.signature_span(caller))
                uses = self.lines_using(cpath).get(name, [])
                at = bisect_left(uses, lo)
                line = uses[at] if at < len(uses) and uses[at] <= hi else None
                if line:
                    spans.append((cpath, line, line))
        return spans

    # -- packs -----------------------------------------------------------------------------------

    def redacted(self, what: str, text: str) -> str:
        """The map or the diff with its secrets redacted (recorded under `what`)."""
        if not self.scanner or not text:
            return text
        text, self._findings[what] = redact_text(self.scanner, what, text)
        return text

    def render_selection(self, map_text: str, spans: dict[str, tuple[tuple[int, int], ...]], fmt: str,
                         line_numbers: bool) -> tuple[str, list[FileSlice]]:
        slices = [self.file_slice(p, s) for p, s in sorted(spans.items())]
        return render(map_text or None, slices, self.lines, fmt, line_numbers, self._diff), slices

    def whole(self, fmt: str, line_numbers: bool) -> tuple[str, int, list[FileSlice]]:
        spans = {p: ((1, f.lines),) if f.lines else () for p, f in self.repo.facts.items()}
        text, slices = self.render_selection("", spans, fmt, line_numbers)
        return text, count(text, self.enc), slices

    def pack(self, query: str = "", budget: int = 32_000, mode: str = "auto", focus: list[Focus] = (),
             fmt: str = "xml", line_numbers: bool = False, map_budget: int | None = None,
             diff: str | None = None) -> PackResult:
        """A pack for `query` and `focus`; with `diff`, that diff goes last in the pack (and counts
        against the budget) — the focus is then typically the lines it touches."""
        self._diff = self.redacted("<diff>", diff) or None
        start = time.perf_counter()
        if mode not in MODES:
            raise PackError(f"unknown mode {mode!r}; choose one of {', '.join(MODES)}")
        if mode in ("auto", "whole"):
            # Rendering only adds text, so a repository whose files alone exceed the budget cannot fit.
            tokens = sum(self.repo.tokens.values())
            if tokens - 2 * len(self.repo.files) <= budget:
                text, tokens, slices = self.whole(fmt, line_numbers)
                if tokens <= budget:
                    return self._result("whole", budget, text, tokens, slices, start)
            if mode == "whole":
                raise PackError(f"the whole repository needs about {tokens:,} tokens (budget {budget:,}); "
                                f"raise --budget or use --mode auto/slice")
        return self._slice(query, budget, focus, fmt, line_numbers, map_budget, start)

    def _slice(self, query, budget, focus, fmt, line_numbers, map_budget, start) -> PackResult:
        mb = min(int(budget * MAP_SHARE), map_budget if map_budget is not None else Settings.map_budget)
        if mb not in self._maps:
            self._maps[mb] = self.redacted("<map>", repo_map(self.index, mb)) if mb > 50 else ""
        map_text = self._maps[mb]
        base_text, _ = self.render_selection(map_text, {}, fmt, line_numbers)
        base = count(base_text, self.enc)

        def build(k: int):
            """The pack of the first k additions: (text, exact tokens, slices)."""
            lines: dict[str, set[int]] = {}
            for adds in additions[:k]:
                for p, n in adds:
                    lines.setdefault(p, set()).add(n)
            spans = {p: merge_spans((n, n) for n in ls) for p, ls in lines.items()}
            text, slices = self.render_selection(map_text, spans, fmt, line_numbers)
            return text, count(text, self.enc), slices

        # Selection works on estimated line costs; when the real count leaves much of the budget
        # unused, select once more with the estimate scaled to what it actually cost.
        estimate = budget - base
        order = self._order(query, focus)
        for attempt in range(2):
            additions, costs = self._select(order, estimate)
            used = sum(costs)
            best = build(len(additions))
            if attempt or best[1] > budget or best[1] >= REFILL_BELOW * budget or used < REFILL_BELOW * estimate:
                break
            estimate = int(estimate * (budget - base) / max(1, best[1] - base))
        # Exactness: the largest prefix of additions whose rendered text fits the budget. A search
        # between a prefix known to fit (lo) and one known not to (hi), probing where the estimated
        # costs, scaled by the last exact count, say the budget runs out (then halving): counting a
        # pack costs more than anything else here, and this needs two or three counts, not log2(n).
        if best[1] > budget:
            cum = [0]
            for c in costs:
                cum.append(cum[-1] + c)
            lo, hi, known = 0, len(additions), best
            for step in range(64):
                if lo >= hi - 1:
                    break
                ratio = (known[1] - base) / max(1, cum[hi])
                guess = (max((k for k in range(lo, hi) if base + cum[k] * ratio <= budget), default=lo)
                         if step < 3 else (lo + hi) // 2)
                k = min(hi - 1, max(lo + 1, guess))
                probe = build(k)
                if probe[1] <= budget:
                    lo, best = k, probe
                else:
                    hi, known = k, probe
            if lo == 0:
                best = build(0)
        with_map = bool(map_text)
        if best[1] > budget:  # even the map alone is too big: drop it
            with_map = False
            text, slices = self.render_selection("", {}, fmt, line_numbers)
            best = (text, count(text, self.enc), slices)
            if best[1] > budget:
                what = "the diff alone" if self._diff else "an empty pack"
                raise PackError(f"a budget of {budget:,} tokens is below the {best[1]:,} that {what} takes")
        return self._result("slice", budget, best[0], best[1], best[2], start, with_map)

    def _order(self, query: str, focus: list[Focus]) -> list[Chunk]:
        """The candidate chunks in the order the fill takes them: covered by the focus first, then
        the best-ranked by value per token, then the rest by rank."""
        ranked = rank_chunks(self.index, query, list(focus))[:CANDIDATES]
        chunks = self.index.chunks
        covered = self.index.covered(list(focus)) if focus else None
        forced = {i for i, _ in ranked if covered[i]} if focus else set()

        def value_per_token(k: int) -> float:
            """Score × the share of the slice's cost that is the chunk itself (not its closure)."""
            c = chunks[ranked[k][0]]
            own = c.end - c.start + 1
            total = sum(b - a + 1 for _, a, b in self.closure(c))
            return ranked[k][1] * (own / total) ** CLOSURE_POWER

        priority = np.zeros(len(ranked))
        priority[:PRICED] = [value_per_token(k) for k in range(min(PRICED, len(ranked)))]
        unforced = np.array([i not in forced for i, _ in ranked], dtype=bool)
        order = np.lexsort((np.arange(len(ranked)), -priority, unforced)).tolist()
        return [chunks[ranked[k][0]] for k in order]

    def _select(self, order: list[Chunk], budget: int) -> tuple[list[list[tuple[str, int]]], list[int]]:
        """Chunks with their closures, greedily in `order` while they fit `budget` (estimated), as
        lists of new (path, line); and the estimated tokens each adds."""
        selected: dict[str, set[int]] = {}
        additions: list[list[tuple[str, int]]] = []
        costs: list[int] = []
        used = 0
        misses = 0
        for c in order:
            for full in (True, False):
                new = [(p, n) for p, a, b in self.closure(c, full) for n in range(a, b + 1)
                       if n not in selected.get(p, ()) and n <= len(self.lines(p))]
                new = list(dict.fromkeys(new))
                fresh = set(new)
                cost = sum(self.line_costs(p)[n - 1] for p, n in new)
                cost += FILE_OVERHEAD * len({p for p, _ in new if p not in selected})
                cost += GAP_OVERHEAD * sum((p, n - 1) not in fresh and n - 1 not in selected.get(p, ()) for p, n in new)
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
                additions.append(new)
                costs.append(cost)
                used += cost
        return additions, costs

    def _result(self, mode, budget, text, tokens, slices: list[FileSlice], start, with_map=False) -> PackResult:
        files = [PackedFile(s.path, [list(sp) for sp in s.spans], s.whole) for s in slices if s.spans or s.whole]
        redactions = sorted({(s.path, f.line, f.kind) for s in slices for f in self._findings.get(s.path, ())
                             if any(a <= f.line <= b for a, b in s.spans)})
        for what, shown in (("<map>", with_map), ("<diff>", self._diff)):
            if shown:
                redactions += sorted({(what, f.line, f.kind) for f in self._findings.get(what, ())})
        if self.scanner:
            self.scanner.save()
        return PackResult(mode=mode, encoding=self.enc.name, budget=budget, tokens=tokens, text=text,
                          files=files, seconds=time.perf_counter() - start, redactions=redactions)


def pack_repository(repo: Repository, query: str = "", budget: int = 32_000, *, mode: str = "auto",
                    focus: tuple = (), fmt: str = "xml", line_numbers: bool = False,
                    map_budget: int | None = None, redact: bool = True) -> PackResult:
    """One pack of a loaded repository (see `Packer` to pack the same repository many times)."""
    return Packer(repo, redact=redact).pack(query, budget, mode, list(focus), fmt, line_numbers, map_budget)
