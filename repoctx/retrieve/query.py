"""Query: turn an issue text into weighted signals — where in the repository it points, and the prose.

People paste issues, not commit messages: a symptom in prose, a traceback, an error message, a
snippet that reproduces it, and around it noise (versions, `pip freeze`, environment dumps, pages of
tool output). `parse` splits the text once, in time linear in its length, into

- **frames** of tracebacks (Python, pytest/pdb, Go panics, JS/TS stacks, Java, Rust backtraces): a
  path, a line and a function, innermost first;
- **code**: identifiers, attribute chains (`obj.method`) and imported modules of code blocks and
  inline code;
- **prose**: what remains for BM25, with the noise dropped.

`understand` resolves them against one repository: a frame's path onto the repository file it names
(absolute, site-packages, an egg or another checkout: the longest common path suffix), its function
(or else its line) becomes a weighted spot, innermost repository frames weighted most; string
literals and format strings of the code whose fixed text the issue quotes (placeholders `%s`, `{}`,
`{name}`, `${x}` as wildcards) make the literal's line a spot (the raise or log site); code
identifiers that the repository defines become weighted symbols.
"""
from __future__ import annotations

import re
from array import array
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np

from repoctx.index.arrays import ListTable, StringListTable, StringTable
from repoctx.index.load import Repository
from repoctx.scan import is_test_path

#: Weight of the innermost repository frame; each frame further out gets FRAME_DECAY times less.
FRAME_WEIGHT = 1.0
FRAME_DECAY = 0.6
FRAME_FLOOR = 0.15
#: Weight of a literal site: full for a quoted run of LITERAL_FULL characters, shared by the sites.
LITERAL_FULL = 24
LITERAL_MIN = 8
_OPTION = re.compile(r"--[a-z][\w-]{3,}")   # a command-line option: "--fixtures"
#: A literal found only in output lines (not quoted, not an error line) weighs this much less.
OUTPUT_WEIGHT = 0.35
#: Literals in tests are mostly test inputs, seldom the site of a message.
LITERAL_IN_TESTS = 0.3
#: Weight of a symbol named in code (shared by the files defining it; at most MAX_DEFINITIONS).
CODE_WEIGHT = 0.6
MAX_DEFINITIONS = 3
#: A line repeated this often (tool output: one lint message per file) is output, not prose.
REPEATS = 3

