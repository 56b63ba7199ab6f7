"""Parse: one file's bytes → its `FileFacts` (definitions, references, imports), with tree-sitter.

    facts = parse_file("pkg/app.py", data)

Each file is parsed once and walked once, by the language's query (see languages.py) running in C;
everything else is worked out from the captured nodes' positions, so nothing here recurses or walks
the tree in Python, and a file nested 10,000 deep costs what its size costs. Bad input never raises:
invalid UTF-8 is read with replacement characters, a syntax error yields what the partial tree
gives (and `parse_errors`), a file in a language without a grammar yields only its line count.
`lines` counts "\n"s, plus one for a last line without one (an empty file has 0). A `.h` header with
C++-only lines is read as C++ (`FileFacts.language` then says "cpp"; see languages.language_for_file).

Definitions (`Symbol`): `name` unqualified; `parent` the innermost enclosing definition (for Go
methods the receiver type, for Rust the `impl` type, for C++ `A::f` the scope `A`); a function whose
parent is a class, struct, interface, trait, enum, record, object or impl (a Ruby module too) is a
"method". Lines cover the whole definition with its decorators, `export`, a JS `const`/`let`/`var`
(also around a constant: "const X = 1;"), or `template<…>`;
`body_start_line` is where the body node starts (None for a declaration without one).
`signature` is the declaration from its first keyword (decorators and annotations left out) up to the
body, each line's whitespace collapsed; a declaration without a body gives its first lines (at most
SIGNATURE_LINES). `doc` is, as written, a Python docstring, else the comment lines directly above
the definition (Rust attributes between them are skipped). Namespaces keep their written name
("App\\Models", "Shop.Orders").

References: every identifier-like node (calls, types, attributes and fields, plain names), one per
(name, line), sorted by line then name; a definition's own name at its definition site is not a
reference, and neither is Python's `self` / `cls` (never a definition's name).

Imports (`Import`), one per statement unless said otherwise, in line order:
  python  `import a.b` → "a.b"; `from ..x import y, z` → "..x" ("y", "z"); `from . import m` → "." ("m",);
          `from x import *` → ("*",); `__future__` imports are external.
  js/ts   `import d, {a, b as c} from './m'` → "./m" ("default", "d", "a", "b") (a default import's
          local name follows "default"); `import * as ns` → ("*", "ns");
          `export * from` → ("*",); `export {a} from './m'` → ("a",); `import './m'` → ();
          `const x = require('./m')` and `import x = require('./m')` → ("default", "x");
          `const {a, b: c} = require('./m')` → ("a", "b"); `require('./m')` alone and `import('./m')` → ().
  go      the import path, no names.
  rust    one Import per leaf of a `use` tree, the full path as module, no names:
          `use crate::a::b::{C, D as E, self, f::G, *};` → "crate::a::b::C", "crate::a::b::D",
          "crate::a::b", "crate::a::b::f::G", "crate::a::b::*" (aliases dropped, `x::self` is `x`);
          `super::` / `self::` paths as written; `mod foo;` → "mod:foo"; `extern crate foo;` → "foo".
  java    `import com.x.Y;` → "com.x.Y"; `import com.x.*;` → "com.x.*"; static imports the same
          (`import static a.B.m;` → "a.B.m").
  kotlin  `import a.b.C` / `import a.b.*` → "a.b.C" / "a.b.*" (an alias is dropped).
  c/c++   `#include "x.h"` → "x.h"; `#include <x.h>` → "x.h", external.
  ruby    `require 'x'` → "x"; `require_relative 'x'` → "./x".
  php     `use A\\B\\C;` → "A\\B\\C" (group uses expanded); `require 'x.php'` → "x.php";
          `require __DIR__ . '/x.php'` → "./x.php".
  c#      `using A.B;` → "A.B"; `using static A.B;` → "A.B"; `using X = A.B;` → "A.B".
"""
from __future__ import annotations

import gc
import re
from bisect import bisect_left
from collections import Counter
from collections.abc import Iterator
from itertools import compress, repeat
from operator import attrgetter, not_, or_
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tree_sitter import Node

from repoctx.parse.languages import LANGUAGES, LanguageSpec, get_parser, get_query, language_for_file
from repoctx.model import FileFacts, Import, Reference, Symbol

#: Most lines a body-less declaration's signature keeps (a constant's value, a long prototype).
SIGNATURE_LINES = 4

_BOM = b"\xef\xbb\xbf"
#: Kinds whose functions are methods.
_CLASS_LIKE = frozenset(("class", "struct", "interface", "trait", "enum", "union", "record", "object", "impl"))
#: Definition node types that are methods wherever they are.
_ALWAYS_METHOD = frozenset(("method_declaration", "method_definition", "singleton_method", "method_signature",
                            "abstract_method_signature"))
#: Specifiers that define something only with a body (`struct S;` / `enum E e;` only name one).
_NEED_BODY = frozenset(("struct_specifier", "union_specifier", "enum_specifier", "class_specifier"))
#: Definition node types never taken as they are (the C tags query's `union U u;` declaration).
_DROP = frozenset(("declaration",))
#: Nodes before a declaration's first keyword that its signature leaves out.
_LEADING = frozenset(("decorator", "attribute_list", "attribute_item", "attribute", "annotation",
                      "marker_annotation", "comment", "line_comment", "block_comment"))
_KOTLIN_BODIES = frozenset(("class_body", "enum_class_body", "function_body"))

_GUARD = re.compile(rb"_(?:H|HH|HPP|HXX|INCLUDED)_*$", re.I)

_start_of, _end_of, _row_of = attrgetter("start_byte"), attrgetter("end_byte"), attrgetter("start_point.row")
#: Identifiers that are never a definition's name, left out of references.
_SKIP_REFS = {"python": frozenset((b"self", b"cls"))}


def count_lines(data: bytes) -> int:
    """Lines as an editor shows them: 0 for an empty file; a last line without "\\n" counts."""
    return data.count(b"\n") + (1 if data and not data.endswith(b"\n") else 0)


def parse_file(path: str, data: bytes) -> FileFacts:
    """The facts of one file (`path` picks the grammar); never raises. A file without a grammar
    yields its line count only; should extraction itself fail on some unforeseen tree, the file
    keeps its language and line count, marked `parse_errors`."""
    lines = count_lines(data)
    language = language_for_file(path, data)
    if language is None:
        return FileFacts(language=None, lines=lines)
    # A file makes ~40 small acyclic objects (nodes, tuples, References) per line; letting the cyclic
    # GC trace them while they are being made costs 10-15% of the parse, more in a big process.
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        return extract(language, data, lines)
    except Exception:  # noqa: BLE001 — an unforeseen tree shape must not lose the file
        return FileFacts(language=language, lines=lines, parse_errors=True)
    finally:
        if gc_was_enabled:
            gc.enable()


