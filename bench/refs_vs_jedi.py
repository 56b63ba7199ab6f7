"""Precision and recall of repoctx's references (graph.callers_of + the lines naming the symbol)
against jedi's `get_references`, on the Python definitions of one repository.

    /tmp/venv/bin/pip install jedi        # bench only, not a repoctx dependency
    python bench/refs_vs_jedi.py REPO --index-dir /tmp/NEW_FOLDER [--defs 250] [--json OUT]

Definitions: every function, method and class of the repository's non-test .py files, every k-th
of them in file and line order so that at most --defs are checked (a rule that names nothing).
For each, repoctx's references are the lines, in the graph's callers of the definition, that name
it (as the language server's `references` gives them); jedi's are `Script.get_references` at the
definition's name inside the repository. Import statements and the definition's own line are left
out of both (an import names, it does not use). Figures: micro precision and recall over all
(path, line) pairs, and the same over references in non-test files only.

jedi stops a project-wide search after parsing 30 files that contain the name (and opening 2,000):
on a repository with many tests it misses most uses of a widely used name (pytest's `ExitCode`,
`pytest.param`), and repoctx's true references then count as false. The bench lifts both limits
(`--jedi-file-limit 30` restores jedi's default, for comparison with earlier figures).
"""
from __future__ import annotations

import argparse
import json
import os
import re
import sys
import sysconfig

from repoctx.graph.link import lines_of_use
from repoctx.index.load import load_repository
from repoctx.scan import ScanOptions, is_test_path


def repoctx_refs(repo, sid: str) -> set[tuple[str, int]]:
    """The lines `Workspace.references_of` gives (the lines in each caller that name the symbol,
    kept by graph.link.lines_of_use)."""
    g = repo.graph
    _, target = g.symbols[sid]
    out = set()
    for caller in g.callers_of(sid):
        cpath = caller.rpartition(":")[0]
        lo, hi = 1, repo.facts[cpath].lines
        inner_ids = g.symbols_in(cpath)
        if caller in g.symbols:
            lo, hi = g.symbols[caller][1].start_line, g.symbols[caller][1].end_line
        mine = set(lines_of_use(g, repo.facts[cpath].references, sid, caller,
                                sorted({r.line for r in repo.facts[cpath].references if r.name == target.name})))
        for r in repo.facts[cpath].references:
            if r.line not in mine:
                continue
            if r.name == target.name and lo <= r.line <= hi:
                # the innermost symbol at the line must be the caller
                best = None
                for i in inner_ids:
                    s = g.symbols[i][1]
                    if s.start_line <= r.line <= s.end_line and (best is None or s.start_line >= g.symbols[best][1].start_line):
                        best = i
                if (best or f"{cpath}:<module>") == caller:
                    out.add((cpath, r.line))
    return out


class Lines:
    """A repository file's lines, read once."""

    def __init__(self, root: str):
        self.root, self.texts = root, {}

    def __call__(self, path: str) -> list[str]:
        if path not in self.texts:
            with open(os.path.join(self.root, path), encoding="utf-8", errors="replace") as f:
                self.texts[path] = f.read().splitlines()
        return self.texts[path]


