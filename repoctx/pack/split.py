"""Split: a pack → parts of at most `limit` tokens each, as written, for windows that take a pack in pieces.

`split_pack(result, limit, repo)` renders the pack's selection (`PackResult.rendering`) again as parts
1..n. Each part is a pack of its own in the pack's format that says which part it is
(`render.part_header`: `<context part="i" of="n">`, a `# repoctx pack, part i of n` line, the json
object's `part`/`parts`), and each is counted exactly as it is written — the json object for json —
in the pack's encoding. The budget stays the pack's: splitting cuts the pack that `--budget` allowed,
so the parts hold together the same files and spans, and each part adds only its own frame.

Cuts fall between files. A file that does not fit what is left of a part, and would not fit a part of
its own either, is cut between definitions (the parser's symbols: after a definition ends, or at a
blank line outside every definition), preferring the outermost such boundary that still fills at
least half of what the farthest one would; only inside a single definition larger than a part is it
cut between lines. The map goes in the first part only; the call-site listing and the diff follow
the files, as in the unsplit pack. A part's size is first estimated from its items' exact marginal
counts, then its text is counted as written, and items move to the next part until it fits.
"""
from __future__ import annotations

import glob
import os
import re
from dataclasses import dataclass, replace

from repoctx.model import PackedFile, PackResult, Rendering
from repoctx.render import PART_SEP, FileSlice, render, render_parts, written
from repoctx.tokens import count, count_each, counts_cache, get_encoding


class SplitError(ValueError):
    """A pack that cannot be split as asked (a part too small for its frame, or for one line)."""


@dataclass
class Part:
    result: PackResult  # the part as a pack of its own: its text, files, spans and redactions
    written: str        # what goes in its file (the json object for json)
    tokens: int         # exact tokens of `written`


#: An item of a pack, in render order: ("map", text), ("file", FileSlice), ("callers", text), ("diff", text).
Item = tuple[str, object]


def part_path(target: str, i: int) -> str:
    """Where part i of a pack meant for `target` goes: NAME.xml → NAME.i.xml (NAME → NAME.i)."""
    stem, ext = os.path.splitext(target)
    return f"{stem}.{i}{ext}"


def split_pack(result: PackResult, limit: int, repo) -> list[Part]:
    """The pack as parts of at most `limit` tokens each as written (see the module doc). `repo` is the
    loaded `Repository` the pack was made from (its definitions give the cuts inside a file)."""
    r = result.rendering
    if r is None:
        raise SplitError("this pack cannot be split: it does not say what it was rendered from")
    splitter = _Splitter(result, r, limit, repo)
    n = len(splitter.fill(1, exact=False))  # a first guess from the items' counts alone
    for _ in range(12):  # the parts' count is in every part's frame: settle it
        groups = splitter.fill(n)
        if len(groups) == n:
            return [splitter.checked(g, (i, n)) for i, g in enumerate(groups, 1)]
        n = len(groups)
    raise SplitError(f"could not settle the number of parts for --split {limit:,}; try a slightly different size")


def write_parts(parts: list[Part], target: str) -> tuple[list[str], list[str], list[str]]:
    """Each part written atomically to `part_path(target, i)`; then the parts beyond the last of an
    earlier run (NAME.(n+1).xml, …) removed — only those that hold a repoctx pack. Returns the paths
    written, removed, and kept (not packs: left alone)."""
    from repoctx.files import read_file, write_atomic
    from repoctx.scan import is_pack
    paths = []
    for i, p in enumerate(parts, 1):
        path = part_path(target, i)
        write_atomic(path, p.written, parents=True)  # as -o without --split: missing folders are made
        paths.append(path)
    stem, ext = os.path.splitext(target)
    pattern = re.compile(re.escape(os.path.basename(stem)) + r"\.([1-9]\d*)" + re.escape(ext) + r"\Z")
    removed, kept = [], []
    for path in sorted(glob.glob(glob.escape(stem) + ".*" + glob.escape(ext))):
        m = pattern.match(os.path.basename(path))
        if not m or int(m[1]) <= len(parts) or not os.path.isfile(path) or os.path.islink(path):
            continue
        try:
            ours = is_pack(read_file(os.path.dirname(path), os.path.basename(path), 200_000))
            if ours:
                os.unlink(path)
        except OSError:
            ours = False
        (removed if ours else kept).append(path)
    return paths, removed, kept