def extract(language: str, data: bytes, lines: int | None = None) -> FileFacts:
    """The facts of `data` read as `language` (one of LANGUAGES); raises only on a bug."""
    if lines is None:
        lines = count_lines(data)
    if data.startswith(_BOM):  # a UTF-8 byte order mark is no code; rows stay the same
        data = data[3:]
    from tree_sitter import QueryCursor  # loaded with the first grammar (languages.get_parser)
    tree = get_parser(language).parse(data)
    root = tree.root_node
    caps = QueryCursor(get_query(language)).captures(root)
    src = _Source(data, {(v.start_byte, v.end_byte): d for d in caps.get("import.bound", ())
                         if (v := d.child_by_field_name("value")) is not None})
    symbols, sites = _symbols(LANGUAGES[language], src, caps)
    imports: list[Import] = []
    reader = _IMPORT_READERS[language]
    for node in sorted(caps.get("import", ()), key=_start_of):
        imports.extend(reader(node, src))
    refs, dropped, receivers = _uses(caps.get("ref"), data, language,
                                     [*caps.get("import", ()), *caps.get("import.bound", ())], symbols,
                                     caps.get("local", ()), caps.get("local.scope", ()))
    return FileFacts(language=language, lines=lines, symbols=symbols,
                     references=_references(refs, data, sites, _SKIP_REFS.get(language, frozenset()), dropped,
                                            receivers),
                     imports=imports,
                     parse_errors=root.has_error)


class _Source:
    """The parsed bytes, and text of nodes as str; `bound` maps the (start, end) bytes of a JS
    `require(…)` call that is a declarator's value to that declarator (a node's `parent` would cost
    its depth: tree-sitter finds it by walking down from the root)."""
    __slots__ = ("data", "bound")

    def __init__(self, data: bytes, bound: dict[tuple[int, int], Node] | None = None):
        self.data = data
        self.bound = bound or {}

    def text(self, node: Node | None) -> str:
        return "" if node is None else self.data[node.start_byte:node.end_byte].decode("utf-8", "replace")


# ---------------------------------------------------------------------------------------------
# References


#: Receivers through which a member is the enclosing class's own (`self.send()`, `this.x`).
_OWN_RECEIVERS = frozenset((b"self", b"this", b"cls", b"super", b"Self", b"$this", b"base"))
#: Languages whose variables have no declared type: there a member of a receiver of unknown type
#: is left out. In the others the linker's scope (the package, imports, included headers) narrows
#: a method name well enough (`s := &store.Store{}; s.Get(k)` is store's Get).
_DYNAMIC = frozenset(("python", "javascript", "typescript", "tsx", "ruby", "php"))
#: Languages where `name:` names an object key, a struct literal's field or a typed binding
#: (`{onerror: …}`, `T{Host: …}`, `fn f(x: T)`), never a use of a definition elsewhere.
_KEY_COLON = frozenset(("javascript", "typescript", "tsx", "go", "rust"))
#: Languages whose references carry a receiver (`Reference.receiver`): the linker resolves members
#: through it in Python and JavaScript/TypeScript modules (graph.link, rule 0).
_RECEIVERS = frozenset(("python", "javascript", "typescript", "tsx"))
#: Languages whose members carry a mark instead of a resolved receiver: C and C++ (`p->f`, `s.f`:
#: _VALUE) and Go (`pkg.F`: the package's name; `v.F`: _VALUE). The linker keeps a member from
#: reaching a same-named function (graph.link, typed families) and a plain name from reaching a member.
_MARKED = frozenset(("c", "cpp", "go"))
#: The receiver of a member of a value whose type the parser does not know (see _MARKED).
_VALUE = b"()"
#: JavaScript receivers that are the file's own module (CommonJS).
_EXPORTS = ([b"exports"], [b"module", b"exports"])
#: Languages where "->" reaches a member (elsewhere it starts a return type: `def f() -> T`).
_ARROW = frozenset(("c", "cpp", "php"))
_SPACE = b" \t"
_WORD = re.compile(rb"[A-Za-z0-9_$]+")
_AFTER_MEMBER = re.compile(rb"(?:\.|->)[ \t\r\n]*[A-Za-z_$]")
_SIGN_AT = re.compile(rb"[ \t]*[=:]")
#: What names a module in an import, not a name it binds: a string, Python's `from a.b` and the
#: dotted tail of `import a.b.c` (which binds `a`).
_MODULE_SPEC = re.compile(rb"'[^'\n]*'|\"[^\"\n]*\"|\bfrom[ \t]+[.\w]+|(?<=\w)\.[.\w]+")
_ALIAS = re.compile(rb"([A-Za-z_$][\w$]*(?:\.[A-Za-z_$][\w$]*)*)[ \t]+as[ \t]+([A-Za-z_$][\w$]*)")
#: Parts a receiver keeps at most (real code's `pkg.sub.mod.Class` is a few); a longer one is unknown.
_MAX_CHAIN = 16
_IDENT = frozenset(b"$_0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")
_CHAIN = rb"(?:[A-Za-z_$][\w$]*\.)*[A-Za-z_$][\w$]*"
#: Bindings of a local name, by language: (name, class chain or b"") where the chain is the class of
#: the value when the text says it — a constructor call (`c = Client(…)`, `const c = new Client(…)`,
#: `with Client() as c`) or an annotation (`c: Client`, `(c: Client)`); any other binding of the
#: name (`c = make()`) gives b"" and makes the name's type unknown in that scope.
_BINDINGS = {
    "python": re.compile(rb"(?m)^[ \t]*([A-Za-z_]\w*)[ \t]*(?::[ \t]*(" + _CHAIN + rb")[ \t]*)?=(?!=)[ \t]*"
                         rb"(?:(" + _CHAIN + rb")[ \t]*\()?"
                         rb"|\bwith[ \t]+(" + _CHAIN + rb")\([^()\n]*\)[ \t]+as[ \t]+([A-Za-z_]\w*)[ \t]*[:,]"
                         rb"|[(,][ \t\r\n]*([A-Za-z_]\w*)[ \t]*:[ \t]*(" + _CHAIN + rb")[ \t]*(?=[,)=]|$)"
                         rb"|\bfor[ \t]+([A-Za-z_]\w*)[ \t]+in\b"),
    "js": re.compile(rb"(?m)(?:\b(?:const|let|var)[ \t]+|^[ \t]*)([A-Za-z_$][\w$]*)[ \t]*(?::[ \t]*(" + _CHAIN
                     + rb")[ \t]*)?=(?![=>])[ \t]*(?:new[ \t]+(" + _CHAIN + rb")\b)?"
                     rb"|[(,][ \t\r\n]*([A-Za-z_$][\w$]*)[ \t]*\??:[ \t]*(" + _CHAIN + rb")[ \t]*(?=[,)=])"),
}
#: For each language's _BINDINGS: (group of the name, groups that may hold its class), per alternative.
_BINDING_GROUPS = {"python": ((1, (2, 3)), (5, (4,)), (6, (7,)), (8, ())), "js": ((1, (2, 3)), (4, (5,)))}
#: The group of the alternative in _BINDINGS that reads `name: Type` (a parameter is a @local anyway:
#: this alternative adds its class, and must not make an object key `{count: n}` a local).
_ANNOTATED = {"python": 6, "js": 4}
#: Symbol kinds whose body is a scope of its own for local names.
_SCOPE_KINDS = frozenset(("function", "method", "class", "module", "namespace", "constructor"))


