"""The repository graph: which file imports which, and which symbol refers to which definition.

    g = build_graph(root, facts)           # facts: repository-relative POSIX path -> FileFacts
    g.imports                              # [(source path, target path)]
    g.references                           # [(source id, target id, name)]
    g.callers_of("pkg/a.py:Client.send")   # ids of the symbols whose code names it

A symbol id is "path:Qualified.name", the qualified name being the symbol's parent chain joined with
"." ("pkg/a.py:Client.send"); code outside every symbol is "path:<module>". Symbols that share an id
(overloads, a property's getter and setter) are one node; `symbol(id)` gives the first of them.

A reference (a name used on a line) starts at the innermost symbol whose lines enclose it and is
linked to one definition, by the first rule that picks exactly one:

0. in Python and JavaScript/TypeScript, a member whose receiver the parser recorded (a module, a
   class, or the class of a constructed or annotated object: `Reference.receiver`): the receiver
   is resolved first — its first name as a module an import binds (Python), else by these rules,
   then each further name inside that module or class — and the member is the definition of that
   name in the module (following its re-exports; a JS module bound whole by `import * as m`,
   `import m from` or `require` holds its default-exported class's members too) or in the class
   itself. When the receiver or the
   member resolves to nothing in the repository, the reference is not linked (an external module's
   or an inherited member is not a same-named definition elsewhere); only in JavaScript, where the
   parser does not know which module an import binds to a name, does a receiver whose first name
   no rule resolves leave the member to rules 1-4;

1. a name an import binds: its definition in the files the import names it from, following
   re-exports (`from .impl import x` / `*`, `export { x } from`) through further files;
2. the same file: the definition whose class encloses the reference (a method is reached from
   outside its class only through a receiver, and the parser keeps no member of a receiver of
   unknown type: see parse.extract._uses), or a top-level one;
3. a definition in a file the importer brings in as a whole: its resolved imports (in Python only
   star imports, in JavaScript/TypeScript only those of a whole module, `import * as ns` /
   `require('./m')`, following the module's re-exports), plus for Go and
   Java/Kotlin the other files of its package folder, for C/C++ the headers it includes, directly
   or through other headers;
4. the only definition of that name in the repository — except in Python and JavaScript/TypeScript,
   where a file sees another file's names only through its imports, so a name rules 1-3 leave open
   is a local, a parameter or a global, not that definition.

The same file comes before whole imported files because an unqualified use (`self.send()`, a C
function calling its own body rather than its header's declaration) means the local definition far
more often than a same-named one in some module the file imports; a name an import binds
explicitly still wins over both.

A name defined somewhere that no rule narrows to one definition is not linked: it is listed in
`ambiguous`. A reference that resolves to the symbol it sits in (recursion, or a definition's own
name) is dropped. No names are skipped as too generic: the import rules decide which of several
definitions is meant, and a name no rule can decide is reported rather than guessed. Only rule 4
leaves a language's builtin names alone (see _BUILTINS).
"""
from __future__ import annotations

import builtins
from bisect import bisect_left
import gc
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from itertools import compress, repeat
from operator import attrgetter

from repoctx.graph.imports import ResolvedImport, ImportResolver, family
from repoctx.model import FileFacts, LazyReferences, Symbol

MODULE = "<module>"
#: Bump when resolution or linking rules change: cached graphs of the old rules are then ignored.
GRAPH_VERSION = "8"


def module_id(path: str) -> str:
    """The id that stands for a file's top-level code."""
    return f"{path}:{MODULE}"