_SOURCE_EXT = r"(?:py|pyi|pyx|go|js|jsx|mjs|cjs|ts|tsx|mts|cts|java|kt|scala|rs|rb|php|c|cc|cpp|h|hpp|cs|swift)"
_PY_FRAME = re.compile(r'File "([^"\n]+)", line (\d+)(?:, in ([\w<>.]+))?')
_PDB_FRAME = re.compile(r"^> ?(\S+\." + _SOURCE_EXT + r")\((\d+)\)([\w<>]+)\(\)", re.M)
_JAVA_FRAME = re.compile(r"\bat ([\w$.]+)\.([\w$<>]+)\(([\w$]+\.(?:java|kt|scala|groovy)):(\d+)\)")
_JS_FRAME = re.compile(r"\bat (?:async )?(?:([\w$.<>\[\] ]{1,120}?) \()?((?:file://)?[^\s()]+?\.(?:js|jsx|mjs|cjs|ts|tsx|mts|cts)):(\d+)(?::\d+)?\)?")
_GO_FRAME = re.compile(r"^([\w./-]*?\.?(?:\(\*?\w+\)\.)?[\w.]+)\((?:[^()\n]*)\)\n\s+(\S+\.go):(\d+)", re.M)
_RUST_FRAME = re.compile(r"^\s*\d+: ([\w:<>{}$ ]+?)(?:::h[0-9a-f]{16})?\n\s+at (\S+\.rs):(\d+)", re.M)
_LOCATION = re.compile(r"(?<![\w/.\\-])((?:[A-Za-z]:)?[\w./\\~-]*\w\." + _SOURCE_EXT + r")(?::(\d+)|\((\d+)\)|, line (\d+))")
_FENCE = re.compile(r"^[ \t]*(```|~~~)[^\n]*\n(.*?)^[ \t]*\1[ \t]*$", re.M | re.S)
_INLINE = re.compile(r"`([^`\n]{1,200})`")
_IDENT_CHAIN = re.compile(r"[A-Za-z_][\w]*(?:\.[A-Za-z_]\w*)*")
_IMPORT = re.compile(r"^\s*(?:from\s+([\w.]+)\s+import\s+([\w., ()]+)|import\s+([\w., ]+))", re.M)
_JS_IMPORT = re.compile(r"""(?:require\(|from\s+|import\s+)['"]([^'"\n]+)['"]""")
#: Noise lines: `pip freeze`/`pip list` rows, version and platform reports, environment dumps.
_NOISE = re.compile(
    r"^\s*(?:[\w.\[\]-]+\s*(?:==|>=|<=|~=)\s*[\w.+-]+"                    # pip freeze: pkg==1.2
    r"|[\w.\[\]-]+\s+v?\d+(?:\.\w+)+[\w.+!-]*(?:\s+\S+)?"                  # pip list: pkg 1.2.3+local [location]
    r"|-{3,}(?:\s+-{3,})*"                                                 # table rules
    r"|Package\s+Version.*"
    r"|(?:platform|rootdir|cachedir|plugins|configfile|collected|python|os|sys\.platform|"
    r"operating system|pytest|pylint|astroid|version|versions|node|npm|go version|rustc|cargo|java|"
    r"uname|kernel|distribution|distro)\b[^\n]{0,200}?(?:\d+\.\d+|darwin|linux|windows|macos)[^\n]*"
    r"|[A-Z_][A-Z0-9_]{2,}=\S*"                                            # env dumps: PATH=...
    r"|[=_*>~-]{8,}.*"                                                     # banners and rules
    r")\s*$", re.I)
_VERSION = re.compile(r"\bv?\d+(?:\.\d+){1,3}(?:[-.]?(?:rc|dev|post|a|b)\d*)?\b")
_WORD = re.compile(r"\w+")
_ERROR_LINE = re.compile(r"(?i)error|exception|warning|panic|fatal|traceback|caused by|cannot|can't|unable|invalid|"
                         r"not found|no such|unexpected|must |^\s*E\s")
_QUOTE = re.compile(r"\"([^\"\n]{4,200})\"|(?<!\w)'([^'\n]{4,200})'(?!\w)")
_KEYWORDS = frozenset("""
and as assert async await break class continue def del elif else except finally for from global if
import in is lambda nonlocal not or pass raise return try while with yield None True False self cls
print len str int dict list set tuple type object super isinstance range open os sys re
var let const function new this null undefined typeof instanceof export default require module
func package struct interface chan go defer map make string error nil fmt
public private protected static void final extends implements throws throw catch
fn impl mut pub use crate mod match loop where trait enum Some Ok Err Box Vec String
""".split())


@dataclass
class Frame:
    path: str               # as written in the issue
    line: int | None
    function: str | None
    weight: float = 1.0     # innermost frame of its trace: 1


@dataclass
class Parsed:
    """What `parse` finds in an issue text, before looking at any repository."""
    prose: str                                   # for BM25: the text without noise and frame lines
    frames: list[Frame] = field(default_factory=list)
    code: list[str] = field(default_factory=list)     # identifiers and attribute chains, in order
    modules: list[str] = field(default_factory=list)  # modules imported by code blocks
    pointed: str = ""       # inline code, quoted strings, error lines: where messages are sought first
    output: str = ""        # the other lines (tool output): matched with OUTPUT_WEIGHT


