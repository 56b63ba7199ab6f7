"""Import resolution: each `Import` a parser found, mapped to the repository files it brings in.

    resolved = resolve_imports(root, facts)   # path -> [ResolvedImport(imp, targets, names), …]

The universe of files is the keys of `facts` (repository-relative POSIX paths). Configuration that
decides resolution (go.mod, tsconfig.json / jsconfig.json, Cargo.toml) is read from disk under `root`,
in the folders that hold source files and their ancestors only, and a missing or malformed file counts
as absent. An import that reaches no repository file has empty `targets`: it is external.

Rules per language family (the family comes from the file extension, else from `FileFacts.language`):

* python — absolute imports against the import roots (folders holding top-level packages, found from
  where `__init__.py` files are; the repository root always counts), else against the importing
  script's own folder or any folder (namespace packages), nearest first; relative imports from the
  file's package; `from pkg import name` also brings in `pkg/name.py` when `name` is a module.
* js (JS/TS) — relative specs with TypeScript's extension and `index.*` lookup (a `.js` spec also finds
  the `.ts` source); `compilerOptions.baseUrl` and `paths` of the nearest tsconfig.json/jsconfig.json
  (following relative `extends`); bare package names are external.
* go — the longest module path of any go.mod that prefixes the import path gives a package folder;
  the import brings in every non-test .go file directly in it.
* rust — `mod:foo` → foo.rs or foo/mod.rs beside a mod.rs/lib.rs/main.rs, else in the folder named
  after the declaring file; `use crate::…`, `self::…`, `super::…`, `<workspace crate>::…` and
  uniform paths to child modules → the file of the deepest module that exists.
* jvm (Java/Kotlin) — `com.x.Y` → …/com/x/Y.java (or .kt) under any source root, nearest if several;
  `com.x.*` → every file of the package folder(s); static/nested `com.x.Y.m` → Y's file; Kotlin
  top-level functions → the package folder.
* c (C/C++/Objective-C) — quoted includes relative to the including file, then the repository root,
  include/, src/, then any file whose path ends with the spec (nearest); `<…>` includes are external.
* ruby — relative to the file, the root, then lib/ (`.rb` added).
* php — paths relative to the file or root; namespaces → the unique file matching the longest
  trailing part of the name (PSR-4 style).
* csharp — a type's file as for php, else the unique folder matching at least the last two
  namespace segments.
"""
from __future__ import annotations

import json
import os
import posixpath
import re
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass

from repoctx.files import read_file
from repoctx.model import FileFacts, Import


@dataclass(frozen=True)
class ResolvedImport:
    """One import of a file: the repository files it brings in (none: external) and the names it
    binds to definitions in those files (`("*",)` for a star import)."""
    imp: Import
    targets: tuple[str, ...]
    names: tuple[str, ...]


_EXT_FAMILY = {
    ".py": "python", ".pyi": "python",
    ".js": "js", ".jsx": "js", ".mjs": "js", ".cjs": "js",
    ".ts": "js", ".tsx": "js", ".mts": "js", ".cts": "js",
    ".go": "go", ".rs": "rust",
    ".java": "jvm", ".kt": "jvm", ".kts": "jvm",
    ".c": "c", ".h": "c", ".cc": "c", ".cpp": "c", ".cxx": "c", ".c++": "c", ".hpp": "c",
    ".hh": "c", ".hxx": "c", ".h++": "c", ".inl": "c", ".ipp": "c", ".cu": "c", ".cuh": "c",
    ".m": "c", ".mm": "c",
    ".rb": "ruby", ".php": "php", ".cs": "csharp",
}
_LANGUAGE_FAMILY = {
    "python": "python", "javascript": "js", "typescript": "js", "tsx": "js", "jsx": "js",
    "go": "go", "rust": "rust", "java": "jvm", "kotlin": "jvm", "c": "c", "cpp": "c", "c++": "c",
    "cuda": "c", "objc": "c", "ruby": "ruby", "php": "php", "c_sharp": "csharp", "csharp": "csharp",
}

_JS_EXTS = (".ts", ".tsx", ".d.ts", ".js", ".jsx", ".mjs", ".cjs", ".mts", ".cts")
_TS_FOR_JS = {".js": (".ts", ".tsx"), ".jsx": (".tsx",), ".mjs": (".mts",), ".cjs": (".cts",)}
_C_INCLUDE_DIRS = ("include", "src")
_RUST_ROOT_NAMES = ("mod.rs", "lib.rs", "main.rs", "build.rs")
_RUST_ROOT_DIRS = ("tests", "examples", "benches")  # beside src/: each file there is a crate root