class _LocalTypes:
    """The classes of a file's local names where the text says them (see _BINDINGS), by scope: the
    innermost function (named or not), method or class around the binding (the module outside
    them), a scope known by its rows. A name bound twice in a scope to different things has no
    known class."""

    def __init__(self, data: bytes, language: str, symbols: list[Symbol], anonymous: list[Node] = ()):
        spans = sorted({(s.start_line - 1, s.end_line - 1) for s in symbols if s.kind in _SCOPE_KINDS}
                       | {(n.start_point.row, n.end_point.row) for n in anonymous})
        self.starts = [a for a, _ in spans]
        self.spans = spans
        self.types: dict[tuple[int, bytes], bytes] = {}
        self._bound: dict[bytes, set[int]] | None = None
        lang = "python" if language == "python" else "js"
        rx, groups = _BINDINGS[lang], _BINDING_GROUPS[lang]
        annotated = _ANNOTATED[lang]
        newlines = [m.start() for m in re.finditer(rb"\n", data)]
        for m in rx.finditer(data):
            at, chain = next((g, next((m.group(c) for c in cs if m.group(c)), None)) for g, cs in groups if m.group(g))
            if chain and not chain.rpartition(b".")[2][:1].isupper():
                chain = None  # a function's result: its class is unknown
            if at == annotated and (not chain or language == "javascript"):
                continue  # `{key: value}` reads like `(name: Type)`: only a class there is a parameter's type
            key = (self.scope(bisect_left(newlines, m.start(at))), m.group(at))
            if self.types.get(key, chain) != chain:
                chain = None
            self.types[key] = chain or b""

    def scope(self, row: int) -> int:
        """The start row of the innermost scope around `row` (-1: the module); looks at most 64
        scopes back (a file of many nested definitions gets the module instead, never a wrong one)."""
        i = bisect_left(self.starts, row + 1) - 1
        for j in range(i, max(i - 64, -1), -1):
            if self.spans[j][1] >= row:
                return self.spans[j][0]
        return -1

    def of(self, row: int, name: bytes) -> bytes:
        return self.types.get((self.scope(row), name), b"")

    def bound(self, data: bytes, locals_: list[Node]) -> dict[bytes, set[int]]:
        """name → the start rows of the functions that bind it (a parameter, a local binding)."""
        if self._bound is None:
            self._bound = {}
            for scope, name in self.types:
                if scope >= 0:
                    self._bound.setdefault(name, set()).add(scope)
            for n in locals_:
                scope = self.scope(n.start_point.row)
                if scope >= 0:
                    self._bound.setdefault(data[n.start_byte:n.end_byte], set()).add(scope)
        return self._bound

    def shadowed(self, row: int, name: bytes, data: bytes, locals_: list[Node]) -> bool:
        """Whether a function around `row` binds `name` (then it is that local, not the module's)."""
        scopes = self.bound(data, locals_).get(name)
        return bool(scopes) and self._within(row, scopes)

    def unshadowed(self, nodes: list[Node], data: bytes, locals_: list[Node], members: set[int],
                   dropped: list[Node]) -> list[Node]:
        """`nodes` without the plain names (not `members`: start bytes of members) that a function
        around them binds (a parameter in `locals_`, or a binding _BINDINGS finds); those left out
        go to `dropped`. Module-level
        bindings shadow nothing here: there a name is the module's own definition."""
        bound = self.bound(data, locals_)
        if not bound:
            return nodes
        out = []
        for n in nodes:
            name = data[n.start_byte:n.end_byte]
            scopes = bound.get(name)
            row = n.start_point.row
            if scopes and n.start_byte not in members and self._within(row, scopes):
                dropped.append(n)
            else:
                out.append(n)
        return out

    def _within(self, row: int, scopes: set[int]) -> bool:
        """Whether a scope starting at one of the rows `scopes` encloses `row` (64 scopes back at most)."""
        i = bisect_left(self.starts, row + 1) - 1
        for j in range(i, max(i - 64, -1), -1):
            a, b = self.spans[j]
            if b >= row and a in scopes:
                return True
        return False


def _receiver_chain(data: bytes, k: int) -> tuple[list[bytes] | None, bool]:
    """The dotted name that ends at byte `k` (right before a member's "."), outermost part first,
    and whether it ends in an empty call (`Client().send`); None when it is no plain dotted name
    (`f(x).y`, `a[0].y`, a call in the middle) or longer than _MAX_CHAIN parts (each member of a
    crafted `a.b.….b` would read the whole chain again: quadratic)."""
    called = data[k - 2:k] == b"()"
    if called:
        k -= 2
    parts = []
    while True:
        m = k
        while m > 0 and data[m - 1] in _IDENT:
            m -= 1
        if m == k or 48 <= data[m] <= 57:
            return None, called
        parts.append(data[m:k])
        if len(parts) > _MAX_CHAIN:
            return None, called
        if m > 1 and data[m - 1] == 46 and data[m - 2] != 46:  # 46: "."
            k = m - 1
            if data[k - 1:k] == b"?":
                k -= 1
            continue
        break
    parts.reverse()
    return parts, called