@dataclass
class Signals:
    """What an issue points at in one repository."""
    text: str                                    # the query for BM25
    #: (path, first line, last line or None for the whole symbol/line, weight, why)
    spots: list[tuple[str, int, int, float, str]] = field(default_factory=list)
    symbols: dict[str, float] = field(default_factory=dict)  # "path:Qualified.name" → weight
    files: dict[str, float] = field(default_factory=dict)    # files imported by the code → weight


# -- parsing (no repository) -----------------------------------------------------------------------

def parse(text: str) -> Parsed:
    """Split an issue text into frames, code and prose (see the module docstring)."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    frames = _frames(text)
    blocks = [m.group(2) for m in _FENCE.finditer(text)]
    outside = _FENCE.sub("\n", text)
    inline = _INLINE.findall(outside)
    code_text = "\n".join(blocks + inline)
    code = _identifiers(code_text)
    modules = []
    for m in _IMPORT.finditer(code_text):
        if m.group(1):
            modules.append(m.group(1))
            modules += [m.group(1) + "." + n.strip() for n in m.group(2).strip("()").split(",") if n.strip()]
        else:
            modules += [n.strip().split(" as ")[0] for n in m.group(3).split(",") if n.strip()]
    modules += _JS_IMPORT.findall(code_text)
    pointed, output = _quoted(text, inline)
    return Parsed(_prose(text), frames, code, list(dict.fromkeys(modules)), pointed, output)


def _frames(text: str) -> list[Frame]:
    """Every traceback frame, innermost first within each trace style (Python lists the innermost
    frame last; the other languages first)."""
    found: list[Frame] = []
    py = [Frame(m.group(1), int(m.group(2)), m.group(3)) for m in _PY_FRAME.finditer(text)]
    py += [Frame(m.group(1), int(m.group(2)), m.group(3)) for m in _PDB_FRAME.finditer(text)]
    found += reversed(py)
    for m in _JAVA_FRAME.finditer(text):  # the package says where the file is: com.foo.Bar → com/foo/Bar.java
        pkg = m.group(1).split("$")[0].rsplit(".", 1)[0].replace(".", "/")
        found.append(Frame(f"{pkg}/{m.group(3)}", int(m.group(4)), m.group(2)))
    found += [Frame(m.group(2).removeprefix("file://"), int(m.group(3)), _last_name(m.group(1)))
              for m in _JS_FRAME.finditer(text)]
    found += [Frame(m.group(2), int(m.group(3)), _last_name(m.group(1))) for m in _GO_FRAME.finditer(text)]
    found += [Frame(m.group(2), int(m.group(3)), _last_name(m.group(1).replace("::", ".")))
              for m in _RUST_FRAME.finditer(text)]
    seen = {(f.path, f.line) for f in found}
    # Bare locations (pytest's "path.py:37: Error", compiler and linter output, Rust's "panicked at"):
    # a weaker signal, in text order.
    for m in _LOCATION.finditer(text):
        line = next((int(g) for g in m.groups()[1:] if g), None)
        if (m.group(1), line) not in seen:
            seen.add((m.group(1), line))
            found.append(Frame(m.group(1), line, None, 0.5))
    return found


def _last_name(qualified: str | None) -> str | None:
    """`Object.<anonymous>` → None, `main.(*Server).handle` → `handle`, `Foo.bar` → `bar`."""
    if not qualified:
        return None
    name = re.split(r"[./ ]", qualified.strip())[-1].strip("()*<>[]")
    return name if name and name.isidentifier() and name not in ("anonymous", "new", "module") else None


def _identifiers(code: str) -> list[str]:
    """Identifiers and attribute chains of code, without keywords and builtins; `self.x` is `x`, and
    a chain on a standard module or builtin (`os.getcwd`, `str.join`) is not the repository's."""
    out = []
    for line in code.split("\n"):
        if _noise_line(line) or _LOCATION.search(line):
            continue
        for chain in _IDENT_CHAIN.findall(line):
            parts = chain.split(".")
            if parts[0] in ("self", "cls", "this"):
                parts = parts[1:]
            if not parts or parts[0] in _KEYWORDS or len(max(parts, key=len)) < 3:
                continue
            out.append(".".join(parts))
    return list(dict.fromkeys(out))


