"""The repository map: a signatures-only skeleton of the repository, most central files first.

Each file is its path followed by the first line of each definition's signature, indented by
nesting; a name bound by an import (`var x = require(...)`) is no definition and is left out.
Files are ordered by PageRank over the symbol and import graph — global for a pack's stable
prefix, personalised when a focus or query is given — code before tests, and the map is cut to its
budget by exact token count.
"""
from __future__ import annotations

import itertools

from repoctx.render import shown_path
from repoctx.retrieve.chunks import symbols_in_order
from repoctx.retrieve.rank import RetrievalIndex
from repoctx.retrieve.search import is_import_binding
from repoctx.scan import is_test_path
from repoctx.tokens import count, get_encoding


def file_entry(path: str, index: RetrievalIndex, most: int | None = None) -> list[str]:
    """A file's map entry as lines: its path, then each definition's first signature line indented
    by its nesting. With `most`, its first `most` lines, then "… N more definitions" (the lines past
    them are never built: 10,000 nested definitions would be O(depth²) characters of indentation)."""
    facts = index.repo.facts[path]
    lines = [shown_path(path)]  # a name could otherwise hold a newline and pose as another entry
    open_ends: list[int] = []  # end lines of the definitions enclosing the current one
    ordered = list(map(facts.symbols.__getitem__, symbols_in_order(facts.symbols)))
    total = 1 + sum(not is_import_binding(s) for s in ordered)
    for s in ordered:
        while open_ends and open_ends[-1] < s.start_line:
            open_ends.pop()
        if not is_import_binding(s):
            if most is not None and len(lines) > most:
                break
            first = s.signature.strip().split("\n", 1)[0].strip() or s.name
            lines.append("  " * (len(open_ends) + 1) + first)
        open_ends.append(s.end_line)
    if most is not None and total > most:
        return lines[:most] + [f"  … {total - most} more definitions"]
    return lines


def repo_map(index: RetrievalIndex, budget: int, seeds: dict[str, float] | None = None) -> str:
    """As much of the map, most central files first, as fits `budget` tokens exactly; the cut may
    fall inside a file's entry ('' if not even a line fits)."""
    enc = get_encoding(index.repo.encoding)
    lines: list[str] = []
    ranked = index.ranked_files(seeds) if seeds else index.global_files()
    code_first = itertools.chain((p for p in ranked if not is_test_path(p)), (p for p in ranked if is_test_path(p)))
    per_file = max(8, budget // 40)  # a small map shows several files, not every line of the first
    for path in code_first:  # by rank within code, then within tests; only as far as the budget goes
        lines.extend(file_entry(path, index, per_file))
        if len(lines) * 3 > budget * 2:  # a line costs at least a token or two: enough to cut from
            break
    lo, hi = 0, len(lines)  # largest k whose first k lines fit
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if count("\n".join(lines[:mid]), enc) <= budget:
            lo = mid
        else:
            hi = mid - 1
    return "\n".join(lines[:lo])
