"""The graph as data for other tools: `repoctx graph --format json|dot`.

What comes from a file's text rather than its name — an external import's module string, which
can be a URL with a password in it — passes the one redaction point (`secrets.Redactor`), as the
pack and the map do. File paths are the scan's: files packs leave out are not in the graph."""
from __future__ import annotations

from repoctx.index.load import Repository
from repoctx.secrets import Redactor
from repoctx.render import shown_path


def graph_json(repo: Repository, redactor: Redactor | None = None) -> dict:
    """The graph as JSON data; `redactor` (default: redaction on) redacts the module strings."""
    g = repo.graph
    redactor = redactor or Redactor()
    return {
        "files": [{
            "path": path,
            "language": f.language,
            "tokens": repo.tokens[path],
            "symbols": [{"name": s.name, "kind": s.kind, "start_line": s.start_line, "end_line": s.end_line}
                        for s in repo.facts[path].symbols],
        } for path, f in repo.files.items()],
        "imports": [{"source": s, "target": t} for s, t in g.imports],
        "external_imports": [{"source": s, "module": redactor.text("<graph>", m)} for s, m in g.external_imports],
        "references": [{"source": s, "target": t, "name": n} for s, t, n in g.references],
        # names defined in several places that no import decides between: reported, never guessed
        "ambiguous": [{"source": s, "name": n} for s, n in g.ambiguous],
    }


def _quote(text: str) -> str:
    """A DOT string of a name as packs show it (`render.shown_path`: a newline in it shows as `\\n`)."""
    text = shown_path(text)
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def graph_dot(repo: Repository) -> str:
    """File-level graph: one node per file (grouped in a cluster per top folder), an edge per import."""
    g = repo.graph
    lines = ["digraph repoctx {", "  rankdir=LR;", '  node [shape=box, fontname="monospace", fontsize=10];']
    clusters: dict[str, list[str]] = {}
    for path in repo.files:
        clusters.setdefault(path.rsplit("/", 1)[0] if "/" in path else "", []).append(path)
    for i, (folder, paths) in enumerate(sorted(clusters.items())):
        indent = "  "
        if folder:
            lines.append(f"  subgraph cluster_{i} {{ label={_quote(folder + '/')};")
            indent = "    "
        for p in paths:
            lines.append(f"{indent}{_quote(p)} [label={_quote(p.rsplit('/', 1)[-1])}];")
        if folder:
            lines.append("  }")
    for s, t in g.imports:
        lines.append(f"  {_quote(s)} -> {_quote(t)};")
    lines.append("}")
    return "\n".join(lines)