def _noise_line(line: str) -> bool:
    """Not prose: a noise line, a traceback frame, or tool output that starts with a location."""
    stripped = line.lstrip()
    return bool(_NOISE.match(line)) or bool(_PY_FRAME.search(line)) or \
        (stripped.startswith("at ") or bool(_LOCATION.match(stripped))) and bool(_LOCATION.search(line))


def _prose(text: str) -> str:
    """The text for BM25: noise lines, frame lines and lines repeated REPEATS or more times (tool
    output) dropped; version numbers removed."""
    lines = text.split("\n")
    counts = Counter(_shape(ln) for ln in lines if ln.strip())
    kept = [ln for ln in lines if ln.strip() and counts[_shape(ln)] < REPEATS and not _noise_line(ln)]
    return _VERSION.sub(" ", "\n".join(kept))


def _shape(line: str) -> str:
    """A line with its paths and numbers blanked: lint output for different files has one shape."""
    return re.sub(r"\d+", "0", _LOCATION.sub("P", line.strip()))[:80]


def _quoted(text: str, inline: list[str]) -> tuple[str, str]:
    """Where to look for messages: (what the author points at — inline code, quoted strings and
    error lines —, the rest of the text, tool output mostly), noise lines dropped."""
    pointed, rest = list(inline), []
    for ln in text.split("\n"):
        if not ln.strip() or _NOISE.match(ln):
            continue
        if _ERROR_LINE.search(ln):
            pointed.append(ln.strip())
        else:
            pointed += [a or b for a, b in _QUOTE.findall(ln)]
            rest.append(ln.strip())
    return "\n".join(pointed), "\n".join(rest)


# -- resolving against a repository ----------------------------------------------------------------

def understand(repo: Repository, query: str, literals: LiteralIndex | None = None,
               definitions: dict[str, list[str]] | None = None) -> Signals:
    """The signals of `query` in `repo` (`literals`, `definitions`: the repository's literal index
    and `definition_table(repo)`, if the caller keeps them)."""
    p = parse(query)
    out = Signals(p.prose)
    by_base = _files_by_name(repo)
    rank = 0
    for f in p.frames:
        path = map_path(f.path, repo, by_base)
        if path is None:
            continue
        weight = max(FRAME_FLOOR, FRAME_WEIGHT * FRAME_DECAY ** rank) * f.weight
        rank += 1
        sym = _function_in(repo, path, f.function, f.line)
        if sym is not None:
            out.spots.append((path, sym.start_line, sym.end_line, weight, f"frame {f.function}"))
        elif f.line:
            out.spots.append((path, f.line, f.line, weight * 0.7, "frame line"))
        else:
            out.files[path] = max(out.files.get(path, 0.0), weight * 0.5)
    if literals is None:
        literals = LiteralIndex(repo)
    found: dict[tuple[str, int, str], float] = {}
    for text, factor in ((p.pointed, 1.0), (p.output, OUTPUT_WEIGHT)):
        matches = literals.matches(text)
        # Pages of tool output match many literals, none of them the point: they share the weight.
        factor /= max(1.0, (len({m[3] for m in matches}) / 2) ** 0.5)
        for path, line, weight, literal in matches:
            key = (path, line, literal)
            found[key] = max(found.get(key, 0.0), weight * factor)
    dests = []
    for (path, line, literal), weight in found.items():
        if _OPTION.fullmatch(literal) and not is_test_path(path):
            dests += _option_dest(repo, path, line)
        out.spots.append((path, line, line, weight * (LITERAL_IN_TESTS if is_test_path(path) else 1.0),
                          f"literal {literal!r}"))
    if dests:  # the code that reads an option names it by its destination, not its flag
        out.text += "\n" + " ".join(dict.fromkeys(dests))
    defined = definitions if definitions is not None else definition_table(repo)
    for ident in p.code:
        parts = ident.split(".")
        for k in range(len(parts)):
            name = ".".join(parts[k:])
            where = [n for n in defined.get(name, ()) if not is_test_path(n.split(":", 1)[0])]
            if k and _module_file(".".join(parts[:k]), repo):
                pass  # `pytest.raises`, `requests.get`: a name the repository's own package exports
            elif k and "." not in name and not _distinctive(name):
                # `x.total`: an attribute of something — the methods of that name, if few
                where = [n for n in where if "." in n.split(":", 1)[1]] if len(name) >= 4 else []
            elif not ("." in name or _distinctive(name) or name[:1].isupper()):
                where = []
            if where and len(where) <= MAX_DEFINITIONS:
                for node in where:
                    w = CODE_WEIGHT / len(where)
                    out.symbols[node] = max(out.symbols.get(node, 0.0), w)
                break
    for module in p.modules:
        path = _module_file(module, repo)
        if path:
            out.files[path] = max(out.files.get(path, 0.0), CODE_WEIGHT)
    return out