def _uses(nodes: list[Node] | None, data: bytes, language: str, imports: list[Node],
          symbols: list[Symbol] = (), locals_: list[Node] = (),
          scopes: list[Node] = ()) -> tuple[list[Node], Counter, dict]:
    """The identifier nodes that may use a definition found elsewhere, by their neighbours in the
    text (no tree walk): left out are a binding's target (`x = …`, a keyword argument `f(x=…)`, a
    default `(a = 1)`, Go's `x :=`), an object key or struct field label or typed binding (`name:`
    in JavaScript, TypeScript, Go, Rust, outside a ternary or `case`), and in a language without
    declared types (_DYNAMIC) a member reached through a receiver of unknown type (`d.update(…)`,
    `this.headers.referrer`'s `referrer`): only a member
    of the enclosing class (`self.x`, `this.x`), of a capitalised name (a class, type or
    namespace) or of a name the file's imports bind (a module: `pkg.function()`) is kept. Which
    definition an unknown receiver's member is cannot be known without its type, and listing
    every same-named definition as "called at" there is false more often than true. Also returns
    the (row, name) of each node left out: a definition's own name may be among them (`X = 1`,
    `{onerror: function…}`), and then it takes no use away.

    In the languages of _RECEIVERS the receiver is read as a whole dotted name (`pkg.sub.f()`), and
    a member is kept when that name starts at an import-bound or capitalised name (a module or a
    class), or is one local name whose class the code says (`c = Client(…); c.send()`: the receiver
    is then `Client`); the third value maps each kept member's (row, name) to its receiver (the
    word itself for `self.x`, `this.x`). There a plain name that a parameter or a local binding of
    an enclosing function binds (`locals_`, and `x = …`, `for x in`, `with … as x`) is the local,
    not a definition elsewhere, and is left out too."""
    if not nodes:
        return [], Counter(), {}
    bound = set()
    covered = 0  # imports may nest (`require('m', function () { require(…) })`): each byte read once
    chains = language in _RECEIVERS
    aliases: dict[bytes, bytes] = {}  # `import a.b as c`, `from m import x as y`: y -> x
    for node in sorted(imports, key=_start_of):
        if node.end_byte > covered:
            text = data[max(node.start_byte, covered):node.end_byte]
            if chains:  # the names an import binds, not its module's path (`from a.client import X`)
                aliases.update((m[2], m[1]) for m in _ALIAS.finditer(text))
                text = _MODULE_SPEC.sub(b" ", text)
            bound.update(_WORD.findall(text))
            covered = node.end_byte
    own = _OWN_RECEIVERS
    js = chains and language != "python"
    holders = {s.parent.encode() for s in symbols if s.parent} if js else ()
    keys = language in _KEY_COLON
    dot = language != "php"  # PHP's "." joins strings; its members follow "->"
    dynamic = language in _DYNAMIC
    marked = language in _MARKED
    arrow = language in _ARROW
    receivers: dict[tuple[int, bytes], tuple[bytes, int]] = {}  # (row, name) -> (receiver, uses)
    local_types = None
    members: set[int] = set()  # start bytes of the members kept with a receiver
    # Only a name right after "." / "->" or right before "=" / ":" can be left out: those are found
    # by two regular expressions over the text (C speed), and only they are looked at one by one.
    after = {m.end() - 1 for m in _AFTER_MEMBER.finditer(data)}
    starts, ends = list(map(_start_of, nodes)), list(map(_end_of, nodes))
    signs = map(bool, map(_SIGN_AT.match, repeat(data), ends))
    suspect = list(map(or_, map(after.__contains__, starts), signs))
    out, dropped = list(compress(nodes, map(not_, suspect))), []
    size = len(data)
    for node in compress(nodes, suspect):
        a, b = node.start_byte, node.end_byte
        j = b
        while j < size and data[j] in _SPACE:
            j += 1
        nxt = data[j:j + 2]
        if nxt[:1] == b"=" and nxt[1:2] not in (b"=", b">", b"~") or nxt == b":=":
            dropped.append(node)  # a binding's target
            continue
        if keys and nxt[:1] == b":" and nxt[1:2] != b":":
            start = data.rfind(b"\n", 0, a) + 1
            before = data[start:a]
            clause = before[max(before.rfind(b"{"), before.rfind(b";")) + 1:].lstrip()
            if b"?" not in before and not clause.startswith((b"case", b"default")):
                dropped.append(node)  # a key, a field label, a typed binding
                continue
        i = a
        while i > 0 and data[i - 1] in b" \t\r\n":
            i -= 1
        if i > 0 and (dot and data[i - 1] == 46 and data[i - 2:i] != b".." or arrow and data[i - 2:i] == b"->"):  # 46: "."
            k = i - (1 if data[i - 1] == 46 else 2)
            if data[k - 1:k] == b"?":
                k -= 1
            while k > 0 and data[k - 1] in _SPACE:
                k -= 1
            if chains:
                parts, called = _receiver_chain(data, k)
                if parts is not None and len(parts) == 1 and not called and parts[0] in own:
                    chain = parts[0]  # a member of the enclosing class: the linker's same-file rule
                else:
                    chain = b""
                    if parts is None or called and not parts[-1][:1].isupper():
                        pass  # a call's result, an item, …: of unknown type
                    else:
                        if len(parts) == 1 and not called:
                            if local_types is None:
                                local_types = _LocalTypes(data, language, symbols, scopes)
                            chain = local_types.of(node.start_point.row, parts[0])
                        if not chain and (parts[0] in bound or parts[0][:1].isupper()):
                            chain = b".".join(parts)
                        elif not chain and js and (parts[0] in holders or parts in _EXPORTS) and not called:
                            # an object the file gives members (`app.m = function`, `o = {m() {}}`),
                            # or CommonJS's own module (`exports.f`): unless a function binds the name
                            if local_types is None:
                                local_types = _LocalTypes(data, language, symbols, scopes)
                            if not local_types.shadowed(node.start_point.row, parts[0], data, locals_):
                                chain = b".".join(parts)
                if not chain:
                    dropped.append(node)  # a member of an object of unknown type
                    continue
                if aliases:  # a receiver through an import's alias: the name the import binds
                    root, dot_, rest = chain.partition(b".")
                    if root in aliases:
                        chain = aliases[root] + dot_ + rest
                members.add(a)
                key = (node.start_point.row, data[a:b])
                was, n = receivers.get(key, (chain, 0))
                receivers[key] = (chain if was == chain else b"", n + 1)
                out.append(node)
                continue
            called = data[k - 2:k] == b"()"
            if called:
                k -= 2
            m = k
            while m > 0 and (data[m - 1] == 36 or data[m - 1] == 95 or 48 <= data[m - 1] <= 57
                             or 65 <= data[m - 1] <= 90 or 97 <= data[m - 1] <= 122):
                m -= 1
            receiver = data[m:k]
            if dynamic and not (receiver in own or receiver[:1].isupper() or receiver in bound):
                dropped.append(node)  # a member of an object of unknown type
                continue
            if marked:  # Go: `pkg.F` names the package an import binds; anything else is a value's member
                plain = language == "go" and receiver and not called and not 48 <= receiver[0] <= 57 \
                    and data[m - 1:m] not in (b".", b")", b"]")
                chain = receiver if plain else _VALUE
                key = (node.start_point.row, data[a:b])
                was, n = receivers.get(key, (chain, 0))
                receivers[key] = (chain if was == chain else b"", n + 1)
        out.append(node)
    if chains and (symbols or scopes):
        if local_types is None:
            local_types = _LocalTypes(data, language, symbols, scopes)
        out = local_types.unshadowed(out, data, locals_, members, dropped)
    return out, Counter((n.start_point.row, data[n.start_byte:n.end_byte]) for n in dropped), receivers