@dataclass
class RepoGraph:
    """File import edges and symbol reference edges of one repository; all lists sorted and unique.
    The lookup methods build their dicts once, on first use, and return shared lists: don't mutate."""
    files: list[str]                               # every path the graph was built from
    symbols: SymbolTable                           # symbol id -> (path, symbol), in file and line order
    imports: list[tuple[str, str]]                 # (importing path, imported path), no self-edges
    external_imports: list[tuple[str, str]]        # (importing path, module as written) not in the repo
    references: list[tuple[str, str, str]]         # (source id, target id, name), once however often used
    ambiguous: list[tuple[str, str]]               # (source id, name) defined in several places, unlinked

    def patched(self, root: str, facts: Mapping[str, FileFacts], new_facts: Mapping[str, FileFacts],
                changed: list[str]) -> RepoGraph:
        """This graph (built from `facts`) with the files in `changed` relinked from `new_facts` —
        an editor's unsaved buffers — at the cost of those files, not of the repository: their
        symbols, imports and outgoing references are replaced, and references into them that name
        a symbol they no longer define are dropped. References from other files to a symbol a buffer
        newly defines appear at the next full build (on save)."""
        if self.__dict__.get("_linker") is None:
            self._linker = _Linker(root, facts)
        base = self._linker
        lk = _Linker.__new__(_Linker)
        lk.files, lk.resolver = sorted(set(base.files) | set(changed)), base.resolver
        lk.resolved, lk.scopes, lk.ordered, lk.defs = dict(base.resolved), dict(base.scopes), dict(base.ordered), dict(base.defs)
        names = {s.name for p in changed if p in facts for s in facts[p].symbols}
        for p in changed:
            ff = new_facts[p]
            lk.resolved[p] = [base.resolver.resolve(p, ff, imp) for imp in ff.imports]
            lk.ordered[p] = ordered_symbols(p, ff.symbols)
            names.update(s.name for s in ff.symbols)
        for name in names:
            by_path = {k: v for k, v in lk.defs.get(name, {}).items() if k not in changed}
            for p in changed:
                for sid, s in lk.ordered[p]:
                    if s.name == name and sid not in by_path.setdefault(p, []):
                        by_path[p].append(sid)
            by_path = {k: v for k, v in by_path.items() if v}
            if by_path:
                lk.defs[name] = by_path
            else:
                lk.defs.pop(name, None)
        lk.scopes.update(_import_scopes(lk.files, new_facts, lk.resolved, only=changed,
                                        fams=base.resolver.families))
        symbols = self.symbols.derived(new_facts, changed)
        gone = {sid for p in changed for sid in self.symbols_in(p)} - {sid for p in changed if p in new_facts
                                                                        for sid in symbols.of_file(p)}
        references, ambiguous, imports, external = self.references, self.ambiguous, self.imports, self.external_imports
        for p in changed:
            refs, amb = lk.link(p, new_facts[p]) if new_facts[p].references else ((), ())
            # Every list is sorted with the source first, so a file's entries are one run.
            references = _splice(references, (f"{p}:",), (f"{p};",), sorted(refs))
            ambiguous = _splice(ambiguous, (f"{p}:",), (f"{p};",), sorted(amb))
            targets = [(ri, t) for ri in lk.resolved[p] for t in ri.targets if t != p]
            imports = _splice(imports, (p,), (p + "\0",), sorted({(p, t) for _, t in targets}))
            external = _splice(external, (p,), (p + "\0",),
                               sorted({(p, ri.imp.module) for ri in lk.resolved[p] if not ri.targets}))
        if gone:
            references = [r for r in references if r[1] not in gone]
        graph = RepoGraph(files=lk.files, symbols=symbols, imports=imports, external_imports=external,
                          references=references, ambiguous=ambiguous)
        graph._linker = lk
        self._patch_adjacency(graph, changed, gone)
        return graph

    def _patch_adjacency(self, graph: RepoGraph, changed: list[str], gone: set[str]) -> None:
        """Give `graph` (this graph with `changed` relinked) this graph's lookup dicts, corrected for
        the changed files, instead of rebuilding them from every reference."""
        prefixes = tuple(f"{p}:" for p in changed)
        old = [r for p in changed for r in self.references_from(p)]
        new = [r for p in changed for r in graph.references_from(p)]
        callers = dict(self._callers)
        for target in {t for _, t, _ in old} | {t for _, t, _ in new} | gone:
            keep = [c for c in callers.get(target, ()) if not c.startswith(prefixes)]
            keep += sorted({s for s, t, _ in new if t == target})
            if keep and target not in gone:
                callers[target] = sorted(set(keep))
            else:
                callers.pop(target, None)
        callees = {k: v for k, v in self._callees.items() if not k.startswith(prefixes)}
        for s_, t_, _ in new:
            callees.setdefault(s_, []).append(t_)
        for k in {s_ for s_, _, _ in new}:
            callees[k] = sorted(set(callees[k]))
        for g in gone:  # other files' uses of a definition the buffer removed are unlinked
            for source in self._callers.get(g, ()):
                if source in callees:
                    callees[source] = [x for x in callees[source] if x != g]
        graph.__dict__.update(_callers=callers, _callees=callees)

    def references_from(self, path: str) -> list[tuple[str, str, str]]:
        """The references whose source is in `path` (one run of the sorted list)."""
        refs = self.references
        return refs[bisect_left(refs, (f"{path}:",)):bisect_left(refs, (f"{path};",))]


    def symbol_ids(self) -> list[str]:
        """Every symbol id, in file and line order (module ids are not symbols)."""
        return list(self.symbols)

    def symbol(self, symbol_id: str) -> tuple[str, Symbol] | None:
        """(path, Symbol) of an id; None for a module id or an unknown id."""
        return self.symbols.get(symbol_id)

    def symbols_in(self, path: str) -> list[str]:
        """The ids of a file's symbols, in line order."""
        return list(self.symbols.of_file(path)) if path in self.symbols.facts else []

    def callers_of(self, symbol_id: str) -> list[str]:
        """Ids (symbols or module ids) whose code refers to this symbol."""
        return self._callers.get(symbol_id, [])

    def callees_of(self, symbol_id: str) -> list[str]:
        """Ids of the symbols this symbol (or module id) refers to."""
        return self._callees.get(symbol_id, [])

    def importers_of(self, path: str) -> list[str]:
        """Files that import `path`."""
        return self._importers.get(path, [])

    def imported_by(self, path: str) -> list[str]:
        """Files that `path` imports."""
        return self._imported.get(path, [])

    @cached_property
    def _callers(self) -> dict[str, list[str]]:
        return _adjacency((t, s) for s, t, _ in self.references)

    @cached_property
    def _callees(self) -> dict[str, list[str]]:
        return _adjacency((s, t) for s, t, _ in self.references)

    @cached_property
    def _importers(self) -> dict[str, list[str]]:
        return _adjacency((t, s) for s, t in self.imports)

    @cached_property
    def _imported(self) -> dict[str, list[str]]:
        return _adjacency(self.imports)


