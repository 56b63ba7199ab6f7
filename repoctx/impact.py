"""Impact: a change → the definitions it touches → their callers, transitively → the tests that reach them.

What an agent (or a person) wants to know before running tests: which code a change can break and
which tests exercise it. The change is `git.read_change`'s (the work tree or the index against a
revision); its touched lines (post-image) are mapped onto the innermost definitions that hold them
(a line outside every definition is the file's top-level code, `path:<module>`; a file with no
grammar — documentation, configuration, a shell script — has no definitions or callers to follow and
is listed apart, among the other files changed). From there the
graph's caller edges are walked breadth first, a method's callers with its class's (the graph reaches
a method from outside its class through the class): a caller's rank is its depth,
then how many changed definitions it reaches, then its place. Each caller is given with the line
where it uses what it reaches. Test code met on the way (`scan.is_test_path`) is listed apart: the
test functions and the test files, plus the test files that import a changed file or are named
after a changed file or definition (tests that reach code through a framework say so by their name).

The answer is cut to a token limit as a whole (lists shortened, the rest counted), in text or JSON.
"""
from __future__ import annotations

import json
import re
from bisect import bisect_left
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from repoctx.git import read_change
from repoctx.graph.link import MODULE, module_id
from repoctx.pack.packer import NoChange, no_change
from repoctx.pack.request import STAGED, WORKTREE
from repoctx.render import shown_path
from repoctx.scan import is_test_path
from repoctx.secrets import left_out_rule
from repoctx.tokens import count, get_encoding

if TYPE_CHECKING:
    from repoctx.index.load import Repository

#: How far callers are followed, and how many nodes the walk visits at most (a hub's callers).
MAX_DEPTH = 4
MAX_NODES = 5000
#: Token limit of an answer by default.
DEFAULT_LIMIT = 4000


class ImpactError(ValueError):
    """An impact that cannot be answered as asked (a limit too small for its least answer)."""


@dataclass
class Impact:
    diff: str                                           # what was compared: staged, worktree or a revision
    changed: list[dict] = field(default_factory=list)   # {path, name, kind, start_line, end_line}
    callers: list[dict] = field(default_factory=list)   # {path, line, name, depth, reaches}: ranked
    tests: list[dict] = field(default_factory=list)     # {path, line, name, depth}: test functions
    test_files: list[str] = field(default_factory=list)
    other: list[str] = field(default_factory=list)      # changed files with no grammar (README, YAML, …)
    omitted: dict = field(default_factory=dict)         # list → entries cut to fit the limit

    def as_dict(self) -> dict:
        return {"diff": self.diff, "changed": self.changed, "callers": self.callers, "tests": self.tests,
                "test_files": self.test_files, "other": self.other, "omitted": self.omitted}


def change_impact(repo: Repository, diff: str = WORKTREE) -> Impact:
    """The impact of the change `diff` (STAGED, WORKTREE or a revision the work tree is compared
    with) on the loaded repository; NoChange when there is none."""
    rev = None if diff in (STAGED, WORKTREE) else diff
    change = read_change(repo.root, rev, staged=diff == STAGED,
                         left_out=left_out_rule(repo.root, by_name=True))
    if not change.diff.strip():
        raise NoChange(no_change(diff))
    return impact_of(repo, change.touched, diff)