class Score:
    """Precision and recall of repoctx's references against a reference tool's, over all the
    definitions and over those outside tests."""

    def __init__(self, tool: str):
        self.tool, self.rows = tool, []
        self.all, self.src = [0, 0, 0], [0, 0, 0]  # true positives, false positives, false negatives

    def add(self, sid: str, mine: set, theirs: set) -> None:
        for counts, keep in ((self.all, lambda x: True), (self.src, lambda x: not is_test_path(x[0]))):
            for i, part in enumerate((mine & theirs, mine - theirs, theirs - mine)):
                counts[i] += sum(1 for x in part if keep(x))
        self.rows.append({"id": sid, "repoctx": sorted(mine), self.tool: sorted(theirs)})

    def report(self, root: str, json_path: str | None) -> None:
        """One JSON line on stdout; with `json_path`, every definition's rows too."""
        (tp, fp, fn), (ts, fs, ns) = self.all, self.src
        out = {"repo": root, "definitions": len(self.rows), "precision": tp / max(1, tp + fp),
               "recall": tp / max(1, tp + fn), "tp": tp, "fp": fp, "fn": fn,
               "precision_src": ts / max(1, ts + fs), "recall_src": ts / max(1, ts + ns)}
        print(json.dumps(out))
        if json_path:
            with open(json_path, "w") as f:
                json.dump({**out, "rows": self.rows}, f, indent=1)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("repo")
    ap.add_argument("--defs", type=int, default=250)
    ap.add_argument("--json")
    ap.add_argument("--jedi-file-limit", type=int, default=10**9,
                    help="files jedi parses per search (its default is 30; see the module docstring)")
    ap.add_argument("--index-dir", required=True, help="a fresh folder for the index and its caches (graph, retrieval)")
    a = ap.parse_args()
    import jedi  # bench only: refs_vs_tsserver imports repoctx_refs without it
    import jedi.inference.references as jedi_references
    jedi_references._PARSED_FILE_LIMIT = a.jedi_file_limit
    jedi_references._OPENED_FILE_LIMIT = max(2000, a.jedi_file_limit)
    root = os.path.realpath(a.repo)
    repo = load_repository(root, ScanOptions(), index_path=os.path.join(a.index_dir, "index.sqlite"))
    g = repo.graph
    defs = [(sid, p, s) for sid, (p, s) in g.symbols.items()
            if p.endswith(".py") and not is_test_path(p) and s.kind in ("function", "method", "class")]
    step = max(1, -(-len(defs) // a.defs))
    defs = defs[::step]
    # a src/ layout's packages import from src/ (the rule names a convention, not a repository)
    paths = [root] + [os.path.join(root, "src")] * os.path.isdir(os.path.join(root, "src"))
    # and only the standard library besides: an installed copy of the repository (pytest in a test
    # environment) would take the repository's own imports away from it
    std = [sysconfig.get_paths()[k] for k in ("stdlib", "platstdlib")]
    project = jedi.Project(root, sys_path=paths + std + [os.path.join(std[0], "lib-dynload")])
    scripts: dict[str, jedi.Script] = {}
    lines = Lines(root)
    import_re = re.compile(r"^\s*(from\s+\S+\s+import\b|import\s)")

    def is_import(path, n):
        ls = lines(path)
        if not (1 <= n <= len(ls)):
            return False
        # inside a parenthesised from-import: look back for its opening line
        k = n - 1
        while k >= 0 and k >= n - 40:
            if import_re.match(ls[k]):
                return k == n - 1 or "(" in ls[k] and ")" not in "".join(ls[k + 1:n - 1])
            if k < n - 1 and not ls[k].strip().endswith((",", "(")) and ls[k].strip():
                break
            k -= 1
        return False

    score = Score("jedi")
    for sid, path, s in defs:
        if path not in scripts:
            scripts[path] = jedi.Script(path=os.path.join(root, path), project=project)
        ls = lines(path)
        # the name's column on the first line at or after start that holds "def name" / "class name"
        line_no, col = None, None
        for n in range(s.start_line, min(s.end_line, s.start_line + 10) + 1):
            m = re.search(r"\b(def|class)\s+" + re.escape(s.name) + r"\b", ls[n - 1])
            if m:
                line_no, col = n, m.start() + len(m.group(1)) + (len(m.group(0)) - len(m.group(1)) - len(s.name))
                break
        if line_no is None:
            continue
        try:
            found = scripts[path].get_references(line_no, col, scope="project")
        except Exception as exc:  # noqa: BLE001 — jedi's own failure: the definition is skipped
            print("jedi failed on", sid, exc, file=sys.stderr)
            continue
        jref = set()
        for r in found:
            if r.module_path is None or r.line is None:
                continue
            rp = os.path.relpath(str(r.module_path), root)
            if rp.startswith("..") or not rp.endswith(".py"):
                continue
            if (rp, r.line) == (path, line_no) or is_import(rp, r.line):
                continue
            jref.add((rp, r.line))
        mine = {(p, n) for p, n in repoctx_refs(repo, sid) if (p, n) != (path, line_no) and not is_import(p, n)}
        score.add(sid, mine, jref)
    score.report(root, a.json)

if __name__ == "__main__":
    main()