class SymbolTable(Mapping):
    """Symbol id → (path, Symbol) over the files' facts, each file's part built when one of its ids
    is first looked up: a pack looks up a few hundred files' symbols, and building every file's
    would read every file's facts. Iterates in file and line order, like the dict it stands for."""

    def __init__(self, facts: Mapping[str, FileFacts]):
        self.facts = facts
        self._files: dict[str, dict[str, tuple[str, Symbol]]] = {}

    def derived(self, facts: Mapping[str, FileFacts], changed: list[str]) -> SymbolTable:
        """The table of `facts`, which are this table's with the `changed` files replaced: what this
        one built for the other files is kept."""
        out = SymbolTable(facts)
        out._files = {p: v for p, v in self._files.items() if p not in changed}
        return out

    def of_file(self, path: str) -> dict[str, tuple[str, Symbol]]:
        """The file's ids, in line order (the file must be one of the facts')."""
        out = self._files.get(path)
        if out is None:
            out = {}
            for sid, s in ordered_symbols(path, self.facts[path].symbols):
                out.setdefault(sid, (path, s))
            self._files[path] = out
        return out

    def __getitem__(self, sid: str) -> tuple[str, Symbol]:
        at = sid.find(":")
        while at >= 0:  # the path is a prefix that ends before a ":" (paths may hold one)
            if sid[:at] in self.facts:
                found = self.of_file(sid[:at]).get(sid)
                if found:
                    return found
            at = sid.find(":", at + 1)
        raise KeyError(sid)

    def __contains__(self, sid) -> bool:
        try:
            self[sid]
        except (KeyError, TypeError, AttributeError):
            return False
        return True

    def _parts(self):
        self.facts.values()  # facts read from an index come in one read
        return map(self.of_file, sorted(self.facts))

    def __iter__(self):
        for part in self._parts():
            yield from part

    def items(self):
        return [item for part in self._parts() for item in part.items()]

    def values(self):
        return [value for part in self._parts() for value in part.values()]

    def __len__(self) -> int:
        return sum(map(len, self._parts()))


def _splice(items: list, lo_key: tuple, hi_key: tuple, run: list) -> list:
    """`items` (sorted) with the run of entries between lo_key and hi_key replaced by `run` (sorted)."""
    return items[:bisect_left(items, lo_key)] + run + items[bisect_left(items, hi_key):]


def _adjacency(pairs) -> dict[str, list[str]]:
    """a -> sorted unique [b] for the (a, b) pairs."""
    out: dict[str, set[str]] = defaultdict(set)
    for a, b in pairs:
        out[a].add(b)
    return {a: sorted(bs) for a, bs in out.items()}


def build_graph(root: str, facts: Mapping[str, FileFacts]) -> RepoGraph:
    """The graph of the files in `facts`; configuration files (go.mod, tsconfig.json, …) are read
    under `root`."""
    # The build allocates a few million small tuples, none of them in a cycle; every collection
    # the cyclic GC runs meanwhile would walk the caller's millions of fact objects (≈40% of the time).
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        return _build(root, facts)
    finally:
        if was_enabled:
            gc.enable()


class _Linker:
    """What linking needs besides the facts: every file's resolved imports and scope, and where each
    name is defined. A graph keeps it (`RepoGraph.patched`) to relink a few changed files."""

    def __init__(self, root: str, facts: Mapping[str, FileFacts]):
        self.files = sorted(facts)
        self.resolver = ImportResolver(root, facts)
        self.resolved = {p: [self.resolver.resolve(p, facts[p], imp) for imp in facts[p].imports]
                         for p in self.files}
        self.scopes = _import_scopes(self.files, facts, self.resolved)
        self.ordered: dict[str, list[tuple[str, Symbol]]] = {}
        self.defs: dict[str, dict[str, list[str]]] = defaultdict(dict)  # name -> path -> distinct ids
        for path in self.files:
            self.ordered[path] = pairs = ordered_symbols(path, facts[path].symbols)
            for sid, s in pairs:
                by_path = self.defs[s.name]
                at = by_path.get(path)
                if at is None:
                    by_path[path] = [sid]
                elif sid not in at:
                    at.append(sid)

    def link(self, path: str, ff: FileFacts) -> tuple[set, set]:
        return _link_file(path, ff, self.ordered[path], self.defs, self.resolved, self.scopes[path])


def _build(root: str, facts: Mapping[str, FileFacts]) -> RepoGraph:
    linker = _Linker(root, facts)
    files = linker.files
    imports: set[tuple[str, str]] = set()
    external: set[tuple[str, str]] = set()
    for path in files:
        for ri in linker.resolved[path]:
            if ri.targets:
                imports.update((path, t) for t in ri.targets if t != path)
            else:
                external.add((path, ri.imp.module))
    symbols = SymbolTable(facts)
    references: list[tuple[str, str, str]] = []
    ambiguous: list[tuple[str, str]] = []
    for path in files:
        ff = facts[path]
        if ff.references:
            refs, amb = linker.link(path, ff)
            references += sorted(refs)
            ambiguous += sorted(amb)
    # Each source id starts with its file's path, so these are sorted runs in nearly sorted order:
    # the final sorts are mostly merges (sorting the whole sets at once costs twice as much).
    references.sort()
    ambiguous.sort()
    graph = RepoGraph(files=files, symbols=symbols, imports=sorted(imports), external_imports=sorted(external),
                      references=references, ambiguous=ambiguous)
    graph._linker = linker
    return graph


def qualified_names(symbols: list[Symbol]) -> list[str]:
    """Each symbol's qualified name ("Client.send"), aligned with `symbols`."""
    out = [""] * len(symbols)
    for i, q in _qualify(symbols):
        out[i] = q
    return out


