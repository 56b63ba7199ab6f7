"""How long `build_graph` takes on a repository-sized set of FileFacts.

The facts come from Python's own `ast` over a folder of Python files (by default the interpreter's
standard library, site-packages left out), not from repoctx's parser, so only the graph is timed:
symbols are classes and functions (with their parent), references are every name read and every
attribute named, imports are `import` / `from … import` as the parser reports them. `--copies N`
repeats the tree under N top folders to reach a larger repository.

    python bench/graph_speed.py [--root DIR] [--copies N] [--repeat R]
"""
from __future__ import annotations

import argparse
import ast
import os
import sys
import sysconfig
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from repoctx.graph.link import build_graph  # noqa: E402
from repoctx.model import FileFacts, Import, Reference, Symbol  # noqa: E402

_DEFS = (ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)


def facts_of(source: str) -> FileFacts:
    """FileFacts of one Python file, read with `ast` (an explicit stack: no recursion)."""
    tree = ast.parse(source)
    symbols, references, imports = [], [], []
    todo: list[tuple[ast.AST, str | None]] = [(tree, None)]
    while todo:
        node, parent = todo.pop()
        inner = parent
        if isinstance(node, _DEFS):
            kind = "class" if isinstance(node, ast.ClassDef) else ("method" if parent else "function")
            symbols.append(Symbol(node.name, kind, node.lineno, node.end_lineno or node.lineno,
                                  signature=f"{node.name}(…)", parent=parent))
            inner = node.name
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load):
            references.append(Reference(node.id, node.lineno))
        elif isinstance(node, ast.Attribute):
            references.append(Reference(node.attr, node.lineno))
        elif isinstance(node, ast.Import):
            imports += [Import(a.name, (), node.lineno) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            imports.append(Import("." * node.level + (node.module or ""), tuple(a.name for a in node.names),
                                  node.lineno))
        todo.extend((child, inner) for child in ast.iter_child_nodes(node))
    symbols.sort(key=lambda s: s.start_line)
    references.sort(key=lambda r: r.line)
    return FileFacts("python", source.count("\n") + 1, symbols, references, imports)


def load(root: str) -> dict[str, FileFacts]:
    facts = {}
    for folder, dirs, names in os.walk(root):
        dirs[:] = sorted(d for d in dirs if d not in ("site-packages", "__pycache__"))
        for name in sorted(names):
            if not name.endswith(".py"):
                continue
            full = os.path.join(folder, name)
            with open(full, encoding="utf-8", errors="replace") as f:
                text = f.read()
            try:
                fa = facts_of(text)
            except (SyntaxError, ValueError):
                fa = FileFacts("python", text.count("\n") + 1, parse_errors=True)
            facts[os.path.relpath(full, root).replace(os.sep, "/")] = fa
    return facts


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--root", default=sysconfig.get_paths()["stdlib"])
    ap.add_argument("--copies", type=int, default=1, help="repeat the tree under this many top folders")
    ap.add_argument("--repeat", type=int, default=3, help="time this many builds, report each")
    args = ap.parse_args()
    t0 = time.perf_counter()
    one = load(args.root)
    facts = one if args.copies == 1 else {f"copy{i}/{p}": fa for i in range(args.copies) for p, fa in one.items()}
    print(f"facts from ast in {time.perf_counter() - t0:.1f} s: {len(facts)} files, "
          f"{sum(len(f.symbols) for f in facts.values())} symbols, "
          f"{sum(len(f.references) for f in facts.values())} references, "
          f"{sum(len(f.imports) for f in facts.values())} imports")
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        g = build_graph(args.root, facts)
        dt = time.perf_counter() - t0
        print(f"build_graph {dt:.2f} s: {len(g.imports)} import edges, {len(g.external_imports)} external, "
              f"{len(g.references)} reference edges, {len(g.ambiguous)} ambiguous")


if __name__ == "__main__":
    main()
