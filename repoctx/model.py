"""Plain data passed between the stages: scan → parse → graph → index → retrieve → pack → render.

Every stage takes and returns these types, nothing else, so each stage can be tested alone.
Paths are repository-relative POSIX strings; lines are 1-based and inclusive.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple


@dataclass(frozen=True, slots=True)
class SourceFile:
    """A file the scan accepted. `blob_sha` is git's blob id (computed the same way outside git)."""
    path: str
    blob_sha: str
    language: str | None  # None: no grammar, packable as plain text
    size: int


@dataclass(frozen=True)
class Skipped:
    path: str
    reason: str  # one of SKIP_REASONS


SKIP_REASONS = (
    "ignored-folder",  # vendored / generated / tool folders: node_modules, .venv, …
    "lock-file",
    "too-large",
    "binary",
    "minified",       # very long lines: generated or minified
    "generated",      # carries a "Code generated … DO NOT EDIT" marker
    "symlink",
    "unreadable",
    "undecodable-name",  # a file name that is not valid UTF-8: no pack or answer could name it
    "secret-file",    # secrets by nature: .env*, private keys, keystores, .npmrc with auth, …
    "repoctx-output", # repoctx's own output: this run's -o target, the index folder, an earlier pack
    "repoctx-config", # repoctx's own settings: .repoctx.toml, .repoctxignore
)


@dataclass
class ScanResult:
    root: str                 # absolute path of the repository root
    files: list[SourceFile]
    skipped: list[Skipped]
    is_git: bool
    scope: str = ""           # the repository-relative folder the scan was narrowed to ("" = all)


@dataclass(frozen=True, slots=True)
class Symbol:
    name: str
    kind: str                 # function, method, class, interface, struct, enum, type, module, constant, macro, …
    start_line: int
    end_line: int
    signature: str            # the declaration line(s) without the body
    doc: str = ""             # docstring or leading comment, as written
    parent: str | None = None # name of the enclosing symbol (class of a method), if any
    body_start_line: int | None = None  # first line of the body, where the grammar has one


class Reference(NamedTuple):
    """A use of a name on a line. A tuple, not a dataclass: a repository has millions of them.
    `receiver` is what the name is a member of, as a dotted name whose value holds it: a module
    (`pkg.sub` in `pkg.sub.f()`), a class (`Client` in `Client.make()`), or the class of an object
    the code constructed or annotated (`Client` in `c = Client(); c.send()`). "" for a plain name, a
    member of the enclosing class (`self.x`), and in the languages whose parser records no receiver
    (see parse.extract._RECEIVERS)."""
    name: str
    line: int
    receiver: str = ""


@dataclass(frozen=True, slots=True)
class Import:
    """An import as written. `module` is the spec in the language's own syntax:
    python "pkg.mod" / "..rel.mod", js "./a/b", go "example.com/m/pkg", rust "crate::a::b" or
    "mod:name" for `mod name;`, java "com.x.Y" / "com.x.*", c "foo.h" (quoted includes only;
    system includes are marked external by the parser)."""
    module: str
    names: tuple[str, ...] = ()
    line: int = 0
    external: bool = False    # known to be outside the repository (e.g. C `#include <…>`)