def ordered_symbols(path: str, symbols: list[Symbol]) -> list[tuple[str, Symbol]]:
    """A file's symbols with their ids, by start line, enclosing symbols before those inside them."""
    return [(f"{path}:{q}", symbols[i]) for i, q in _qualify(symbols)]


#: Parts a qualified name keeps, the innermost ("…Inner.method"): real code nests a few deep, and names
#: that grew with the depth (f0.f1.….f9999) made ids, retrieval documents and closures O(depth²).
MAX_QUALIFIED_PARTS = 16


def _qualify(symbols: list[Symbol]) -> list[tuple[int, str]]:
    """(index, qualified name) of each symbol, by start line, enclosing symbols first. The qualified
    name follows `parent` to the innermost enclosing symbol of that name; a parent that encloses
    nothing (a Go method's receiver type) is taken as written."""
    out = []
    open_: list[tuple[int, str, str]] = []  # (end line, name, qualified name) of enclosing symbols
    for i in sorted(range(len(symbols)), key=lambda i: (symbols[i].start_line, -symbols[i].end_line)):
        s = symbols[i]
        while open_ and open_[-1][0] < s.start_line:
            open_.pop()
        q = s.name
        if s.parent:
            q = next((pq for _, pn, pq in reversed(open_) if pn == s.parent), s.parent) + "." + s.name
            if q.count(".") >= MAX_QUALIFIED_PARTS:  # the innermost parts: ids, chunks' names, closures' headers bounded
                q = q.split(".", q.count(".") - MAX_QUALIFIED_PARTS + 1)[-1]
        out.append((i, q))
        open_.append((s.end_line, s.name, q))
    return out


# Names a language provides without an import. Rule 4 (a unique definition anywhere) does not link
# them: a use of `len` or `bytes` means the builtin far more often than the one method of that name
# somewhere in the repository. An import or a definition in the same file still links them.
_BUILTINS = {
    "python": frozenset(dir(builtins)),
    "js": frozenset(("Array", "Boolean", "Date", "Error", "JSON", "Map", "Math", "Number", "Object",
                     "Promise", "Proxy", "Reflect", "RegExp", "Set", "String", "Symbol", "WeakMap",
                     "WeakSet", "console", "document", "fetch", "parseFloat", "parseInt", "process",
                     "require", "setTimeout", "clearTimeout", "setInterval", "clearInterval", "window")),
    "go": frozenset(("append", "cap", "clear", "close", "complex", "copy", "delete", "error", "imag",
                     "len", "make", "max", "min", "new", "panic", "print", "println", "real", "recover")),
}


#: Families whose files see another file's names only through an import: rule 4 would guess there.
_MODULAR = frozenset(("python", "js"))


@dataclass
class _Scope:
    """What one file can see besides its own definitions."""
    named: dict[str, list[str]]   # name -> files an import binds that name from
    files: set[str]               # every file the file brings in (imports, package, included headers)
    builtins: frozenset[str]      # names its language provides
    modular: bool = False         # its names come only from itself and its imports (Python, JS/TS)
    #: Python: the files whose names a star import brings in; rule 3 looks only there for a plain
    #: name (`import pkg` brings in `pkg.x`, which rule 0 links through its receiver, not `x`).
    stars: frozenset[str] | None = None


def _import_scopes(files: list[str], facts: Mapping[str, FileFacts],
                   resolved: dict[str, list[ResolvedImport]], only: list[str] | None = None,
                   fams: dict[str, str | None] | None = None) -> dict[str, _Scope]:
    """Each file's scope (or only those of `only`), from its resolved imports and its language's
    package rules; `fams`, when given, is every file's `family`."""
    fams = dict(fams) if fams is not None else {p: family(p, facts[p].language) for p in files}
    for p in only or ():
        fams[p] = family(p, facts[p].language)
    by_dir: dict[str, list[str]] = defaultdict(list)
    for p in files:
        by_dir[p.rpartition("/")[0]].append(p)
    out = {}
    for path in files if only is None else only:
        named: dict[str, list[str]] = defaultdict(list)
        scope: set[str] = set()
        fam = fams[path]
        stars = frozenset(t for ri in resolved[path] if "*" in ri.names for t in ri.targets if t != path) \
            if fam == "python" else None
        for ri in resolved[path]:
            # `from .cookies import a` brings in `a`, not the rest of cookies.py: in a module system
            # only an import of the module itself (`import x`, `from . import m`, `* as ns`) does
            if fam not in _MODULAR or not ri.names or "*" in ri.names:
                scope.update(ri.targets)
            for n in ri.names:
                named[n].extend(ri.targets)
        if fam == "go":  # the package's other files (a test file also sees the package's tests)
            test = path.endswith("_test.go")
            scope.update(p for p in by_dir[path.rpartition("/")[0]]
                         if fams[p] == "go" and (test or not p.endswith("_test.go")))
        elif fam == "jvm":
            scope.update(p for p in by_dir[path.rpartition("/")[0]] if fams[p] == "jvm")
        elif fam == "c":  # headers included through other headers
            todo = [t for t in scope if fams.get(t) == "c"]
            while todo:
                for ri in resolved.get(todo.pop(), ()):
                    for t in ri.targets:
                        if t not in scope:
                            scope.add(t)
                            todo.append(t)
        scope.discard(path)
        out[path] = _Scope(dict(named), scope, _BUILTINS.get(fam, frozenset()), fam in _MODULAR, stars)
    return out


