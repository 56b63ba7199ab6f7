"""Standard LSP requests answered from the repository graph: document and workspace symbols,
definition, references, hover. Positions are LSP's (0-based lines, UTF-16 columns)."""
from __future__ import annotations

from lsprotocol import types as t

from typing import TYPE_CHECKING

from repoctx import Location

if TYPE_CHECKING:
    from repoctx_server.language_server import RepoctxServer

_KINDS = {
    "function": t.SymbolKind.Function, "method": t.SymbolKind.Method, "class": t.SymbolKind.Class,
    "interface": t.SymbolKind.Interface, "struct": t.SymbolKind.Struct, "enum": t.SymbolKind.Enum,
    "type": t.SymbolKind.TypeParameter, "module": t.SymbolKind.Module, "constant": t.SymbolKind.Constant,
    "macro": t.SymbolKind.Constant, "field": t.SymbolKind.Field, "variable": t.SymbolKind.Variable,
    "trait": t.SymbolKind.Interface, "namespace": t.SymbolKind.Namespace, "property": t.SymbolKind.Property,
    "constructor": t.SymbolKind.Constructor,
}


def _utf16(text: str, column: int) -> int:
    """UTF-16 length of the first `column` code points of a line."""
    return column + sum(ord(ch) > 0xFFFF for ch in text[:column])


def _codepoints(text: str, units: int) -> int:
    """Code-point column of a UTF-16 column."""
    n = 0
    for i, ch in enumerate(text):
        if n >= units:
            return i
        n += 2 if ord(ch) > 0xFFFF else 1
    return len(text)


def _lines(ws, path: str) -> list[str]:
    return ws.view().packer.lines(path)


def _range(ws, path: str, first: int, last: int, name: str = "") -> tuple[t.Range, t.Range]:
    """(whole range, name range) of lines first..last (1-based) of a file."""
    lines = _lines(ws, path)
    last = max(first, min(last, len(lines)))
    end_text = lines[last - 1] if 0 < last <= len(lines) else ""
    whole = t.Range(t.Position(first - 1, 0), t.Position(last - 1, _utf16(end_text, len(end_text))))
    head = lines[first - 1] if 0 < first <= len(lines) else ""
    at = head.find(name) if name else -1
    if at < 0:
        return whole, t.Range(whole.start, whole.start)
    return whole, t.Range(t.Position(first - 1, _utf16(head, at)), t.Position(first - 1, _utf16(head, at + len(name))))


def _where(ls: RepoctxServer, params) -> tuple:
    folder, path = ls.folder_for(params.text_document.uri)
    ws = ls.wait(folder)
    line = params.position.line + 1
    lines = _lines(ws, path)
    text = lines[line - 1] if 0 < line <= len(lines) else ""
    return folder, ws, path, line, _codepoints(text, params.position.character)


def _location(ls, folder, ws, loc: Location) -> t.Location:
    whole, name = _range(ws, loc.path, loc.start_line, loc.end_line, loc.name)
    return t.Location(ls.uri(folder, loc.path), name if loc.name else whole)


def document_symbol(ls: RepoctxServer, params: t.DocumentSymbolParams) -> list[t.DocumentSymbol]:
    folder, path = ls.folder_for(params.text_document.uri)
    ws = ls.wait(folder)
    prefix = len(path) + 1
    by_qual: dict[str, t.DocumentSymbol] = {}
    top: list[t.DocumentSymbol] = []
    for sid, s in ws.symbols(path):
        whole, name = _range(ws, path, s.start_line, s.end_line, s.name)
        node = t.DocumentSymbol(name=s.name, kind=_KINDS.get(s.kind, t.SymbolKind.Variable), range=whole,
                                selection_range=name, detail=s.signature.strip().split("\n", 1)[0][:200],
                                children=[])
        qual = sid[prefix:]
        parent = by_qual.get(qual.rpartition(".")[0])
        (parent.children if parent else top).append(node)
        by_qual.setdefault(qual, node)
    return top


def workspace_symbol(ls: RepoctxServer, params: t.WorkspaceSymbolParams) -> list[t.SymbolInformation]:
    out = []
    for folder in ls.folders:
        ws = ls.wait(folder)
        for sid, path, s in ws.find_symbols(params.query, limit=100):
            _, name = _range(ws, path, s.start_line, s.end_line, s.name)
            container = sid.split(":", 1)[1].rpartition(".")[0] or path
            out.append(t.SymbolInformation(name=s.name, kind=_KINDS.get(s.kind, t.SymbolKind.Variable),
                                           location=t.Location(ls.uri(folder, path), name), container_name=container))
    return out[:100]


def definition(ls: RepoctxServer, params: t.DefinitionParams) -> list[t.Location]:
    folder, ws, path, line, col = _where(ls, params)
    return [_location(ls, folder, ws, loc) for loc in ws.definitions(path, line, col)[:50]]


def references(ls: RepoctxServer, params: t.ReferenceParams) -> list[t.Location]:
    folder, ws, path, line, col = _where(ls, params)
    include = params.context.include_declaration if params.context else True
    out = []
    for loc in ws.references(path, line, col, include):
        name = loc.name or ws.word_at(path, line, col) or ""
        out.append(_location(ls, folder, ws, Location(loc.path, loc.start_line, loc.end_line, name)))
    return out


def hover(ls: RepoctxServer, params: t.HoverParams) -> t.Hover | None:
    folder, ws, path, line, col = _where(ls, params)
    sid = ws.symbol_at(path, line, col)
    if not sid:
        return None
    d = ws.describe(sid)
    s = d["symbol"]
    where = "" if d["path"] == path else f" — `{d['path']}:{s.start_line}`"
    parts = [f"```{d['language'] or ''}\n{s.signature.strip() or s.name}\n```"]
    if s.doc.strip():
        parts.append(s.doc.strip())
    used = (f"used by {d['callers']} place{'s' if d['callers'] != 1 else ''} in {d['caller_files']} "
            f"file{'s' if d['caller_files'] != 1 else ''}") if d["callers"] else "no known uses"
    parts.append(f"**{d['tokens']:,} tokens** ({d['encoding']}) · {used}{where}")
    return t.Hover(contents=t.MarkupContent(kind=t.MarkupKind.Markdown, value="\n\n".join(parts)))


def register(server) -> None:
    """Serve these requests on `server` (in worker threads)."""
    for method, handler in ((t.TEXT_DOCUMENT_DOCUMENT_SYMBOL, document_symbol), (t.WORKSPACE_SYMBOL, workspace_symbol),
                            (t.TEXT_DOCUMENT_DEFINITION, definition), (t.TEXT_DOCUMENT_REFERENCES, references),
                            (t.TEXT_DOCUMENT_HOVER, hover)):
        server.thread()(server.feature(method)(handler))