def family(path: str, language: str | None) -> str | None:
    """The resolution rules a file follows: python, js, go, rust, jvm, c, ruby, php, csharp, or None."""
    ext = posixpath.splitext(path)[1].lower()
    return _EXT_FAMILY.get(ext) or _LANGUAGE_FAMILY.get((language or "").lower())


def resolve_imports(root: str, facts: Mapping[str, FileFacts]) -> dict[str, list[ResolvedImport]]:
    """Every file's imports, in the order the parser gave them, resolved to repository files."""
    r = ImportResolver(root, facts)
    return {path: [r.resolve(path, ff, imp) for imp in ff.imports] for path, ff in facts.items()}


# ---------------------------------------------------------------------------------------------
# Small helpers


def _dirname(path: str) -> str:
    return path.rpartition("/")[0]


def _join(*parts: str) -> str | None:
    """A normalised repository path, or None when it climbs out of the repository."""
    p = posixpath.normpath("/".join(x for x in parts if x))
    if p == ".":
        return ""
    if p.startswith("../") or p == ".." or p.startswith("/"):
        return None
    return p


def _common_depth(a: str, b: str) -> int:
    """How many leading folder segments two folders share."""
    n = 0
    for x, y in zip(a.split("/"), b.split("/")):
        if x != y:
            break
        n += 1
    return n


def _nearest(candidates, importer: str) -> str:
    """The candidate sharing the most leading folders with the importer (then shortest, then first)."""
    d = _dirname(importer)
    return min(candidates, key=lambda c: (-_common_depth(_dirname(c), d), len(c), c))


def _read_text(root: str, rel: str) -> str | None:
    try:
        return read_file(root, rel, 1_000_000).decode("utf-8", "replace")  # never blocks on a FIFO
    except (OSError, ValueError):
        return None


def _strip_json_comments(text: str) -> str:
    """JSON with // and /* */ comments and trailing commas (tsconfig's dialect) made plain JSON."""
    out: list[str] = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c == '"':
            j = i + 1
            while j < n and text[j] != '"':
                j += 2 if text[j] == "\\" else 1
            out.append(text[i:j + 1])
            i = j + 1
        elif text.startswith("//", i):
            j = text.find("\n", i)
            i = n if j < 0 else j
        elif text.startswith("/*", i):
            j = text.find("*/", i + 2)
            i = n if j < 0 else j + 2
        else:
            out.append(c)
            i += 1
    return re.sub(r",(\s*[}\]])", r"\1", "".join(out))


def _load_jsonc(text: str | None) -> dict:
    if not text:
        return {}
    try:
        data = json.loads(_strip_json_comments(text.lstrip("\ufeff")))
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


# ---------------------------------------------------------------------------------------------
# The resolver