def _through_reexports(name: str, start: list[str], defs_of_name: dict[str, list[str]],
                       resolved: dict[str, list[ResolvedImport]]) -> list[str]:
    """Definitions of `name` in `start` files, or, where a file does not define it, in the files
    that file imports the name (or `*`) from, and so on."""
    seen, todo, found = set(start), list(start), []
    while todo:
        f = todo.pop()
        here = defs_of_name.get(f)
        if here:
            found.extend(here)
            continue
        for ri in resolved.get(f, ()):
            if name in ri.names or "*" in ri.names:
                for t in ri.targets:
                    if t not in seen:
                        seen.add(t)
                        todo.append(t)
    return list(dict.fromkeys(found))


_AMBIGUOUS = object()
_NOTHING = object()
_name, _line = attrgetter("name"), attrgetter("line")


def _decide(name: str, path: str, defs_of_name: dict[str, list[str]], scope: _Scope,
            resolved: dict[str, list[ResolvedImport]], anywhere: bool = True):
    """What a use of `name` in `path` refers to, by the rules in the module docstring: a target id,
    a list of same-file ids for the enclosing class to pick from, _AMBIGUOUS, or _NOTHING (a builtin
    defined elsewhere only). Without `anywhere`, rule 4 is not tried."""
    start = scope.named.get(name)
    if start:  # 1: an import binds a module's top-level name (`dayjs.duration = …` is no export)
        ids = [i for i in _through_reexports(name, start, defs_of_name, resolved) if "." not in i.rpartition(":")[2]]
        if len(ids) == 1:
            return ids[0]
    own = defs_of_name.get(path)  # 2
    if own:
        return own  # the one whose class encloses the use (_innermost_of)
    seen = scope.files  # 3
    if scope.modular:  # `pkg.name` reaches what the package's module re-exports
        ids = _through_reexports(name, sorted(seen if scope.stars is None else scope.stars), defs_of_name, resolved)
        ids = [i for i in ids if "." not in i.rpartition(":")[2]]
        return ids[0] if len(ids) == 1 else _AMBIGUOUS
    if len(seen) < len(defs_of_name):
        ids = [i for f in seen if f in defs_of_name for i in defs_of_name[f]]
    else:
        ids = [i for f, at in defs_of_name.items() if f in seen for i in at]
    if len(ids) == 1:
        return ids[0]
    if name in scope.builtins:
        return _NOTHING
    if len(defs_of_name) == 1 and anywhere:  # 4
        (only,) = defs_of_name.values()
        if len(only) == 1:
            return only[0]
    return _AMBIGUOUS


def _innermost_of(source: str, candidates: list[str], prefix: int) -> str | None:
    """Among same-file candidates (ids whose first `prefix` characters are "path:"), the one whose
    parent chain encloses `source` most closely; None if no single one does."""
    src = source[prefix:]
    best, best_len, tie = None, -1, False
    for c in candidates:
        parent = c[prefix:].rpartition(".")[0]
        if parent and not (src == parent or src.startswith(parent + ".")):
            continue
        if len(parent) > best_len:
            best, best_len, tie = c, len(parent), False
        elif len(parent) == best_len:
            tie = True
    return None if tie else best


def _link_file(path: str, ff: FileFacts, ordered: list[tuple[str, Symbol]],
               defs: dict[str, dict[str, list[str]]], resolved: dict[str, list[ResolvedImport]],
               scope: _Scope) -> tuple[set, set]:
    """The reference edges of one file, and its (source id, name) pairs that could not be linked."""
    refs: set[tuple[str, str, str]] = set()
    ambiguous: set[tuple[str, str]] = set()
    # Only names defined somewhere can link; the filtering and the (source, name) deduplication
    # below run at C speed (map/compress/zip/set), so each distinct use costs one Python step.
    names = list(map(_name, ff.references))
    defined = list(map(defs.__contains__, names))
    if not any(defined):
        return refs, ambiguous
    names = list(compress(names, defined))
    lines = list(map(_line, compress(ff.references, defined)))
    mod = module_id(path)
    # owner[line]: id of the innermost symbol spanning the line (outer spans painted first, inner
    # over them); line 0 and lines outside every symbol belong to the module.
    n = max(ff.lines, max(lines)) + 1  # spans past the last used line are cut there
    owner = [mod] * n
    for sid, s in ordered:
        lo, hi = max(s.start_line, 1), min(s.end_line, n - 1)
        if lo <= hi:
            owner[lo:hi + 1] = [sid] * (hi - lo + 1)
    if min(lines) < 0:
        lines = [max(line, 0) for line in lines]
    typed = family(path, ff.language) in _TYPED
    receivers = _receivers(ff.references) if scope.modular or typed else None
    if receivers:
        uses = set(zip(map(owner.__getitem__, lines), names, compress(receivers, defined)))
    else:
        uses = set(zip(map(owner.__getitem__, lines), names, repeat("")))
    decided = {name: _decide(name, path, defs[name], scope, resolved) for name in set(names)}
    members: dict[tuple[str, str, str], object] = {}
    visible = None
    by_id = holders = None
    typed_hits: dict[tuple[str, str], object] = {}
    for src, name, receiver in uses:
        hit = None
        if typed:
            hit = decided[name]
            # a plain name that rules 1-4 give one top-level definition keeps it (leaving members out
            # of the candidates cannot change that); anything else is decided by _typed_use
            if receiver or not (hit is _NOTHING or hit.__class__ is str and "." not in hit.rpartition(":")[2]):
                hit = _typed_use(path, src, name, receiver, defs[name], scope, resolved, decided, typed_hits)
        elif receiver in _OWN:  # `self.x`, `this.x`: a member of the enclosing class or object only
            if by_id is None:
                by_id = dict(ordered)
            hit = _own_member(path, src, receiver, name, defs[name].get(path, ()), by_id,
                              path.endswith((".py", ".pyi")))
        elif receiver in _EXPORTS:  # CommonJS: the module's own export
            ids = [i for i in defs[name].get(path, ()) if "." not in i[len(path) + 1:]]
            hit = ids[0] if len(ids) == 1 else _AMBIGUOUS
        elif not receiver and scope.modular and decided[name].__class__ is list:
            # a plain name in Python and JS/TS never reaches a class's member, only a top-level
            # definition or a function nested in one around the use
            if visible is None:
                visible = _lexically_visible(ordered)
            hit = [c for c in decided[name] if c in visible] or (src if src in decided[name] else _AMBIGUOUS)
        elif receiver:
            key = (receiver, name, src if path in defs.get(receiver.partition(".")[0], ()) else "")
            hit = members.get(key)
            if hit is None:
                if holders is None:
                    holders = {sid.rpartition(".")[0] for sid, _ in ordered if "." in sid[len(path) + 1:]}
                hit = members[key] = _member(path, src, receiver, name, defs, resolved, scope, holders)
        if hit is None:
            hit = decided[name]
        if hit.__class__ is list:
            hit = _innermost_of(src, hit, len(path) + 1) or _AMBIGUOUS
        if hit is _AMBIGUOUS:
            ambiguous.add((src, name))
        elif hit is not _NOTHING and hit != src:
            refs.add((src, hit, name))
    return refs, ambiguous