_DEST = re.compile(r"""\bdest\s*=\s*["'](\w+)["']""")


def _option_dest(repo: Repository, path: str, line: int) -> list[str]:
    """The destination an option's definition at `path:line` stores into (`dest="showfixtures"`),
    looked for on that line and the few after it."""
    lines = repo.text(path).split("\n")[line - 1:line + 5]
    for ln in lines:
        m = _DEST.search(ln)
        if m:
            return [m.group(1)]
        if ln.rstrip().endswith(")") and not ln.rstrip().endswith("()"):
            break
    return []


def _distinctive(name: str) -> bool:
    return "_" in name.strip("_") or any(ch.isupper() for ch in name[1:]) or len(name) >= 8


def _files_by_name(repo: Repository) -> dict[str, list[str]]:
    by: dict[str, list[str]] = {}
    for path in repo.files:
        by.setdefault(path.rsplit("/", 1)[-1], []).append(path)
    return by


def map_path(written: str, repo: Repository, by_base: dict[str, list[str]] | None = None) -> str | None:
    """The repository file a path from a traceback names: the file sharing the longest suffix of
    path components with it — at least the file name and its folder, or the whole path when either
    is a bare file name at the top. None when no file qualifies or the best match is ambiguous."""
    parts = [p for p in written.replace("\\", "/").split("/") if p not in ("", ".")]
    if not parts:
        return None
    by_base = by_base if by_base is not None else _files_by_name(repo)
    best, best_k, tie = None, 0, False
    for path in by_base.get(parts[-1], ()):
        have = path.split("/")
        k = 0
        while k < min(len(have), len(parts)) and have[-1 - k] == parts[-1 - k]:
            k += 1
        if k < 2 and not (k == len(have) and (len(parts) == 1 or ".." not in parts)):
            continue
        if k > best_k:
            best, best_k, tie = path, k, False
        elif k == best_k:
            tie = True
    return None if tie else best


def _function_in(repo: Repository, path: str, function: str | None, line: int | None):
    """The definition named `function` in `path` (the one nearest `line` when several are); None
    without a usable name (the caller falls back on the line: the user's version may differ)."""
    facts = repo.facts.get(path)
    if facts is None or not function or function in ("<module>", "module"):
        return None
    named = [s for s in facts.symbols if s.name == function]
    return min(named, key=lambda s: abs(s.start_line - line) if line else 0) if named else None


def definition_table(repo: Repository) -> dict[str, list[str]]:
    """Symbol name and qualified name ("Class.method") → walk-graph nodes "path:Qualified.name", in
    file and line order. A pure function of the files: `RetrievalIndex.definitions` keeps it."""
    from repoctx.graph.link import qualified_names
    out: dict[str, list[str]] = {}
    for path, facts in repo.facts.items():
        for sym, q in zip(facts.symbols, qualified_names(facts.symbols)):
            node = f"{path}:{q}"
            for name in dict.fromkeys((sym.name, q)):  # in this order: the table is the same every run
                lst = out.setdefault(name, [])
                if node not in lst:
                    lst.append(node)
    return out