def _references(nodes: list[Node] | None, data: bytes, sites: list[tuple[int, bytes]],
                skip: frozenset[bytes], dropped: Counter | None = None,
                receivers: dict | None = None) -> list[Reference]:
    """One Reference per (name, line), sorted by line then name; each definition site (row, name)
    takes one use away; names in `skip` (Python's `self`) are left out. Runs at C speed. A
    reference has the receiver `receivers` gives its (row, name) when every use of the name on the
    line is a member of that same receiver (else none: the linker's rules for a plain name)."""
    if not nodes:
        return []
    texts = map(data.__getitem__, map(slice, map(_start_of, nodes), map(_end_of, nodes)))
    counts = Counter(zip(map(_row_of, nodes), texts))
    if receivers:
        receivers = {k: r.decode("utf-8", "replace") for k, (r, n) in receivers.items() if r and counts[k] == n}
    for key in sites:
        if dropped and dropped.get(key):  # the definition's name was left out already (see _uses)
            dropped[key] -= 1
            continue
        n = counts.get(key)
        if n == 1:
            del counts[key]
        elif n:
            counts[key] = n - 1
    keys = sorted(counts)
    names = {t: t.decode("utf-8", "replace") for t in {k[1] for k in keys}}
    if receivers:
        return [Reference(names[t], r + 1, receivers.get((r, t), "")) for r, t in keys if t not in skip]
    if skip:
        return [Reference(names[t], r + 1) for r, t in keys if t not in skip]
    return [Reference(names[t], r + 1) for r, t in keys]


# ---------------------------------------------------------------------------------------------
# Definitions


class _Def:
    """A definition (or a Rust impl scope) while its facts are worked out. `start`/`end` are first
    the node's bytes, then its extent with wrappers."""
    __slots__ = ("node", "kind", "start", "end", "name", "wrappers", "outer", "parent", "label")

    def __init__(self, node: Node, kind: str):
        self.node, self.kind = node, kind
        self.start, self.end = node.start_byte, node.end_byte
        self.name: Node | None = None
        self.wrappers: list[Node] = []
        self.outer = node          # the outermost wrapper, else the node
        self.parent: str | None = None
        self.label = ""            # the name as text


def _by_extent(d: _Def) -> tuple[int, int, int, int]:
    """Outer before inner; definitions with the same extent in a fixed order."""
    return d.start, -d.end, d.node.start_byte, d.node.kind_id


def _symbols(spec: LanguageSpec, src: _Source, caps: dict[str, list[Node]]
             ) -> tuple[list[Symbol], list[tuple[int, bytes]]]:
    """The file's symbols in file order (outer before inner), and their name sites (row, bytes)."""
    found: dict[Node, _Def] = {}
    kinds = spec.kinds
    for cap, nodes in caps.items():
        if not cap.startswith("definition."):
            continue
        capkind = cap[11:]
        for node in nodes:
            d = found.get(node)
            if d is None:
                t = node.type
                if t in _DROP or (t in _NEED_BODY and node.child_by_field_name("body") is None):
                    continue
                found[node] = _Def(node, kinds.get(t, capkind))
            elif d.kind in ("constant", "variable"):
                d.kind = kinds.get(node.type, capkind)  # `const f = () => …` is a function
    if not found:
        return [], []
    defs = sorted(found.values(), key=_by_extent)
    _pair_names(defs, caps.get("name", ()))
    defs = [d for d in defs if d.name is not None and not _include_guard(d)]
    if spec.name in _JS_FAMILY:  # `res.send = function send(body) {…}` is one definition, not two
        defs = [d for d in defs if not (d.node.type in ("function_expression", "function")
                                        and d.node.parent is not None and d.node.parent in found)]
    _attach_wrappers(spec, src.data, defs, _wrappers(spec, caps))
    data = src.data
    for d in defs:
        d.label = data[d.name.start_byte:d.name.end_byte].decode("utf-8", "replace")
    items = defs
    if "scope" in caps:
        for node in caps["scope"]:
            s = _Def(node, "impl")
            s.label = _type_name(node.child_by_field_name("type")) or ""
            items.append(s)
    items.sort(key=_by_extent)
    _set_parents(spec, items)
    comments = _Comments(src, caps)
    symbols = [_symbol(spec, src, d, comments) for d in items if d.kind != "impl"]
    refs = spec.refs
    sites = [(d.name.start_point.row, data[d.name.start_byte:d.name.end_byte])
             for d in items if d.name is not None and d.name.type in refs]
    return symbols, sites


def _wrappers(spec: LanguageSpec, caps: dict[str, list[Node]]) -> list[Node]:
    """The @wrap nodes, and the @wrap.declarator declarations with a declarator of one of the
    language's `declarator_wrappers` types, in document order (outer first where they start together)."""
    wrappers = caps.get("wrap", [])
    candidates = caps.get("wrap.declarator")
    if not candidates:
        return wrappers
    wanted = spec.declarator_wrappers
    found = [n for n in candidates if any(c.type in wanted for c in n.children_by_field_name("declarator"))]
    return sorted(wrappers + found, key=lambda n: (n.start_byte, -n.end_byte))