def impact_of(repo: Repository, touched: dict[str, list[tuple[int, int]]], diff: str = WORKTREE) -> Impact:
    """The impact of the touched lines (path → post-image line ranges)."""
    g = repo.graph
    out = Impact(diff)
    seeds: dict[str, None] = {}
    for path, ranges in sorted(touched.items()):
        if path not in repo.facts:
            continue
        if repo.files[path].language is None:   # no grammar: no definitions, no callers to follow
            out.other.append(path)
            continue
        ids = [(sid, g.symbols[sid][1]) for sid in g.symbols_in(path)]
        for a, b in ranges:
            hit = False
            near = [(sid, s) for sid, s in ids if s.start_line <= b and a <= s.end_line]  # overlapping the range
            for line in range(a, b + 1):
                inner = [(s.end_line - s.start_line, sid, s) for sid, s in near if s.start_line <= line <= s.end_line]
                if not inner:
                    continue
                hit = True
                seeds.setdefault(min(inner, key=lambda t: t[:2])[1])
            if not hit:
                seeds.setdefault(module_id(path))
    for sid in seeds:
        path, name = sid.split(":", 1)
        if name == MODULE:
            out.changed.append({"path": path, "name": MODULE, "kind": "module", "start_line": 0, "end_line": 0})
        else:
            s = g.symbols[sid][1]
            out.changed.append({"path": path, "name": name, "kind": s.kind, "start_line": s.start_line,
                                "end_line": s.end_line})
    # breadth-first over callers: depth, and which changed definitions each node reaches
    depth = {sid: 0 for sid in seeds}
    reaches = {sid: {sid} for sid in seeds}
    via: dict[str, str] = {}
    frontier = list(seeds)
    for d in range(1, MAX_DEPTH + 1):
        nxt = []
        for node in frontier:
            for caller in (c for n in _reached_through(g, node) for c in g.callers_of(n)):
                if caller not in depth:
                    if len(depth) >= MAX_NODES:
                        continue
                    depth[caller], reaches[caller], via[caller] = d, set(), node
                    nxt.append(caller)
                if depth[caller] == d:
                    reaches[caller] |= reaches[node]
        frontier = nxt
    for node in sorted((n for n in depth if depth[n] > 0),
                       key=lambda n: (depth[n], -len(reaches[n]), n)):
        path, name = node.split(":", 1)
        line = _use_line(repo, node, via[node])
        if line is None:
            continue
        entry = {"path": path, "line": line, "name": name, "depth": depth[node], "reaches": sorted(reaches[node])[:5]}
        if is_test_path(path):
            out.tests.append({k: entry[k] for k in ("path", "line", "name", "depth")})
        else:
            out.callers.append(entry)
    files = dict.fromkeys(t["path"] for t in out.tests)
    for path in dict.fromkeys(c["path"] for c in out.changed):
        files.update(dict.fromkeys(p for p in g.importers_of(path) if is_test_path(p)))
    files.update(dict.fromkeys(_named_after(repo, out.changed)))
    out.test_files = list(files)
    return out


_WORDS = re.compile(r"[a-z0-9]+")
#: Names too common to tie a test file to a change by its name.
_COMMON = frozenset({"test", "tests", "spec", "index", "init", "main",
                     "common", "base", "core", "types", "module"})


def _named_after(repo: Repository, changed: list[dict]) -> list[str]:
    """Test files named after a changed file or definition (`context_test.go` for `context.go`,
    `res.send.js` for `send`, `test_utils.py`): where tests reach code through a framework or a
    receiver the graph does not follow (a request to an app, `res.send`), their names still say."""
    names = set()
    for c in changed:
        names.add(_stem(c["path"]))
        if c["name"] != MODULE:
            names.add(c["name"].rpartition(".")[2].lower())
    names = {n for n in names if len(n) >= 4 and n not in _COMMON}
    return [p for p in repo.files if is_test_path(p) and names & set(_WORDS.findall(_stem(p)))]


def _stem(path: str) -> str:
    name = path.rpartition("/")[2].lower()
    return name.rpartition(".")[0] or name


def _reached_through(g, node: str) -> list[str]:
    """The node and its enclosing definitions (a method's class): the parser keeps no member of a
    receiver, so code outside a class reaches its methods through the class."""
    out = [node]
    path, name = node.split(":", 1)
    while "." in name:
        name = name.rpartition(".")[0]
        if f"{path}:{name}" in g.symbols:
            out.append(f"{path}:{name}")
    return out