#: Families whose parser marks members (parse.extract._MARKED): a member of a value is some type's
#: member, a plain name is a function's or a global's (or, in C++, the enclosing class's member).
_TYPED = frozenset(("c", "go"))
#: The receiver the parser gives a member of a value of unknown type (parse.extract._VALUE).
_VALUE = "()"


def _typed_use(path: str, src: str, name: str, receiver: str, defs_of_name: dict[str, list[str]],
               scope: _Scope, resolved: dict[str, list[ResolvedImport]], decided: dict, cache: dict):
    """What a use of `name` in a C, C++ or Go file refers to. A member of a value (`p->f`, `v.F()`)
    is a member defined where the file sees (its file, its package, the headers it includes), never
    a free function of that name and never a guess across the repository (rule 4: `t.Run()` on a
    `*testing.T` is no `Engine.Run` of a file the caller does not see). Go's `pkg.F` is the `F` of
    the package the import of that name brings in, or nothing when that package is another
    module's (`errors.New` is no `New` of the repository). A plain name is a free function or a
    global, or in C++ a member of the class around the use."""
    prefix = len(path) + 1
    if receiver:
        if receiver != _VALUE:
            hit = _go_package_member(path, receiver, name, defs_of_name, resolved)
            if hit is not None:
                return hit
        key = (_VALUE, name)
        if key not in cache:
            members = _only(defs_of_name, lambda f, i: "." in i[len(f) + 1:])
            cache[key] = _decide(name, path, members, scope, resolved, anywhere=False) if members else _AMBIGUOUS
        return cache[key]
    key = ("", name)
    if key not in cache:  # whether any definition of the name is a member: once per name and file
        cache[key] = any("." in i[len(f) + 1:] for f, ids in defs_of_name.items() for i in ids)
    if not cache[key]:
        return decided[name]
    go = path.endswith(".go")  # Go has no implicit receiver: a plain name is never a method
    parent = "" if go else src[prefix:].rpartition(".")[0]
    key = (parent + ".", name)  # the uses in one class see the same members
    if key not in cache:
        visible = _only(defs_of_name, lambda f, i: "." not in i[len(f) + 1:] or not go and src[prefix:].startswith(
            i[len(f) + 1:].rpartition(".")[0] + "."))
        cache[key] = _decide(name, path, visible, scope, resolved) if visible else _AMBIGUOUS
    return cache[key]


def _only(defs_of_name: dict[str, list[str]], keep) -> dict[str, list[str]]:
    """The definitions (path -> ids) for which keep(path, id) holds."""
    out = {}
    for f, ids in defs_of_name.items():
        kept = [i for i in ids if keep(f, i)]
        if kept:
            out[f] = kept
    return out


def _go_package_member(path: str, receiver: str, name: str, defs_of_name: dict[str, list[str]],
                       resolved: dict[str, list[ResolvedImport]]):
    """Go's `pkg.Name`: the top-level `Name` of the package an import of `path` calls `receiver`
    (its path's last element, a major-version element `v2` or a `.v3` suffix aside); _NOTHING for
    another module's package; None when no import has that name (a variable's member)."""
    for ri in resolved.get(path, ()):
        parts = ri.imp.module.split("/")
        last = parts[-1]
        if len(parts) > 1 and last[:1] == "v" and last[1:].isdigit():
            last = parts[-2]
        if last.rpartition(".v")[2].isdigit():
            last = last.rpartition(".v")[0]
        if receiver not in (last, last.rpartition("-")[2]):
            continue
        if not ri.targets:
            return _NOTHING
        ids = [i for f in ri.targets for i in defs_of_name.get(f, ()) if "." not in i[len(f) + 1:]]
        return ids[0] if len(ids) == 1 else _AMBIGUOUS
    return None