def _include_guard(d: _Def) -> bool:
    """`#define SHAPE_H` with no value: a header's include guard, not a macro anyone uses."""
    return d.node.type == "preproc_def" and d.node.child_by_field_name("value") is None \
        and _GUARD.search(d.name.text or b"") is not None


def _pair_names(defs: list[_Def], names: list[Node]) -> None:
    """Give each definition its name: a captured name belongs to the innermost definition around it."""
    stack: list[_Def] = []
    i, n = 0, len(defs)
    for name in sorted(names, key=_start_of):
        s, e = name.start_byte, name.end_byte
        while i < n and defs[i].start <= s:
            d = defs[i]
            while stack and stack[-1].end < d.end:
                stack.pop()
            stack.append(d)
            i += 1
        while stack and stack[-1].end < e:
            stack.pop()
        if stack and stack[-1].name is None:
            stack[-1].name = name


def _attach_wrappers(spec: LanguageSpec, data: bytes, defs: list[_Def], wrappers: list[Node]) -> None:
    """A wrapper belongs to the outermost definition inside it when nothing but `;` follows that
    definition, or, for the language's loose wrappers (a C function_definition), when the
    definition comes before the wrapper's body. Then the definition's extent grows to the wrapper."""
    starts = [d.start for d in defs]
    for w in wrappers:
        i = bisect_left(starts, w.start_byte)
        if i == len(defs):
            continue
        d = defs[i]
        if d.node == w or d.node.start_byte >= w.end_byte or d.node.end_byte > w.end_byte:
            continue
        if w.type in spec.loose_wrappers:
            body = w.child_by_field_name("body")
            if body is not None and d.node.start_byte >= body.start_byte:
                continue
        elif data[d.node.end_byte:w.end_byte].strip() not in (b"", b";"):
            continue
        d.wrappers.append(w)
        if w.start_byte < d.start or (w.start_byte == d.start and w.end_byte >= d.end):
            d.outer = w
        d.start, d.end = min(d.start, w.start_byte), max(d.end, w.end_byte)


def _set_parents(spec: LanguageSpec, items: list[_Def]) -> None:
    """Parent names from nesting (items sorted by extent), then the kind rules that depend on them."""
    class_like = _CLASS_LIKE | {"module"} if spec.name == "ruby" else _CLASS_LIKE
    stack: list[_Def] = []
    for d in items:
        while stack and stack[-1].end < d.end:
            stack.pop()
        enclosing = stack[-1] if stack else None
        stack.append(d)
        if d.kind == "impl":
            continue
        d.parent = enclosing.label if enclosing is not None else None
        if d.kind in ("function", "method") and d.node.type not in _ALWAYS_METHOD:
            d.kind = "method" if enclosing is not None and enclosing.kind in class_like else "function"
        if spec.name in _REFINE:
            _REFINE[spec.name](d)


def _refine_go(d: _Def) -> None:
    node = d.node
    if node.type == "method_declaration":  # the receiver's type is the parent
        receiver = node.child_by_field_name("receiver")
        param = receiver.named_child(0) if receiver is not None and receiver.named_child_count else None
        d.parent = _type_name(param.child_by_field_name("type")) if param is not None else None
    elif node.type == "type_spec":
        t = node.child_by_field_name("type")
        d.kind = {"struct_type": "struct", "interface_type": "interface"}.get(t.type if t else "", "type")


def _refine_cpp(d: _Def) -> None:
    """`void A::f() {…}` is a method of A."""
    q = d.node.child_by_field_name("declarator") if d.node.type == "function_declarator" else None
    if q is not None and q.type == "qualified_identifier":
        while (inner := q.child_by_field_name("name")) is not None and inner.type == "qualified_identifier":
            q = inner
        d.kind, d.parent = "method", _type_name(q.child_by_field_name("scope"))


def _refine_kotlin(d: _Def) -> None:
    node = d.node
    if node.type == "class_declaration":
        for c in node.children:
            if c.type == "interface":
                d.kind = "interface"
            elif c.type == "modifiers" and b"enum" in (c.text or b"").split():
                d.kind = "enum"
    elif node.type == "property_declaration" and not any(c.type == "val" for c in node.children):
        d.kind = "variable"


def _refine_js(d: _Def) -> None:
    """A function assigned to a member (`res.send = function …`, `Foo.prototype.bar = …`) outside
    any definition belongs to that object: `res.send`, `Foo.bar` (`exports.baz` stays `baz`: the
    object is the module itself)."""
    node = d.node
    if node.type == "assignment_expression" and d.parent is None:
        left = node.child_by_field_name("left")
        obj = left.child_by_field_name("object") if left is not None and left.type == "member_expression" else None
        if obj is not None and obj.text:
            name = obj.text.decode("utf-8", "replace").removesuffix(".prototype")
            if name not in ("this", "exports", "module.exports") and len(name) <= 80 and "\n" not in name:
                d.parent = name


_JS_FAMILY = frozenset(("javascript", "typescript", "tsx"))
_REFINE = {"go": _refine_go, "cpp": _refine_cpp, "kotlin": _refine_kotlin,
           **{name: _refine_js for name in _JS_FAMILY}}


def _type_name(node: Node | None) -> str | None:
    """The plain name of a type in a receiver, impl or scope: `*Cart` → "Cart", `Wrapper<T>` →
    "Wrapper", `fmt::Display` → "Display"."""
    for _ in range(8):
        if node is None:
            return None
        if node.type in ("type_identifier", "identifier", "namespace_identifier", "field_identifier"):
            return (node.text or b"").decode("utf-8", "replace")
        if node.type in ("scoped_type_identifier", "qualified_identifier", "template_type", "scoped_identifier"):
            nxt = node.child_by_field_name("name")
        else:
            nxt = node.child_by_field_name("type")
        node = nxt if nxt is not None else node.named_child(0) if node.named_child_count else None
    return None


def _body(spec: LanguageSpec, d: _Def) -> Node | None:
    """Where a definition's body starts: the grammar's `body`, a function value's body, a Go
    type's `{`, a typedef'd struct's body, a Kotlin class or function body, or a wrapper's body."""
    node = d.node
    body = node.child_by_field_name("body")
    if body is not None:
        return body
    t = node.type
    if t in ("variable_declarator", "pair", "assignment_expression", "field_definition", "public_field_definition"):
        value = node.child_by_field_name("value") or node.child_by_field_name("right")
        return value.child_by_field_name("body") if value is not None else None
    if t == "type_definition":
        value = node.child_by_field_name("type")
        return value.child_by_field_name("body") if value is not None else None
    if t == "type_spec":
        value = node.child_by_field_name("type")
        if value is not None and value.type in ("struct_type", "interface_type") and value.child_count > 1:
            return value.child(1)
        return None
    if spec.name == "kotlin":
        return next((c for c in node.children if c.type in _KOTLIN_BODIES), None)
    for w in sorted(d.wrappers, key=_start_of, reverse=True):  # innermost first
        body = w.child_by_field_name("body")
        if body is not None:
            return body
    return None