def _use_line(repo: Repository, caller: str, target: str) -> int:
    """The first line of `caller` that uses `target`'s name, not counting imports (its first line when
    none is found); None for top-level code that only imports it (a file's import is no caller)."""
    path, name = caller.split(":", 1)
    lo, hi = 1, repo.facts[path].lines
    if name != MODULE and caller in repo.graph.symbols:
        s = repo.graph.symbols[caller][1]
        lo, hi = s.start_line, s.end_line
    tname = target.split(":", 1)[1].rpartition(".")[2]
    uses = repo.facts[path].references.lines_of(tname) if tname != MODULE else []
    imports = {i.line for i in repo.facts[path].imports}
    if name == MODULE:  # top-level code: the lines outside every definition of the file
        spans = [(s.start_line, s.end_line) for s in repo.facts[path].symbols]
        uses = [n for n in uses if not any(a <= n <= b for a, b in spans)]
    at = bisect_left(uses, lo)
    while at < len(uses) and uses[at] in imports:
        at += 1  # importing a name is no use of it
    if at < len(uses) and uses[at] <= hi:
        return uses[at]
    return None if name == MODULE else lo


def fit(impact: Impact, limit: int, encoding: str | None, as_json: bool) -> str:
    """The answer as text or JSON within `limit` tokens: the longest lists cut first, each cut counted
    in `omitted` (the changed definitions go last)."""
    enc = get_encoding(encoding)
    lists = {"callers": impact.callers, "tests": impact.tests, "test_files": impact.test_files,
             "other": impact.other, "changed": impact.changed}
    keep = {k: len(v) for k, v in lists.items()}

    def render() -> str:
        cut = Impact(impact.diff, **{k: v[:keep[k]] for k, v in lists.items()},
                     omitted={k: len(v) - keep[k] for k, v in lists.items() if keep[k] < len(v)})
        return json.dumps(cut.as_dict(), indent=1) + "\n" if as_json else format_impact(cut)

    text = render()
    while count(text, enc) > limit:
        name = max(("callers", "tests", "test_files", "other", "changed"), key=lambda k: (keep[k] > 1, keep[k] if k != "changed" else 0))
        if keep[name] == 0 or (keep[name] == 1 and all(keep[k] <= 1 for k in keep)):
            raise ImpactError(f"the impact does not fit {limit:,} tokens; raise the limit")
        keep[name] = keep[name] // 2 if keep[name] > 8 else keep[name] - 1
        text = render()
    return text


def format_impact(i: Impact) -> str:
    against = {STAGED: "the staged change", WORKTREE: "the work tree against HEAD"}.get(i.diff, f"the work tree against {i.diff}")
    more = lambda k: [f"  … and {i.omitted[k]:,} more"] if i.omitted.get(k) else []
    out = [f"change ({against}): {len(i.changed) + i.omitted.get('changed', 0)} definition(s)"]
    out += [f"  {shown_path(c['path'])}" + (f":{c['start_line']}-{c['end_line']} {c['kind']} {c['name']}" if c["name"] != MODULE
                                 else " (top-level code)") for c in i.changed] + more("changed")
    out.append(f"callers (transitive; depth, path:line, name): {len(i.callers) + i.omitted.get('callers', 0)}")
    out += [f"  {c['depth']}  {shown_path(c['path'])}:{c['line']}  {c['name']}" for c in i.callers] + more("callers")
    out.append(f"tests reaching it: {len(i.tests) + i.omitted.get('tests', 0)} test definition(s)")
    out += [f"  {t['depth']}  {shown_path(t['path'])}:{t['line']}  {t['name']}" for t in i.tests] + more("tests")
    out.append(f"test files: {len(i.test_files) + i.omitted.get('test_files', 0)}")
    out += [f"  {shown_path(p)}" for p in i.test_files] + more("test_files")
    if i.other or i.omitted.get("other"):
        out.append(f"other files changed (no definitions to follow): {len(i.other) + i.omitted.get('other', 0)}")
        out += [f"  {shown_path(p)}" for p in i.other] + more("other")
    return "\n".join(out) + "\n"