#: Receivers that name the enclosing class's instance or the class (`self.send()`, `this.x`).
_OWN = frozenset(("self", "cls", "this", "super"))
#: JavaScript receivers that are the file's own module (CommonJS `exports.f`, `module.exports.f`).
_EXPORTS = frozenset(("exports", "module.exports"))
_FUNCTION_KINDS = frozenset(("function", "method", "constructor"))
_MEMBER_HOLDERS = frozenset(("class", "struct", "interface", "trait", "enum", "record", "object", "impl",
                             "module", "namespace"))


def _own_member(path: str, src: str, receiver: str, name: str, candidates, by_id: dict[str, Symbol],
                python: bool):
    """What `self.name` / `this.name` in `src` is: a member of the class or object `self` / `this`
    stands for there, never a top-level definition of that name (an attribute is no global), nor
    an imported one. Python's `self` is the method's parameter, seen by the functions nested in it:
    the innermost class around the use whose member it is. JavaScript's `this` is the object the
    innermost non-arrow function is called on (_this_owner); `super.x` is the base class's, which
    the file does not say, and is left out, as is a JavaScript `self.x` (a variable)."""
    prefix = len(path) + 1
    members = [c for c in candidates if "." in c[prefix:]]
    if not members or receiver == "super" or not python and receiver != "this":
        return _AMBIGUOUS  # JavaScript's `self` is a variable like any other
    if python:
        return _innermost_of(src, members, prefix) or _AMBIGUOUS
    owner = _this_owner(src, by_id, prefix)
    member = f"{owner}.{name}" if owner else None
    return member if member in members else _AMBIGUOUS


def _this_owner(src: str, by_id: dict[str, Symbol], prefix: int) -> str | None:
    """The id of the class or object whose members JavaScript's `this` reaches inside `src`: an
    arrow function's `this` is its enclosing function's; a class's (its fields); a method's or a
    function's assigned as a member (`obj.m = function`, `C.prototype.m = function`, `{m() {}}`) is
    the object or class holding it; a top-level function's is its own instances
    (`function C() { this.m() }` with `C.prototype.m`). A function declared inside another function
    is called on an object the code does not name: None, as for any other `this`."""
    s = by_id.get(src)
    while s is not None and s.kind == "function" and s.signature.rstrip().endswith("=>") and "." in src[prefix:]:
        src = src.rpartition(".")[0]
        s = by_id.get(src)
    if s is None:
        return None
    if s.kind in _MEMBER_HOLDERS:
        return src
    if s.kind not in _FUNCTION_KINDS:
        return None
    if "." not in src[prefix:]:
        return src
    holder = src.rpartition(".")[0]
    h = by_id.get(holder)
    if h is not None and h.kind in _FUNCTION_KINDS and h.start_line <= s.start_line and s.end_line <= h.end_line:
        return None
    return holder


def _lexically_visible(ordered: list[tuple[str, Symbol]]) -> set[str]:
    """The ids of a file's symbols a plain name can reach: top-level ones and those declared inside
    the lines of a function or a namespace (a method, or `View.prototype.x = function` outside
    `View`, is reached only through a receiver)."""
    by_id = dict(ordered)
    out = set()
    for sid, s in ordered:
        parent = by_id.get(sid.rpartition(".")[0]) if s.parent else None
        if not s.parent or parent is not None and parent.kind in ("function", "method", "module", "namespace") \
                and parent.start_line <= s.start_line and s.end_line <= parent.end_line:
            out.add(sid)
    return out


def _receivers(references) -> list[str] | None:
    """The references' receivers, aligned with them; None when none has one."""
    if isinstance(references, LazyReferences):
        return references.receivers()
    out = [r.receiver for r in references]
    return out if any(out) else None


def _module_named(name: str, targets: tuple[str, ...]) -> str | None:
    """The one of an import's target files that is the module `name` (name.py, name/__init__.py)."""
    for t in targets:
        stem = t.rpartition(".")[0].removesuffix("/__init__")
        if stem.rpartition("/")[2] == name:
            return t
    return None