def _decl_start(node: Node) -> int:
    """Where a declaration's text starts once leading decorators, attributes and annotations are skipped."""
    for c in node.children:
        t = c.type
        if t in _LEADING:
            continue
        if t == "modifiers":
            first = next((m for m in c.children if m.type not in _LEADING), None)
            if first is None:
                continue
            return first.start_byte
        return c.start_byte
    return node.start_byte


def _header_end(node: Node, body: Node) -> int:
    """Where the text before a body ends, comments between them left out."""
    last = None
    for c in node.children:
        if c == body:
            return last if last is not None else body.start_byte
        if c.type not in _LEADING:
            last = c.end_byte
    return body.start_byte


def _signature(data: bytes, d: _Def, body: Node | None) -> str:
    start = _decl_start(d.outer)
    if body is not None and start <= body.start_byte <= d.end:
        text, limit = data[start:_header_end(d.node, body)], None
    else:
        text, limit = data[start:min(d.end, start + 4000)], SIGNATURE_LINES
    lines = [" ".join(line.split()) for line in text.decode("utf-8", "replace").split("\n")]
    return "\n".join([line for line in lines if line][:limit])


class _Comments:
    """Comments that start their line, by the row they end on (for doc comments), and the rows of
    Rust attributes, which may stand between a doc comment and its item."""

    def __init__(self, src: _Source, caps: dict[str, list[Node]]):
        data = src.data
        self.src = src
        self.by_end: dict[int, Node] = {}
        for c in caps.get("comment", ()):
            line_start = data.rfind(b"\n", 0, c.start_byte) + 1
            if not data[line_start:c.start_byte].strip():
                self.by_end.setdefault(_last_row(c), c)
        self.attrs = {_last_row(a): a.start_point.row for a in caps.get("attr", ())}

    def above(self, start_byte: int, row: int) -> str:
        """The comment block ending right above `row` (or starting that row before `start_byte`)."""
        if not self.by_end:
            return ""
        block: list[Node] = []
        c = self.by_end.get(row)
        if c is not None and c.end_byte <= start_byte:
            block.append(c)
            row = c.start_point.row
        row -= 1
        while row >= 0:
            if row in self.attrs and not block:
                row = self.attrs[row] - 1
                continue
            c = self.by_end.get(row)
            if c is None:
                break
            block.append(c)
            row = c.start_point.row - 1
        return "\n".join(self.src.text(c).replace("\r\n", "\n").rstrip("\r\n") for c in reversed(block))


def _last_row(node: Node) -> int:
    """The row a node's last character is on (a node may end at column 0 after its newline)."""
    (start_row, _), (end_row, end_col) = node.start_point, node.end_point
    return end_row - 1 if end_col == 0 and end_row > start_row else end_row


def _docstring(src: _Source, body: Node | None) -> str:
    """A Python docstring as written: the body's first statement, when it is a plain string."""
    count = body.named_child_count if body is not None else 0
    i = 0
    while i < count and (stmt := body.named_child(i)).type == "comment":
        i += 1
    if i == count or stmt.type != "expression_statement" or stmt.named_child_count != 1:
        return ""
    string = stmt.named_child(0)
    return src.text(string).replace("\r\n", "\n") if string.type == "string" else ""


def _symbol(spec: LanguageSpec, src: _Source, d: _Def, comments: _Comments) -> Symbol:
    body = _body(spec, d)
    start_row = d.outer.start_point.row
    end_node = d.outer if d.outer.end_byte >= d.end else max(d.wrappers, key=_end_of)
    doc = ""
    if spec.name == "python" and body is not None and d.node.type != "assignment":
        doc = _docstring(src, body)
    return Symbol(d.label, d.kind, start_row + 1,
                  max(_last_row(end_node), start_row) + 1,
                  _signature(src.data, d, body),
                  doc or comments.above(d.start, start_row),
                  d.parent,
                  body.start_point.row + 1 if body is not None else None)


# ---------------------------------------------------------------------------------------------
# Imports, per language: (import node, source) → Imports


def _line(node: Node) -> int:
    return node.start_point.row + 1


def _unquote(text: str) -> str:
    return text[1:-1] if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"`" else text


def _python_imports(node: Node, src: _Source) -> Iterator[Import]:
    if node.type == "import_statement":
        for c in node.children_by_field_name("name"):
            target = c.child_by_field_name("name") if c.type == "aliased_import" else c
            yield Import("".join(src.text(target).split()), (), _line(node))
        return
    names = []
    for c in node.children_by_field_name("name"):
        target = c.child_by_field_name("name") if c.type == "aliased_import" else c
        names.append("".join(src.text(target).split()))
    if any(c.type == "wildcard_import" for c in node.named_children):
        names.append("*")
    if node.type == "future_import_statement":
        yield Import("__future__", tuple(names), _line(node), external=True)
    else:
        module = "".join(src.text(node.child_by_field_name("module_name")).split())
        yield Import(module, tuple(names), _line(node))


def _js_string(src: _Source, node: Node | None) -> str | None:
    return _unquote(src.text(node)) if node is not None and node.type == "string" else None