class _Splitter:
    def __init__(self, result: PackResult, r: Rendering, limit: int, repo):
        self.result, self.r, self.limit, self.repo = result, r, limit, repo
        self.enc = get_encoding(result.encoding)
        self.items: list[Item] = ([("map", r.map_text)] if r.map_text else []) + [("file", s) for s in r.slices]
        self.items += ([("callers", r.callers)] if r.callers else []) + ([("diff", r.diff)] if r.diff else [])
        self._costs: dict[Item, int] = {}   # what each item adds to a part (see `cost`)
        self._frames: dict[int, int] = {}   # n → the tokens of an empty part of n (see `overhead`)
        if r.format != "json" and self.items:  # each item's count, as the whole pack counted it
            rendered = render_parts(r.map_text, list(r.slices), r.lines_of, r.format, r.line_numbers, r.diff,
                                    r.callers)
            first = 1 if r.format == "xml" else 0
            each = count_each(rendered, PART_SEP, self.enc, counts_cache(repo.index_path))
            self._costs.update(zip(self.items, each[first:]))
        self._depth: dict[str, tuple[list[int], set[int]]] = {}
        self._checked: dict[tuple, Part] = {}

    # -- measuring -------------------------------------------------------------------------------

    def part(self, items: list[Item], part: tuple[int, int]) -> Part:
        """Items rendered as part i of n, counted as written."""
        r, res = self.r, self.result
        got = {k: v for k, v in items if k != "file"}
        slices = [v for k, v in items if k == "file"]
        text = render(got.get("map"), slices, r.lines_of, r.format, r.line_numbers, got.get("diff"),
                      got.get("callers"), part)
        shown = {s.path: s.spans for s in slices}
        redactions = [(p, n, k) for p, n, k in res.redactions
                      if (p == "<map>" and "map" in got) or (p == "<diff>" and "diff" in got)
                      or any(a <= n <= b for a, b in shown.get(p, ()))]
        first = part[0] == 1
        sub = replace(res, tokens=0, text=text, redactions=redactions,
                      files=[PackedFile(s.path, [list(sp) for sp in s.spans], s.whole) for s in slices if s.spans or s.whole],
                      secret_files=list(res.secret_files) if first else [], warnings=list(res.warnings) if first else [],
                      rendering=Rendering(got.get("map"), tuple(slices), got.get("callers"), got.get("diff"),
                                          r.format, r.line_numbers, r.lines_of),
                      part=part[0], parts=part[1])
        sub.tokens = count(text, self.enc)
        if r.format != "json":
            return Part(sub, text, sub.tokens)
        out = written(sub, r.format)
        return Part(sub, out, count(out, self.enc))

    def size(self, items: list[Item], part: tuple[int, int]) -> int:
        return self.part(items, part).tokens

    def cost(self, item: Item) -> int:
        """What an item adds to a part: exact alone in part 1 of 1 (the frames of other parts differ by
        their numbers' tokens at most; every part is counted whole before it is taken)."""
        if item not in self._costs:
            self._costs[item] = self.size([item], (1, 1)) - self.overhead(1)
        return self._costs[item]

    def overhead(self, n: int) -> int:
        """The tokens of part n of n with nothing in it (its frame)."""
        if n not in self._frames:
            self._frames[n] = self.size([], (n, n))
        return self._frames[n]

    # -- filling ---------------------------------------------------------------------------------

    def fill(self, n: int, exact: bool = True) -> list[list[Item]]:
        """The items grouped into parts, each checked exactly as part i of n (or, not `exact`, by the
        sum of its items' counts)."""
        frame = self.overhead(n)
        if frame >= self.limit:
            raise SplitError(f"--split {self.limit:,} is below the {frame:,} tokens a part takes with nothing in it; "
                             f"raise --split")
        self._checked = {}
        queue = list(reversed(self.items))  # a stack: the next item last
        groups: list[list[Item]] = []
        current: list[Item] = []
        used = frame

        def close():
            nonlocal current, used
            i = len(groups) + 1
            while exact and (got := self.checked(current, (i, n))).tokens > self.limit:
                if len(current) > 1:
                    queue.append(current.pop())  # the estimate was short: the last item moves on
                    continue
                (kind, only), = current  # one piece, over once counted with its part's own number
                head, rest = (self.cut(only, lambda p: self.size([("file", p)], (i, n)) <= self.limit, True)
                              if kind == "file" else (None, None))
                if head is None:
                    raise SplitError(f"the {_name(current[0])} takes {got.tokens:,} tokens in a part, more than "
                                     f"--split {self.limit:,}; raise --split")
                queue.append(("file", rest))
                current = [("file", head)]
            groups.append(current)
            current, used = [], frame

        while queue:
            item = queue.pop()
            c = self.cost(item)
            if used + c <= self.limit:
                current.append(item)
                used += c
                continue
            if item[0] != "file" or frame + c <= self.limit:  # not a file, or one that fits a part of its own
                if not current:
                    raise SplitError(f"the {_name(item)} takes {c + frame:,} tokens in a part, more than --split "
                                     f"{self.limit:,}; raise --split" + (" or lower map_budget" if item[0] == "map" else ""))
                queue.append(item)
                close()
                continue
            # A file larger than a part: its first piece fills what is left of this part (cut between
            # lines only in a part of its own, where nothing else could go first).
            head, rest = self.cut(item[1], lambda p: used + self.cost(("file", p)) <= self.limit, not current)
            if head is None:
                if not current:
                    raise SplitError(f"line {item[1].spans[0][0]} of {item[1].path} alone takes more than a part of "
                                     f"{self.limit:,} tokens; raise --split")
                queue.append(item)
            else:
                queue.append(("file", rest))
                current.append(("file", head))
            close()
        if current or not groups:
            close()
        return groups

    def checked(self, items: list[Item], part: tuple[int, int]) -> Part:
        key = (tuple(items), part)
        if key not in self._checked:
            self._checked[key] = self.part(items, part)
        return self._checked[key]

    # -- cutting a file --------------------------------------------------------------------------

    def cut(self, s: FileSlice, fits, by_lines: bool) -> tuple[FileSlice | None, FileSlice | None]:
        """The longest head of `s` (its lines before a boundary) that `fits`, and the rest; (None, s)
        when none fits. Boundaries are between definitions (after one ends, at a blank line outside
        every definition, between the slice's spans); with `by_lines`, any line when none of those fits."""
        lines = [n for a, b in s.spans for n in range(a, b + 1)]
        if len(lines) < 2:
            return None, s
        depth, ends = self.boundaries(s.path)
        text = self.r.lines_of(s.path)
        starts = {a for a, _ in s.spans[1:]}
        bounds = [n for n in lines[1:] if n in starts or n in ends
                  or (depth[n] == 0 and n - 2 < len(text) and not text[n - 2].strip())]
        best = _farthest(bounds, lambda n: fits(_head(s, n)))
        if best is None:
            best = _farthest(lines[1:], lambda n: fits(_head(s, n))) if by_lines else None
            if best is None:
                return None, s
        else:
            # The outermost boundary that keeps at least half of what the farthest one does.
            position = {n: k for k, n in enumerate(lines)}
            for d in range(depth[best] + 1):
                shallow = [n for n in bounds if n <= best and depth[n] <= d]
                if shallow and position[shallow[-1]] * 2 >= position[best]:
                    best = shallow[-1]
                    break
        return _head(s, best), _tail(s, best)

    def boundaries(self, path: str) -> tuple[list[int], set[int]]:
        """depth[n]: how many definitions a cut before line n would fall inside (1-based, n ≤ lines + 1);
        and the lines just after a definition ends."""
        if path not in self._depth:
            facts = self.repo.facts[path]
            total = facts.lines
            diff = [0] * (total + 3)
            ends = set()
            for sym in facts.symbols:
                a, b = max(1, sym.start_line), min(total, sym.end_line)
                if a < b:  # a cut falls inside from after the first line up to the last
                    diff[a + 1] += 1
                    diff[b + 1] -= 1
                ends.add(sym.end_line + 1)
            depth, run = [0] * (total + 2), 0
            for n in range(1, total + 2):
                run += diff[n]
                depth[n] = run
            self._depth[path] = depth, ends
        return self._depth[path]


def _head(s: FileSlice, n: int) -> FileSlice:
    """The lines of `s` before line n."""
    return replace(s, spans=tuple((a, min(b, n - 1)) for a, b in s.spans if a < n))


def _tail(s: FileSlice, n: int) -> FileSlice:
    return replace(s, spans=tuple((max(a, n), b) for a, b in s.spans if b >= n))


def _farthest(sorted_bounds: list[int], fits) -> int | None:
    """The largest bound that `fits` (fits is monotone: true up to some bound, false after), or None."""
    lo, hi, best = 0, len(sorted_bounds) - 1, None
    while lo <= hi:
        mid = (lo + hi) // 2
        if fits(sorted_bounds[mid]):
            best, lo = sorted_bounds[mid], mid + 1
        else:
            hi = mid - 1
    return best


def _name(item: Item) -> str:
    kind, value = item
    return {"map": "map", "callers": "call-site listing", "diff": "diff"}.get(kind) or f"file {value.path}"