class LazyReferences(Sequence):
    """A file's references as stored (parallel lists of names, lines and receivers — the last
    empty when no reference has one), turned into `Reference`s on first use. Loading a large
    repository decodes a million references; most packs read a few files' worth."""

    __slots__ = ("_names", "_lines", "_receivers", "_items")

    def __init__(self, names: list[str], lines: list[int], receivers: list[str] | None = None):
        self._names, self._lines, self._receivers, self._items = names, lines, receivers or None, None

    def _list(self) -> list[Reference]:
        if self._items is None:
            if self._receivers:
                self._items = list(map(Reference, self._names, self._lines, self._receivers))
            else:
                self._items = list(map(Reference, self._names, self._lines))
        return self._items

    def __getitem__(self, i):
        return self._list()[i]

    def pairs(self):
        """(name, line) of each reference, without building the `Reference`s."""
        return zip(self._names, self._lines)

    def receivers(self) -> list[str] | None:
        """Each reference's receiver, aligned with the names; None when no reference has one."""
        return self._receivers

    def lines_of(self, name: str) -> list[int]:
        """The lines that use `name`, sorted (found by the list's own search, not a loop here)."""
        names, lines, out, at = self._names, self._lines, [], -1
        try:
            while True:
                at = names.index(name, at + 1)
                out.append(lines[at])
        except ValueError:
            return sorted(out)

    def __len__(self) -> int:
        return len(self._names)

    def __iter__(self):
        return iter(self._list())

    def __eq__(self, other) -> bool:
        return list(self) == list(other)

    def __repr__(self) -> str:
        return repr(self._list())


@dataclass(slots=True)
class FileFacts:
    language: str | None
    lines: int
    symbols: list[Symbol] = field(default_factory=list)
    references: list[Reference] = field(default_factory=list)
    imports: list[Import] = field(default_factory=list)
    parse_errors: bool = False  # the tree had ERROR/MISSING nodes; facts are from the partial tree

    def to_record(self) -> tuple:
        """Plain tuples of str/int/bool/None (for the index), the inverse of `from_record`."""
        names, lines, receivers = map(list, zip(*self.references)) if self.references else ([], [], [])
        return (self.language, self.lines, self.parse_errors,
                [(s.name, s.kind, s.start_line, s.end_line, s.signature, s.doc, s.parent, s.body_start_line)
                 for s in self.symbols],
                (names, lines, receivers if any(receivers) else []),
                [(i.module, tuple(i.names), i.line, i.external) for i in self.imports])

    @classmethod
    def from_record(cls, rec: tuple) -> FileFacts:
        language, lines, parse_errors, symbols, (ref_names, ref_lines, ref_receivers), imports = rec
        return cls(language=language, lines=lines, parse_errors=parse_errors,
                   symbols=[Symbol(*s) for s in symbols],
                   references=LazyReferences(ref_names, ref_lines, ref_receivers),
                   imports=[Import(*i) for i in imports])


@dataclass
class PackedFile:
    path: str
    spans: list[tuple[int, int]]  # 1-based inclusive line ranges that appear verbatim in the text
    whole: bool


@dataclass
class PackResult:
    mode: str                     # "whole" or "slice"
    encoding: str
    budget: int
    tokens: int                   # exact token count of `text` in `encoding`
    text: str
    files: list[PackedFile]
    seconds: float = 0.0
    redactions: list[tuple[str, int, str]] = field(default_factory=list)  # (path, line, secret type) packed redacted
    secret_files: list[str] = field(default_factory=list)  # files left out because they are secrets by nature
    warnings: list[str] = field(default_factory=list)  # what the user should know: a query that matched little, …
    #: What `text` was rendered from, so it can be rendered again in parts (`pack/split.py`).
    rendering: Rendering | None = field(default=None, repr=False, compare=False)
    #: A part of a split pack: part `part` of `parts` (both 0 for a pack that is not split).
    part: int = 0
    parts: int = 0


@dataclass(frozen=True)
class Rendering:
    """A pack's selection as the renderer takes it (`render.render_parts`): the map, the file slices
    in order, the call sites listed, the change's diff, the format, and the packed (redacted) lines
    of each file."""
    map_text: str | None
    slices: tuple[Any, ...]       # render.FileSlice, in the order rendered
    callers: str | None
    diff: str | None
    format: str
    line_numbers: bool
    lines_of: Callable[[str], list[str]]


@dataclass(frozen=True)
class Focus:
    """Code a pack is about: a file, or lines start..end (1-based, inclusive) of it."""
    path: str
    start: int | None = None
    end: int | None = None

    def covers(self, chunk) -> bool:
        if chunk.path != self.path:
            return False
        if self.start is None:
            return True
        return chunk.start <= (self.end or self.start) and self.start <= chunk.end