def _js_imports(node: Node, src: _Source) -> Iterator[Import]:
    if node.type == "call_expression":  # require('./m') or import('./m')
        args = node.child_by_field_name("arguments")
        module = _js_string(src, args.named_child(0) if args is not None and args.named_child_count else None)
        if module is None:
            return
        names: tuple[str, ...] = ()
        parent = src.bound.get((node.start_byte, node.end_byte))
        if node.child_by_field_name("function").type == "identifier" and parent is not None:
            target = parent.child_by_field_name("name")
            if target is not None and target.type == "identifier":
                names = ("default", src.text(target))
            elif target is not None and target.type == "object_pattern":
                names = tuple(src.text(p.child_by_field_name("key") if p.type == "pair_pattern" else p)
                              for p in target.named_children
                              if p.type in ("shorthand_property_identifier_pattern", "pair_pattern"))
        yield Import(module, names, _line(node))
        return
    module = _js_string(src, node.child_by_field_name("source"))
    names = []
    for c in node.named_children:
        if c.type == "import_require_clause":  # TypeScript: import x = require('./m')
            module = _js_string(src, c.child_by_field_name("source"))
            names = ["default", *(src.text(x) for x in c.named_children if x.type == "identifier")]
        elif c.type == "import_clause":
            for b in c.named_children:
                if b.type == "identifier":
                    names += ["default", src.text(b)]
                elif b.type == "namespace_import":
                    names.append("*")
                    names += [src.text(x) for x in b.named_children if x.type == "identifier"]
                elif b.type == "named_imports":
                    names += [src.text(s.child_by_field_name("name")) for s in b.named_children
                              if s.type == "import_specifier"]
        elif c.type == "export_clause":
            names += [src.text(s.child_by_field_name("name")) for s in c.named_children
                      if s.type == "export_specifier"]
        elif c.type == "namespace_export":
            names.append("*")
    if node.type == "export_statement" and any(c.type == "*" for c in node.children) \
            and "*" not in names:
        names.append("*")
    if module is not None:
        yield Import(module, tuple(names), _line(node))


def _go_imports(node: Node, src: _Source) -> Iterator[Import]:
    path = node.child_by_field_name("path")
    if path is not None:
        yield Import(_unquote(src.text(path)), (), _line(node))


def _rust_path(src: _Source, node: Node) -> list[str]:
    """`a::b::c` (a scoped_identifier, identifier, crate, self or super) as segments."""
    segs: list[str] = []
    while node is not None and node.type == "scoped_identifier":
        segs.append(src.text(node.child_by_field_name("name")))
        node = node.child_by_field_name("path")
    if node is not None:
        segs.append(src.text(node))
    return segs[::-1]


def _rust_imports(node: Node, src: _Source) -> Iterator[Import]:
    line = _line(node)
    if node.type == "mod_item":
        yield Import("mod:" + src.text(node.child_by_field_name("name")), (), line)
        return
    if node.type == "extern_crate_declaration":
        yield Import(src.text(node.child_by_field_name("name")), (), line)
        return
    leaves: list[list[str]] = []
    todo = [([], node.child_by_field_name("argument"))]
    while todo:  # a use tree, expanded without recursion
        prefix, t = todo.pop()
        if t is None:
            continue
        if t.type == "use_as_clause":
            leaves.append(prefix + _rust_path(src, t.child_by_field_name("path")))
        elif t.type == "use_wildcard":
            inner = t.named_child(0) if t.named_child_count else None
            leaves.append(prefix + (_rust_path(src, inner) if inner is not None else []) + ["*"])
        elif t.type == "scoped_use_list":
            path = t.child_by_field_name("path")
            todo.append((prefix + (_rust_path(src, path) if path is not None else []),
                         t.child_by_field_name("list")))
        elif t.type == "use_list":
            todo.extend((prefix, c) for c in reversed(t.named_children))
        else:
            leaves.append(prefix + _rust_path(src, t))
    modules = ["::".join(segs[:-1] if len(segs) > 1 and segs[-1] == "self" else segs) for segs in leaves]
    for module in dict.fromkeys(m for m in modules if m):
        yield Import(module, (), line)


def _dotted_imports(node: Node, src: _Source) -> Iterator[Import]:
    """Java and Kotlin: the imported name, `.*` kept; `static` and aliases dropped."""
    path = next((c for c in node.named_children
                 if c.type in ("scoped_identifier", "identifier", "qualified_identifier")), None)
    if path is None:
        return
    module = "".join(src.text(path).split())
    if any(c.type in ("asterisk", "*") for c in node.children):
        module += ".*"
    yield Import(module, (), _line(node))


def _c_imports(node: Node, src: _Source) -> Iterator[Import]:
    path = node.child_by_field_name("path")
    if path is None:
        return
    text = src.text(path).strip()
    if path.type == "system_lib_string":
        yield Import(text.strip("<>"), (), _line(node), external=True)
    elif path.type == "string_literal":
        yield Import(_unquote(text), (), _line(node))


def _ruby_imports(node: Node, src: _Source) -> Iterator[Import]:
    args = node.child_by_field_name("arguments")
    arg = args.named_child(0) if args is not None and args.named_child_count else None
    if arg is None or arg.type != "string" or any(c.type == "interpolation" for c in arg.named_children):
        return
    module = _unquote(src.text(arg))
    if src.text(node.child_by_field_name("method")) == "require_relative" and not module.startswith("."):
        module = "./" + module
    yield Import(module, (), _line(node))


def _php_imports(node: Node, src: _Source) -> Iterator[Import]:
    line = _line(node)
    if node.type != "namespace_use_declaration":  # require / include
        arg = node.named_child(0) if node.named_child_count else None
        if arg is not None and arg.type in ("string", "encapsed_string"):
            yield Import(_unquote(src.text(arg)), (), line)
        elif arg is not None and arg.type == "binary_expression":
            left, right = arg.child_by_field_name("left"), arg.child_by_field_name("right")
            if src.text(left) in ("__DIR__", "dirname(__FILE__)") and right is not None \
                    and right.type in ("string", "encapsed_string"):
                yield Import("./" + _unquote(src.text(right)).lstrip("/"), (), line)
        return
    prefix = ""
    for c in node.named_children:
        if c.type == "namespace_name":
            prefix = src.text(c) + "\\"
        elif c.type == "namespace_use_clause":
            target = next((x for x in c.named_children if x.type in ("qualified_name", "name")), None)
            if target is not None:
                yield Import(src.text(target).lstrip("\\"), (), line)
        elif c.type == "namespace_use_group":
            for clause in c.named_children:
                target = next((x for x in clause.named_children if x.type in ("qualified_name", "name")), None)
                if target is not None:
                    yield Import(prefix + src.text(target), (), line)


def _csharp_imports(node: Node, src: _Source) -> Iterator[Import]:
    alias = node.child_by_field_name("name")
    target = next((c for c in node.named_children
                   if c != alias and c.type in ("qualified_name", "identifier", "alias_qualified_name")), None)
    if target is not None:
        yield Import("".join(src.text(target).split()), (), _line(node))


_IMPORT_READERS = {
    "python": _python_imports, "javascript": _js_imports, "typescript": _js_imports, "tsx": _js_imports,
    "go": _go_imports, "rust": _rust_imports, "java": _dotted_imports, "kotlin": _dotted_imports,
    "c": _c_imports, "cpp": _c_imports, "ruby": _ruby_imports, "php": _php_imports,
    "csharp": _csharp_imports,
}