def _module_file(module: str, repo: Repository) -> str | None:
    """The repository file a dotted (Python) or relative (JS) module name is: `a.b.c` → a/b/c.py,
    a/b/c/__init__.py (also under src/), `./lib/router` → lib/router.js/.ts/index.js."""
    base = module.strip("./").replace(".", "/") if "/" not in module else module.lstrip("./")
    if not base:
        return None
    suffixes = (".py", "/__init__.py", ".js", ".ts", "/index.js", "/index.ts", "")
    for prefix in ("", "src/", "lib/"):
        for s in suffixes:
            if prefix + base + s in repo.files and (s or "." in base.rsplit("/", 1)[-1]):
                return prefix + base + s
    return None


# -- string literals and format strings --------------------------------------------------------------

_STRING = re.compile(r"""(?<![\w"'`])(?:[rRbBuUfF]{0,2})("(?!"")(?:[^"\\\n]|\\.){4,300}"|'(?!'')(?:[^'\\\n]|\\.){4,300}'|`(?:[^`\\\n]|\\.){4,300}`)""")
_PLACEHOLDER = re.compile(r"%(?:\([^)]*\))?[-#0 +]*\d*(?:\.\d+)?[sdrifgxXoecvqTtpwb%]|\{[^{}]{0,60}\}|\$\{[^{}]{0,60}\}|\\[ntr]")