def _member(path: str, src: str, receiver: str, name: str, defs: dict[str, dict[str, list[str]]],
            resolved: dict[str, list[ResolvedImport]], scope: _Scope, holders: set[str] = frozenset()):
    """Rule 0: the definition `name` is as a member of `receiver` (a dotted name) in `path`: an id,
    _AMBIGUOUS (not linked), or None (rules 1-4 decide: JavaScript, where an import's local name is
    not known, and a receiver there that no rule resolves or that is a same-file name, which may
    hold a required module). A JavaScript receiver that is a same-file object the file assigns
    members to (`holders`: the ids that have members, `app.m = function`, `{m: function}`) holds
    those members only."""
    parts = receiver.split(".")
    python = path.endswith((".py", ".pyi"))
    at: tuple[str, str] | None = None  # ("file", path) or ("class", id)
    used = 1
    if python:  # `import a.b` binds `a.b`; `from pkg import mod` binds `mod`
        for ri in resolved.get(path, ()):
            if not ri.targets:
                continue
            if not ri.imp.names:
                segs = ri.imp.module.split(".")
                if parts[:len(segs)] == segs and (at is None or len(segs) > used):
                    at, used = ("file", ri.targets[0]), len(segs)
            elif parts[0] in ri.imp.names and at is None:
                mod = _module_named(parts[0], ri.targets)
                if mod:
                    at = ("file", mod)
    else:  # `import * as ns`, `import m from`, `const m = require(…)` bind the module to `m`
        for ri in resolved.get(path, ()):
            names = ri.imp.names
            if ri.targets and parts[0] in names and ("*" in names or "default" in names) \
                    and names.index(parts[0]) == names.index("*" if "*" in names else "default") + 1:
                at = ("file", ri.targets[0])
    if at is None:
        root = parts[0]
        d = defs.get(root)
        hit = _decide(root, path, d, scope, resolved) if d else _NOTHING
        if hit.__class__ is list:
            hit = _innermost_of(src, hit, len(path) + 1) or _AMBIGUOUS
        if hit is _NOTHING:  # JavaScript's globals (`JSON.stringify`) are no module of the repository
            return _AMBIGUOUS if python or root in scope.builtins else None
        if hit is _AMBIGUOUS:
            return _AMBIGUOUS
        if not python and hit.rpartition(":")[0] == path and hit not in holders:
            return None
        at = ("class", hit)
    chain = [*parts[used:], name]
    for i, part in enumerate(chain):
        kind, where = at
        if kind == "file" and i < len(chain) - 1:  # a submodule the module imports
            mod = next((m for ri in resolved.get(where, ()) if part in ri.imp.names
                        for m in [_module_named(part, ri.targets)] if m), None)
            if mod:
                at = ("file", mod)
                continue
        d = defs.get(part)
        if not d:
            return _AMBIGUOUS
        if kind == "file":
            ids = _through_reexports(part, [where], d, resolved)
            if len(ids) != 1:
                return _AMBIGUOUS
            at = ("class", ids[0])
        else:
            member = f"{where}.{part}"
            if member not in d.get(where.rpartition(":")[0], ()):
                return _AMBIGUOUS
            at = ("class", member)
    return at[1]


def lines_of_use(graph: RepoGraph, references, target: str, caller: str, lines: list[int]) -> list[int]:
    """Of `lines` (lines of `caller`'s file that name `target`; `references` are that file's), those
    where the name is `target`'s. A graph edge says that `caller` uses `target`, not on which line;
    when the caller links the same name to other definitions too (`user.list` and `post.list` in
    one function), or the target is a member and the name on a line is a plain one, each line goes
    to the definitions its receiver can reach: a module's (`user.list` → user.js, a Go package's
    folder), a class's or object's of that name, `this`/`self`'s own file's members, a plain name
    to a top-level definition (in C++ also the enclosing class's). A line no candidate fits is
    kept, as before."""
    found = graph.symbol(target)
    if not found or not lines:
        return lines
    name = found[1].name
    rivals = [t for t in graph.callees_of(caller) if t != target and t.endswith(name)
              and (s := graph.symbol(t)) is not None and s[1].name == name]
    member = _is_member(graph, target)
    if not rivals and not member:
        return lines
    receivers = {r.line: r.receiver for r in references if r.name == name}
    return [n for n in lines if _reaches(graph, receivers.get(n, ""), target, caller)
            or not any(_reaches(graph, receivers.get(n, ""), t, caller) for t in rivals)
            and not (member and not receivers.get(n, "") and not rivals and _modular_path(caller))]


def _modular_path(sid: str) -> bool:
    return sid.partition(":")[0].endswith((".py", ".pyi", ".js", ".jsx", ".mjs", ".cjs", ".ts", ".tsx", ".mts", ".cts"))


def _reaches(graph: RepoGraph, receiver: str, target: str, caller: str) -> bool:
    """Whether a use with this receiver, in `caller`, can be a use of `target` (see lines_of_use)."""
    tpath = graph.symbol(target)[0]
    holder = target[len(tpath) + 1:].rpartition(".")[0]
    cpath = caller[:len(tpath)] if caller.startswith(tpath + ":") else caller.partition(":")[0]
    if receiver in _OWN:
        return bool(holder) and cpath == tpath
    if not receiver:  # a plain name: a top-level or nested function, or C++'s enclosing class's member
        return not _is_member(graph, target) or not _modular_path(caller) and caller[len(cpath) + 1:].startswith(holder + ".")
    if receiver == _VALUE:
        return bool(holder)
    last = receiver.rpartition(".")[2]
    if holder:
        return holder.rpartition(".")[2] == last
    folder, _, file = tpath.rpartition("/")
    stem = file.rpartition(".")[0] or file
    return last in (stem, folder.rpartition("/")[2])


def _is_member(graph: RepoGraph, target: str) -> bool:
    """Whether a definition is a member of a class or an object (reached through a receiver), not
    a top-level one or a function nested in another function's lines (reached by its plain name)."""
    tpath, sym = graph.symbol(target)
    holder = target[len(tpath) + 1:].rpartition(".")[0].rpartition(".")[2]
    if not holder:
        return False
    # every symbol of the file, not the first of an id (`function dayjs` and `namespace dayjs` share one)
    return not any(s.name == holder and s.kind in _SCOPE_KINDS and s.start_line <= sym.start_line
                   and sym.end_line <= s.end_line for s in graph.symbols.facts[tpath].symbols)


#: Kinds whose lines hold definitions that are reached by their plain name, not as members.
_SCOPE_KINDS = frozenset(("function", "method", "constructor", "module", "namespace"))