class ImportResolver:
    """Indexes of the repository's files and configuration, and one resolve method per family."""

    def __init__(self, root: str, facts: Mapping[str, FileFacts]):
        self.root = root
        self.files = set(facts)
        self.by_dir: dict[str, list[str]] = defaultdict(list)   # folder -> files directly in it
        self.stems: dict[str, list[str]] = defaultdict(list)    # "a/b/name" (any tail, no ext) -> files
        self.dir_tails: dict[str, list[str]] = defaultdict(list)  # "a/b" (any tail of a folder) -> folders
        for p in sorted(self.files):
            self.by_dir[_dirname(p)].append(p)
            segs = posixpath.splitext(p)[0].split("/")
            for k in range(len(segs)):
                self.stems["/".join(segs[k:])].append(p)
        for d in self.by_dir:
            segs = d.split("/") if d else []
            for k in range(len(segs)):
                self.dir_tails["/".join(segs[k:])].append(d)
        self.families = {p: family(p, ff.language) for p, ff in facts.items()}
        self._folders_with = self._source_folders()
        self.py_package_dirs = {_dirname(p) for p in self.files if p.endswith(("/__init__.py", "/__init__.pyi"))}
        self.py_roots = self._python_roots()
        self.go_modules = self._go_modules()
        self._ts_configs: dict[str, tuple[str | None, dict, str]] = {}
        self._crates: dict[str, str] = {}       # crate name -> crate source folder
        self._rust_crate_names_loaded = False
        self._cache: dict[tuple, tuple[tuple[str, ...], tuple[str, ...]]] = {}

    # -- dispatch ---------------------------------------------------------------------------

    def resolve(self, path: str, ff: FileFacts, imp: Import) -> ResolvedImport:
        fam = self.families.get(path)
        if imp.external or fam is None or not imp.module:
            return ResolvedImport(imp, (), imp.names)
        if fam == "rust":  # depends on the file and the line (inline modules): not cached
            targets, names = self._rust(path, ff, imp)
        else:  # depends on the importer's folder only: identical imports in a folder resolve once
            key = (fam, _dirname(path), imp.module, imp.names)
            hit = self._cache.get(key)
            if hit is None:
                hit = self._cache[key] = getattr(self, "_" + fam)(path, imp)
            targets, names = hit
        return ResolvedImport(imp, tuple(dict.fromkeys(t for t in targets if t)), tuple(names))

    def _source_folders(self) -> dict[str, set[str]]:
        """family -> folders holding its files and all their ancestors (where configs may live)."""
        out: dict[str, set[str]] = defaultdict(set)
        for p, fam in self.families.items():
            if fam is None:
                continue
            d = _dirname(p)
            seen = out[fam]
            while d not in seen:
                seen.add(d)
                if not d:
                    break
                d = _dirname(d)
        return out

    def _files_in(self, folder: str, fam: str) -> list[str]:
        return [f for f in self.by_dir.get(folder, ()) if self.families.get(f) == fam]

    # -- python -----------------------------------------------------------------------------

    def _python_roots(self) -> set[str]:
        """Folders that hold top-level packages (a package folder whose parent is no package)."""
        return {""} | {_dirname(d) for d in self.py_package_dirs if _dirname(d) not in self.py_package_dirs}

    def _py_module_at(self, base: str | None) -> str | None:
        """The file of module `base` (a path without extension): base.py or base/__init__.py."""
        if base is None:
            return None
        init = _join(base, "__init__")
        for cand in (base + ".py", init + ".py", base + ".pyi", init + ".pyi") if base else (init + ".py",):
            if cand in self.files:
                return cand
        return None

    def _py_absolute(self, dotted: str, importer: str) -> str | None:
        """The file of an absolute module: under the importer's folder when it is a plain script
        folder, else under an import root, else (a dotted name: namespace packages) anywhere;
        nearest first."""
        tail = dotted.replace(".", "/")
        cands = [p for p in self.stems.get(tail, []) + self.stems.get(tail + "/__init__", [])
                 if self.families[p] == "python"]
        if not cands:
            return None
        here = _dirname(importer)

        def prefix(p: str) -> str:
            stem = posixpath.splitext(p)[0]
            if stem.rpartition("/")[2] == "__init__":
                stem = _dirname(stem)
            return stem[: len(stem) - len(tail)].rstrip("/")

        if here not in self.py_package_dirs:
            local = [p for p in cands if prefix(p) == here]
            if local:
                return _nearest(local, importer)
        rooted = [p for p in cands if prefix(p) in self.py_roots]
        if not rooted and "/" not in tail:  # `import logging` is not some folder's logging.py
            return None
        return _nearest(rooted or cands, importer)

    def _python(self, path: str, imp: Import):
        module, names = imp.module, [n for n in imp.names if n != "*"]
        level = len(module) - len(module.lstrip("."))
        rest = module[level:]
        targets: list[str] = []
        bound: list[str] = []
        if level:
            pkg = _dirname(path)
            for _ in range(level - 1):
                if not pkg:
                    return (), imp.names
                pkg = _dirname(pkg)
            base = _join(pkg, rest.replace(".", "/"))
            if base is None:
                return (), imp.names
            for n in names:
                sub = self._py_module_at(_join(base, n))
                if sub:
                    targets.append(sub)
                else:
                    bound.append(n)
            if bound or not names:
                targets.append(self._py_module_at(base))
        else:
            for n in names:
                sub = self._py_absolute(f"{rest}.{n}", path)
                if sub:
                    targets.append(sub)
                else:
                    bound.append(n)
            if bound or not names:
                targets.append(self._py_absolute(rest, path))
        if "*" in imp.names:
            bound.append("*")
        return targets, tuple(bound)

    # -- js / ts ----------------------------------------------------------------------------

    def _js_file(self, p: str | None) -> str | None:
        """TypeScript-style lookup of a path without or with an extension, then as a folder."""
        if p is None:
            return None
        if p in self.files:
            return p
        stem, ext = posixpath.splitext(p)
        for alt in _TS_FOR_JS.get(ext, ()):
            if stem + alt in self.files:
                return stem + alt
        for e in _JS_EXTS:
            if p + e in self.files:
                return p + e
        index = _join(p, "index")
        for e in _JS_EXTS:
            if index + e in self.files:
                return index + e
        return None

    def _ts_config(self, folder: str) -> tuple[str | None, dict, str]:
        """(baseUrl folder or None, paths, folder the paths are relative to) for the nearest
        tsconfig.json/jsconfig.json at or above `folder`; relative `extends` are followed."""
        chain: list[str] = []
        d = folder
        while True:
            if d in self._ts_configs:
                return self._ts_configs[d]
            chain.append(d)
            found = next((c for c in ("tsconfig.json", "jsconfig.json")
                          if os.path.isfile(os.path.join(self.root, d, c))), None)
            if found or not d:
                result = self._ts_options(_join(d, found)) if found else (None, {}, "")
                for c in chain:
                    self._ts_configs[c] = result
                return result
            d = _dirname(d)

    def _ts_options(self, config: str) -> tuple[str | None, dict, str]:
        base_url: str | None = None
        paths: dict | None = None
        paths_dir = _dirname(config)
        seen: set[str] = set()
        current: str | None = config
        while current and current not in seen and len(seen) < 10:  # child first, then its bases
            seen.add(current)
            data = _load_jsonc(_read_text(self.root, current))
            opts = data.get("compilerOptions")
            opts = opts if isinstance(opts, dict) else {}
            here = _dirname(current)
            if base_url is None and isinstance(opts.get("baseUrl"), str):
                base_url = _join(here, opts["baseUrl"])
            if paths is None and isinstance(opts.get("paths"), dict):
                paths, paths_dir = opts["paths"], here
            ext = data.get("extends")
            ext = ext[0] if isinstance(ext, list) and ext else ext
            current = None
            if isinstance(ext, str) and ext.startswith("."):
                current = _join(here, ext if ext.endswith(".json") else ext + ".json")
        return base_url, paths or {}, base_url if base_url is not None else paths_dir

    def _js(self, path: str, imp: Import):
        spec = imp.module.split("?", 1)[0].split("#", 1)[0]
        if spec.startswith((".", "/")):
            base = _dirname(path) if spec.startswith(".") else ""
            return (self._js_file(_join(base, spec)),), imp.names
        base_url, paths, paths_dir = self._ts_config(_dirname(path))
        best: tuple[int, str, str] | None = None  # (prefix length, pattern, the part * stands for)
        for pattern in paths:
            if not isinstance(pattern, str):
                continue
            head, star, tail = pattern.partition("*")
            if not star:
                if pattern == spec:
                    best = (len(pattern) + 1, pattern, "")
            elif spec.startswith(head) and spec.endswith(tail) and len(spec) >= len(head) + len(tail):
                if best is None or len(head) > best[0]:
                    best = (len(head), pattern, spec[len(head): len(spec) - len(tail)])
        if best:
            subs = paths[best[1]]
            for sub in subs if isinstance(subs, list) else [subs]:
                if isinstance(sub, str):
                    hit = self._js_file(_join(paths_dir, sub.replace("*", best[2])))
                    if hit:
                        return (hit,), imp.names
        if base_url is not None:
            return (self._js_file(_join(base_url, spec)),), imp.names
        return (), imp.names

    # -- go ---------------------------------------------------------------------------------

    def _go_modules(self) -> list[tuple[str, str]]:
        """(module path, folder) of every go.mod beside or above a .go file, longest path first."""
        mods = []
        for d in sorted(self._folders_with.get("go", ())):
            text = _read_text(self.root, _join(d, "go.mod") or "go.mod")
            m = re.search(r'^\s*module\s+"?([^\s"]+)"?', text or "", re.M)
            if m:
                mods.append((m.group(1).rstrip("/"), d))
        return sorted(mods, key=lambda m: -len(m[0]))

    def _go(self, path: str, imp: Import):
        spec = imp.module.strip('"')
        for mod, folder in self.go_modules:
            if spec == mod or spec.startswith(mod + "/"):
                pkg = _join(folder, spec[len(mod) + 1:])
                return [f for f in self._files_in(pkg, "go") if not f.endswith("_test.go")], ()
        return (), ()

    # -- rust -------------------------------------------------------------------------------

    def _rust_children_dir(self, path: str) -> str:
        """Where `mod foo;` in this file looks for foo.rs / foo/mod.rs: beside mod.rs and crate roots
        (lib.rs, main.rs, build.rs, src/bin/*.rs, tests/*.rs, examples/*.rs, benches/*.rs),
        else in the folder named after the file."""
        d, name = _dirname(path), path.rpartition("/")[2]
        parent, _, last = d.rpartition("/")
        if (name in _RUST_ROOT_NAMES or (last == "bin" and parent.rpartition("/")[2] == "src")
                or (last in _RUST_ROOT_DIRS and _join(parent, "src") in self.by_dir)):
            return d
        return _join(d, name[:-3]) or ""

    def _rust_mod_file(self, stem: str | None) -> str | None:
        if stem is None:
            return None
        for cand in (stem + ".rs", _join(stem, "mod.rs")):
            if cand in self.files:
                return cand
        return None

    def _rust_crate_dir(self, path: str) -> str | None:
        """The nearest folder at or above the file that holds lib.rs or main.rs."""
        d = _dirname(path)
        while True:
            if _join(d, "lib.rs") in self.files or _join(d, "main.rs") in self.files:
                return d
            if not d:
                return None
            d = _dirname(d)

    def _rust_crate_by_name(self, name: str) -> str | None:
        """Workspace crates by the `name` in the Cargo.toml beside their src folder."""
        if not self._rust_crate_names_loaded:
            self._rust_crate_names_loaded = True
            for d in sorted(self._folders_with.get("rust", ())):
                if _join(d, "lib.rs") not in self.files:
                    continue
                text = _read_text(self.root, _join(_dirname(d) if d.endswith("src") else d, "Cargo.toml") or "")
                m = re.search(r'^\[package\][^\[]*?^\s*name\s*=\s*"([^"]+)"', text or "", re.M | re.S)
                if m:
                    self._crates.setdefault(m.group(1).replace("-", "_"), d)
        return self._crates.get(name)

    def _rust_module_path(self, path: str, crate: str, ff: FileFacts, line: int) -> list[str]:
        """The module a line of a file is in, as segments below the crate root (inline `mod x {}`
        blocks around the line included, when the parser reports them as module symbols)."""
        rel = path[len(crate):].lstrip("/") if crate else path
        segs = rel[:-3].split("/")
        if segs[-1] == "mod" or (len(segs) == 1 and segs[0] in ("lib", "main")):
            segs = segs[:-1]
        inline = sorted((s.start_line, s.name) for s in ff.symbols
                        if s.kind in ("module", "mod") and s.start_line < line <= s.end_line)
        return segs + [name for _, name in inline]

    def _rust_deepest(self, crate: str, segs: list[str], importer: str) -> tuple[str | None, int]:
        """The file of the deepest existing module along `segs`, and how many segments it used."""
        for k in range(len(segs), 0, -1):
            hit = self._rust_mod_file(_join(crate, *segs[:k]))
            if hit:
                return hit, k
        main, lib = _join(crate, "main.rs"), _join(crate, "lib.rs")
        if importer == main or lib not in self.files:
            return (main if main in self.files else None), 0
        return lib, 0

    def _rust(self, path: str, ff: FileFacts, imp: Import):
        module = imp.module
        if module.startswith("mod:"):
            return (self._rust_mod_file(_join(self._rust_children_dir(path), module[4:])),), ()
        segs = [s for s in module.split("::") if s]
        names = [n for n in imp.names if n not in ("*", "self")]
        star = bool(segs) and segs[-1] == "*" or "*" in imp.names
        if segs and segs[-1] == "*":
            segs = segs[:-1]
        if not segs:
            return (), imp.names
        crate = self._rust_crate_dir(path)
        here = self._rust_module_path(path, crate, ff, imp.line) if crate is not None else []
        head = segs[0]
        if head == "crate" and crate is not None:
            full = segs[1:]
        elif head in ("self", "super") and crate is not None:
            full = list(here)
            for s in segs:
                if s == "super":
                    full = full[:-1]
                elif s != "self":
                    break
            full += [s for s in segs if s not in ("self", "super")]
        elif self._rust_crate_by_name(head) is not None:
            crate, full = self._rust_crate_by_name(head), segs[1:]
        elif crate is not None and self._rust_mod_file(_join(crate, *here, head)):
            full = here + segs          # a 2018-edition path to a child module
        else:
            return (), imp.names
        hit, used = self._rust_deepest(crate, full, path)
        if hit is None:
            return (), imp.names
        targets, bound = [hit], list(full[used:used + 1])
        for n in names:
            sub = self._rust_mod_file(_join(crate, *full, n)) if used == len(full) else None
            if sub:
                targets.append(sub)
            else:
                bound.append(n)
        if star:
            bound.append("*")
        return targets, tuple(dict.fromkeys(bound))

    # -- java / kotlin ----------------------------------------------------------------------

    def _by_tail(self, segs: list[str], fam: str, importer: str) -> str | None:
        """The nearest file of `fam` whose path, without extension, ends with these segments."""
        cands = [p for p in self.stems.get("/".join(segs), ()) if self.families[p] == fam]
        return _nearest(cands, importer) if cands else None

    def _package_files(self, segs: list[str], fam: str) -> list[str]:
        out: list[str] = []
        for d in self.dir_tails.get("/".join(segs), ()):
            out += self._files_in(d, fam)
        return out

    def _jvm(self, path: str, imp: Import):
        module = imp.module.removeprefix("static ").strip()
        segs = [s for s in module.split(".") if s]
        if not segs:
            return (), ()
        if segs[-1] == "*":
            files = self._package_files(segs[:-1], "jvm")
            if files:
                return files, ("*",)
            cls = self._by_tail(segs[:-1], "jvm", path)  # static members of a class
            return ((cls,), ("*",)) if cls else ((), ())
        for k in range(len(segs), 1, -1):  # the class, else the class of a static member / nested class
            cls = self._by_tail(segs[:k], "jvm", path)
            if cls:
                return (cls,), (segs[-1],)
        if path.endswith((".kt", ".kts")):  # Kotlin imports top-level functions from a package
            return self._package_files(segs[:-1], "jvm"), (segs[-1],)
        return (), ()

    # -- c / c++ ----------------------------------------------------------------------------

    def _c(self, path: str, imp: Import):
        spec = imp.module.strip().strip('"<>')
        for base in (_dirname(path), "", *_C_INCLUDE_DIRS):
            p = _join(base, spec)
            if p in self.files:
                return (p,), ()
        cands = [p for p in self.stems.get(posixpath.splitext(spec)[0], ())
                 if p == spec or p.endswith("/" + spec)]
        return ((_nearest(cands, path),) if cands else ()), ()

    # -- ruby, php, c# ----------------------------------------------------------------------

    def _ruby(self, path: str, imp: Import):
        spec = imp.module.strip()
        spec = spec if spec.endswith(".rb") else spec + ".rb"
        for base in (_dirname(path), "", "lib"):
            p = _join(base, spec)
            if p in self.files:
                return (p,), imp.names
        return (), imp.names

    def _unique_by_tail(self, segs: list[str], fam: str) -> str | None:
        """The one file of `fam` matching the longest trailing part of `segs`; None if ambiguous."""
        for k in range(len(segs), 0, -1):
            cands = [p for p in self.stems.get("/".join(segs[-k:]), ()) if self.families[p] == fam]
            if cands:
                return cands[0] if len(cands) == 1 else None
        return None

    def _php(self, path: str, imp: Import):
        spec = imp.module.strip().lstrip("\\")
        if "/" in spec or spec.endswith(".php"):
            for base in (_dirname(path), ""):
                p = _join(base, spec)
                if p in self.files:
                    return (p,), imp.names
            return (), imp.names
        segs = [s for s in spec.split("\\") if s]
        hit = self._unique_by_tail(segs, "php") if segs else None
        if hit is None:
            return (), ()
        return (hit,), (segs[-1],)

    def _csharp(self, path: str, imp: Import):
        spec = imp.module.strip().removeprefix("static ").rpartition("=")[2].strip()
        segs = [s for s in spec.split(".") if s]
        if not segs:
            return (), ()
        if len(segs) > 1:  # `using A.B.Type;` (static or alias): the type's file
            hit = self._unique_by_tail(segs, "csharp")
            if hit and posixpath.splitext(hit)[0].endswith("/".join(segs[-2:])):
                return (hit,), (segs[-1],)
        for k in range(len(segs), min(2, len(segs)) - 1, -1):  # a namespace: its folder
            dirs = [d for d in self.dir_tails.get("/".join(segs[-k:]), ()) if self._files_in(d, "csharp")]
            if dirs:
                return (self._files_in(dirs[0], "csharp") if len(dirs) == 1 else ()), ()
        return (), ()