class LiteralIndex:
    """The string literals of a repository's code, cut at their placeholders into fixed fragments:
    fragment → [(path, line)]. Built once per repository state: `RetrievalIndex.literals` keeps it
    beside the index (`columns`/`of`), as mapped arrays whose fragments and sites are decoded only
    for what a query matches."""

    #: Bump when what a fragment is changes: cached literal indexes are then rebuilt.
    VERSION = "3"

    def __init__(self, repo: Repository | None = None, found: Iterable[tuple[str, str, int]] | None = None):
        """The index of a repository's files, or of `found`: (fragment, path, line) of every site in the
        order the files' scan (`literal_sites`, files in path order) gives them, as an update from
        an earlier state replays them (`retrieve/delta.py`)."""
        if repo is None and found is None:
            return
        if found is None:
            found = ((frag, path, n) for path, facts in repo.facts.items() if facts.language is not None
                     for frag, n in literal_sites(repo.text(path)))
        sites: dict[str, list[tuple[str, int, int]]] = {}
        for seq, (frag, path, n) in enumerate(found):
            sites.setdefault(frag, []).append((path, n, seq))
        path_id: dict[str, int] = {}
        #: fragments, each's sites as slices [start[i], start[i + 1]) of flat arrays: file, line, and
        #: the site's place in the scan (what an update needs to replay the scan).
        self.frags = list(sites)
        self._start, self._path, self._line, self._seq = array("i", [0]), array("i"), array("i"), array("i")
        for frag in self.frags:
            for path, n, seq in sites[frag]:
                self._path.append(path_id.setdefault(path, len(path_id)))
                self._line.append(n)
                self._seq.append(seq)
            self._start.append(len(self._path))
        self._start, self._path, self._line, self._seq = (
            np.frombuffer(a, dtype=np.int32) for a in (self._start, self._path, self._line, self._seq))
        self._paths = list(path_id)
        #: lowered fragment → its fragments' ids.
        self.lowered: dict[str, list[int]] = {}
        for i, frag in enumerate(self.frags):
            self.lowered.setdefault(frag.lower(), []).append(i)
        #: first word of each fragment → lowered fragments, so a query tests only those it may contain.
        self.by_word: dict[str, list[str]] = {}
        for low in self.lowered:
            self.by_word.setdefault(_WORD.search(low).group(0).lower(), []).append(low)

    def sites(self, i: int) -> list[tuple[str, int]]:
        """(path, line) of each site of fragment `i`."""
        a, b = int(self._start[i]), int(self._start[i + 1])
        return [(self._paths[p], n) for p, n in zip(self._path[a:b].tolist(), self._line[a:b].tolist())]

    def columns(self) -> dict:
        """The index as named arrays (`index.arrays.write_arrays`)."""
        return {"start": self._start, "path": self._path, "line": self._line, "seq": self._seq,
                **StringTable.columns("frags", self.frags),
                **StringTable.columns("paths", self._paths), **ListTable.columns("lowered", self.lowered),
                **StringListTable.columns("by_word", self.by_word)}

    @classmethod
    def of(cls, arrays: dict) -> LiteralIndex:
        """The index of `columns`, read from mapped arrays: a query decodes the fragments it matches."""
        out = cls()
        out.frags, out._paths = StringTable.of(arrays, "frags").strings(), list(StringTable.of(arrays, "paths"))
        out._start, out._path, out._line = arrays["start"], arrays["path"], arrays["line"]
        out.lowered, out.by_word = ListTable.of(arrays, "lowered"), StringListTable.of(arrays, "by_word")
        if len(out._start) != len(out.frags) + 1 or len(out._path) != len(out._line):
            raise ValueError("damaged literal index")
        return out

    def matches(self, text: str) -> list[tuple[str, int, float, str]]:
        """(path, line, weight, fragment) for each literal site whose fragment the text contains,
        as a whole (not inside a longer word); a fragment found at many sites weighs less at each."""
        words = set(w.lower() for w in _WORD.findall(text))
        lowered = text.lower()
        found = []
        for word in words & self.by_word.keys():
            for low in self.by_word[word]:
                i = lowered.find(low)
                while i >= 0 and ((i > 0 and lowered[i - 1].isalnum() and low[0].isalnum()) or (
                        i + len(low) < len(lowered) and lowered[i + len(low)].isalnum() and low[-1].isalnum())):
                    i = lowered.find(low, i + 1)
                if i >= 0:
                    found.append(low)
        # A fragment inside a longer one that also matched ("collect-only" in "--collect-only") is
        # that one's match, not its own.
        found.sort(key=len, reverse=True)
        kept: list[str] = []
        for low in found:
            if not any(low in longer for longer in kept):
                kept.append(low)
        out = []
        for low in kept:
            for i in self.lowered[low]:
                frag, sites = self.frags[i], self.sites(i)
                code_sites = sum(not is_test_path(p) for p, _ in sites) or len(sites)
                w = min(1.0, len(frag) / LITERAL_FULL) / code_sites ** 0.5
                out += [(p, n, w, frag) for p, n in sites]
        return out


def literal_sites(text: str) -> list[tuple[str, int]]:
    """(fragment, line) of each literal fragment of one file's text, in order."""
    out = []
    for n, line in enumerate(text.split("\n"), 1):
        if "'" not in line and '"' not in line and "`" not in line:
            continue
        for m in _STRING.finditer(line):
            for frag in _PLACEHOLDER.split(m.group(1)[1:-1]):
                frag = " ".join(frag.split()).strip(" ,;:")
                if _fragment_ok(frag):
                    out.append((frag, n))
    return out


def _fragment_ok(frag: str) -> bool:
    """A fragment worth matching: long enough, has letters, and is not a plain identifier or dotted
    name (those are code, matched as identifiers) nor a path or URL."""
    if len(frag) < LITERAL_MIN or not any(ch.isalpha() for ch in frag):
        return False
    if _IDENT_CHAIN.fullmatch(frag) or "://" in frag or (" " not in frag and len(frag) < 12 and not _OPTION.fullmatch(frag)):
        return False
    return sum(ch.isalpha() for ch in frag) >= len(frag) / 2
