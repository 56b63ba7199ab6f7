"""The language registry: which grammar reads a file, how each language writes a comment, and the
per-language tree-sitter data the parser runs (grammar, compiled query, node types).

    language_for_path("src/app.tsx")     # "tsx"; None for files without a grammar
    get_parser("python"), get_query("python")   # loaded on first use, then cached
    comment_prefix("notes.sql")          # "--";  comment_prefix("page.html") -> ("<!--", "-->")

Grammars and queries load lazily and are cached per process, so a worker process of a
ProcessPoolExecutor pays for the languages it meets, once.

The query of a language is one tree-sitter query run once per file (one walk of the tree, in C). It
is the grammar's shipped tags query (only its `@definition.*` patterns stay enabled), then the
language's own patterns (`LanguageSpec.query`: definitions the tags query misses, and the nodes
below), then one pattern capturing every identifier-like node type (`LanguageSpec.refs`). Captures:

    @definition.<kind> + @name  a definition and its name (the tags-query convention)
    @scope      a block that gives the definitions inside it a parent without being a symbol (Rust `impl`)
    @wrap       a node around a definition that belongs to it (decorators, `export`, `template<…>`)
    @wrap.declarator  a C/C++ declaration that is such a wrapper when a node in its `declarator`
                field is of a type in `LanguageSpec.declarator_wrappers` (a function declarator)
    @attr       a node between a doc comment and its definition (Rust `#[…]`)
    @comment    comments, for doc comments above definitions
    @import     import statements, read by the parser's per-language import reader
    @import.bound  JS/TS: a `variable_declarator` whose value is a `require('…')` call (the names it binds)
    @local      Python, JS/TS: a name a parameter or a declaration binds in its function (parse._uses)
    @local.scope  Python, JS/TS: an anonymous function (a lambda, a callback), a scope of its own for @local
    @ref        identifier uses

Depth costs what size costs. A pattern rooted at a node whose sought child comes after a child that
may hold a deep subtree (`(field_declaration declarator: …)` after a nested struct type,
`(lexical_declaration (variable_declarator …))` around nested arrow functions) keeps one pending
match per enclosing node while the cursor walks that subtree, so nesting n deep costs n² in C
(10,000 nested C structs took 36 s, nested JS arrow functions 83 s). Such patterns are written as
single nodes, their children checked in Python (`@wrap.declarator`), or from the inner node; the
shipped tags patterns of that shape are disabled (`LanguageSpec.replaces`) where our own patterns
capture the same definitions. (The parser never asks a node for its parent: tree-sitter finds a
parent by walking down from the root, which also costs the depth.)
"""
from __future__ import annotations

import importlib
import posixpath
import re
import threading
from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # tree-sitter loads with the first grammar: a warm index needs none
    from tree_sitter import Language, Parser, Query


@dataclass(frozen=True)
class LanguageSpec:
    """Everything the parser needs to know about one language."""
    name: str
    grammar: tuple[str, str]          # (python module, function returning the language pointer)
    extensions: tuple[str, ...]
    comment: str                      # line comment prefix
    refs: tuple[str, ...]             # node types that are identifier uses
    tags: tuple[str, ...] = ()        # modules whose shipped TAGS_QUERY is used, in order
    query: str = ""                   # this language's own patterns (see the module docstring)
    kinds: dict[str, str] = field(default_factory=dict)  # definition node type -> kind (wins over the capture's)
    filenames: tuple[str, ...] = ()   # well-known file names without a telling extension
    loose_wrappers: frozenset[str] = frozenset()  # wrapper types whose definition need not end it
    # For @wrap.declarator: declarator types that make a declaration wrap what it declares.
    declarator_wrappers: frozenset[str] = frozenset()
    # Shipped tags patterns (regexes over their text) disabled because `query` captures the same
    # definitions without costing n² on deep nesting.
    replaces: tuple[str, ...] = ()


_COMMENTS = "(comment) @comment\n"

_PYTHON = _COMMENTS + """
(decorated_definition) @wrap
(parameters (identifier) @local)
(lambda) @local.scope
(default_parameter name: (identifier) @local)
(typed_parameter (identifier) @local)
(typed_default_parameter name: (identifier) @local)
(lambda_parameters (identifier) @local)
(list_splat_pattern (identifier) @local)
(dictionary_splat_pattern (identifier) @local)
(type_alias_statement left: (type (identifier) @name)) @definition.type
(import_statement) @import
(import_from_statement) @import
(future_import_statement) @import
"""

_JS_COMMON = _COMMENTS + """
(export_statement declaration: (_)) @wrap
(arrow_function parameter: (identifier) @local)
[(arrow_function) (function_expression)] @local.scope
(variable_declarator name: (identifier) @local)
(variable_declarator name: (identifier) @name value: [(arrow_function) (function_expression)]) @definition.function
[(lexical_declaration) (variable_declaration)] @wrap
(program (lexical_declaration (variable_declarator name: (identifier) @name) @definition.constant))
(program (variable_declaration (variable_declarator name: (identifier) @name) @definition.constant))
(program (export_statement declaration: (lexical_declaration
  (variable_declarator name: (identifier) @name) @definition.constant)))
(import_statement) @import
(export_statement source: (_)) @import
((call_expression function: (identifier) @_f arguments: (arguments . (string))) @import
  (#eq? @_f "require"))
((variable_declarator value: (call_expression function: (identifier) @_g arguments: (arguments . (string))))
  @import.bound (#eq? @_g "require"))
(call_expression function: (import) arguments: (arguments . (string))) @import
"""

_JS = _JS_COMMON + """
(formal_parameters (identifier) @local)
(formal_parameters (assignment_pattern left: (identifier) @local))
(field_definition property: (property_identifier) @name
  value: [(arrow_function) (function_expression)]) @definition.method
"""

_TS = _JS_COMMON + """
(public_field_definition name: (property_identifier) @name
  value: [(arrow_function) (function_expression)]) @definition.method
(type_alias_declaration name: (type_identifier) @name) @definition.type
(enum_declaration name: (identifier) @name) @definition.enum
(internal_module name: (identifier) @name) @definition.module
(ambient_declaration) @wrap
(required_parameter pattern: (identifier) @local)
(optional_parameter pattern: (identifier) @local)
"""

_GO = _COMMENTS + """
(type_alias name: (type_identifier) @name) @definition.type
(method_elem name: (field_identifier) @name) @definition.method
(source_file (const_declaration (const_spec name: (identifier) @name) @definition.constant))
(source_file (var_declaration (var_spec name: (identifier) @name) @definition.variable))
(source_file (var_declaration (var_spec_list (var_spec name: (identifier) @name) @definition.variable)))
(type_declaration) @wrap
(const_declaration) @wrap
(var_declaration) @wrap
(import_spec) @import
"""

_RUST = """
(line_comment) @comment
(block_comment) @comment
(function_signature_item name: (identifier) @name) @definition.method
(const_item name: (identifier) @name) @definition.constant
(static_item name: (identifier) @name) @definition.constant
(impl_item) @scope
(attribute_item) @attr
(use_declaration) @import
(mod_item !body) @import
(extern_crate_declaration) @import
"""

_JAVA = """
(line_comment) @comment
(block_comment) @comment
(enum_declaration name: (identifier) @name) @definition.enum
(record_declaration name: (identifier) @name) @definition.record
(annotation_type_declaration name: (identifier) @name) @definition.interface
(import_declaration) @import
"""

_C = _COMMENTS + """
(union_specifier name: (type_identifier) @name body: (_)) @definition.union
(type_definition declarator: (pointer_declarator declarator: (type_identifier) @name)) @definition.type
(type_definition declarator: (function_declarator
  declarator: (parenthesized_declarator (pointer_declarator declarator: (type_identifier) @name)))) @definition.type
(preproc_def name: (identifier) @name) @definition.macro
(preproc_function_def name: (identifier) @name) @definition.macro
(function_definition) @wrap
[(declaration) (field_declaration)] @wrap.declarator
(preproc_include) @import
"""

_CPP = _C + """
(namespace_definition name: (namespace_identifier) @name) @definition.namespace
(alias_declaration name: (type_identifier) @name) @definition.type
(function_declarator declarator: (qualified_identifier name: (identifier) @name)) @definition.method
(template_declaration) @wrap
"""

_RUBY = _COMMENTS + """
(assignment left: (constant) @name) @definition.constant
((call !receiver method: (identifier) @_m arguments: (argument_list . (string))) @import
  (#any-of? @_m "require" "require_relative" "load"))
"""

_PHP = _COMMENTS + """
(enum_declaration name: (name) @name) @definition.enum
(const_declaration (const_element (name) @name)) @definition.constant
(namespace_use_declaration) @import
(require_expression) @import
(require_once_expression) @import
(include_expression) @import
(include_once_expression) @import
"""

_CSHARP = _COMMENTS + """
(class_declaration name: (identifier) @name) @definition.class
(struct_declaration name: (identifier) @name) @definition.struct
(interface_declaration name: (identifier) @name) @definition.interface
(enum_declaration name: (identifier) @name) @definition.enum
(record_declaration name: (identifier) @name) @definition.record
(method_declaration name: (identifier) @name) @definition.method
(local_function_statement name: (identifier) @name) @definition.function
(property_declaration name: (identifier) @name) @definition.property
(delegate_declaration name: (identifier) @name) @definition.type
(namespace_declaration name: (_) @name) @definition.namespace
(file_scoped_namespace_declaration name: (_) @name) @definition.namespace
(using_directive) @import
"""

_KOTLIN = """
(line_comment) @comment
(block_comment) @comment
(class_declaration name: (identifier) @name) @definition.class
(object_declaration name: (identifier) @name) @definition.object
(function_declaration name: (identifier) @name) @definition.function
(type_alias type: (identifier) @name) @definition.type
(source_file (property_declaration (variable_declaration (identifier) @name)) @definition.constant)
(import) @import
"""

_C_KINDS = {"struct_specifier": "struct", "union_specifier": "union", "enum_specifier": "enum",
            "type_definition": "type", "function_declarator": "function", "preproc_def": "macro",
            "preproc_function_def": "macro"}
#: JS/TS: the shipped tags patterns for `const f = () => …` are replaced by the `variable_declarator`
#: pattern of _JS_COMMON.
_JS_REPLACES = (r"\(\s*lexical_declaration\s*\(\s*variable_declarator",
                r"\(\s*variable_declaration\s*\(\s*variable_declarator")

_JS_KINDS = {"class": "class", "class_declaration": "class", "method_definition": "method",
             "abstract_class_declaration": "class", "interface_declaration": "interface",
             "method_signature": "method", "abstract_method_signature": "method",
             "function_signature": "function", "module": "module", "internal_module": "module"}

LANGUAGES: dict[str, LanguageSpec] = {s.name: s for s in (
    LanguageSpec("python", ("tree_sitter_python", "language"), (".py", ".pyi", ".pyw"), "#",
                 ("identifier",), ("tree_sitter_python",), _PYTHON,
                 {"function_definition": "function", "class_definition": "class", "assignment": "constant"},
                 ("SConstruct", "SConscript")),
    LanguageSpec("javascript", ("tree_sitter_javascript", "language"), (".js", ".jsx", ".mjs", ".cjs"), "//",
                 ("identifier", "property_identifier", "shorthand_property_identifier",
                  "private_property_identifier"), ("tree_sitter_javascript",), _JS, _JS_KINDS,
                 replaces=_JS_REPLACES),
    LanguageSpec("typescript", ("tree_sitter_typescript", "language_typescript"), (".ts", ".mts", ".cts"), "//",
                 ("identifier", "property_identifier", "shorthand_property_identifier",
                  "private_property_identifier", "type_identifier"),
                 ("tree_sitter_javascript", "tree_sitter_typescript"), _TS, _JS_KINDS,
                 replaces=_JS_REPLACES),
    LanguageSpec("tsx", ("tree_sitter_typescript", "language_tsx"), (".tsx",), "//",
                 ("identifier", "property_identifier", "shorthand_property_identifier",
                  "private_property_identifier", "type_identifier"),
                 ("tree_sitter_javascript", "tree_sitter_typescript"), _TS, _JS_KINDS,
                 replaces=_JS_REPLACES),
    LanguageSpec("go", ("tree_sitter_go", "language"), (".go",), "//",
                 ("identifier", "field_identifier", "type_identifier", "package_identifier"),
                 ("tree_sitter_go",), _GO,
                 {"function_declaration": "function", "method_declaration": "method", "type_spec": "type",
                  "type_alias": "type", "const_spec": "constant", "var_spec": "variable", "method_elem": "method"}),
    LanguageSpec("rust", ("tree_sitter_rust", "language"), (".rs",), "//",
                 ("identifier", "field_identifier", "type_identifier"), ("tree_sitter_rust",), _RUST,
                 {"struct_item": "struct", "enum_item": "enum", "union_item": "union", "type_item": "type",
                  "function_item": "function", "function_signature_item": "function", "trait_item": "trait",
                  "mod_item": "module", "macro_definition": "macro", "const_item": "constant",
                  "static_item": "constant"},
                 # `(declaration_list (function_item …))` adds nothing: kinds make every function_item
                 # a "function", and nesting decides method (parse._set_parents).
                 replaces=(r"\(\s*declaration_list\s*\(\s*function_item",)),
    LanguageSpec("java", ("tree_sitter_java", "language"), (".java",), "//",
                 ("identifier", "type_identifier"), ("tree_sitter_java",), _JAVA,
                 {"class_declaration": "class", "interface_declaration": "interface", "method_declaration": "method",
                  "enum_declaration": "enum", "record_declaration": "record",
                  "annotation_type_declaration": "interface"}),
    LanguageSpec("c", ("tree_sitter_c", "language"), (".c", ".h"), "//",
                 ("identifier", "field_identifier", "type_identifier"), ("tree_sitter_c",), _C, _C_KINDS,
                 loose_wrappers=frozenset(("function_definition", "declaration", "field_declaration")),
                 declarator_wrappers=frozenset(("function_declarator", "pointer_declarator"))),
    LanguageSpec("cpp", ("tree_sitter_cpp", "language"),
                 (".cc", ".cpp", ".cxx", ".c++", ".hpp", ".hh", ".hxx", ".h++", ".ipp", ".inl", ".tpp",
                  ".cu", ".cuh"), "//",
                 ("identifier", "field_identifier", "type_identifier", "namespace_identifier"),
                 ("tree_sitter_cpp",), _CPP,
                 {**_C_KINDS, "class_specifier": "class", "namespace_definition": "namespace",
                  "alias_declaration": "type"},
                 loose_wrappers=frozenset(("function_definition", "declaration", "field_declaration",
                                           "template_declaration")),
                 declarator_wrappers=frozenset(("function_declarator", "pointer_declarator",
                                                "reference_declarator"))),
    LanguageSpec("ruby", ("tree_sitter_ruby", "language"), (".rb", ".rake", ".gemspec", ".ru"), "#",
                 ("identifier", "constant"), ("tree_sitter_ruby",), _RUBY,
                 {"method": "function", "singleton_method": "method", "alias": "method", "class": "class",
                  "singleton_class": "class", "module": "module", "assignment": "constant"},
                 ("Rakefile", "Gemfile", "Guardfile", "Vagrantfile", "Capfile", "Podfile", "Brewfile")),
    LanguageSpec("php", ("tree_sitter_php", "language_php"), (".php", ".phtml"), "//",
                 ("name",), ("tree_sitter_php",), _PHP,
                 {"namespace_definition": "namespace", "interface_declaration": "interface",
                  "trait_declaration": "trait", "class_declaration": "class", "function_definition": "function",
                  "method_declaration": "method", "property_declaration": "field", "enum_declaration": "enum",
                  "const_declaration": "constant"}),
    LanguageSpec("csharp", ("tree_sitter_c_sharp", "language"), (".cs", ".csx"), "//",
                 ("identifier",), (), _CSHARP),
    LanguageSpec("kotlin", ("tree_sitter_kotlin", "language"), (".kt", ".kts"), "//",
                 ("identifier",), (), _KOTLIN),
)}

EXTENSIONS: dict[str, str] = {ext: s.name for s in LANGUAGES.values() for ext in s.extensions}
FILENAMES: dict[str, str] = {fn: s.name for s in LANGUAGES.values() for fn in s.filenames}

#: Line comment prefix of each language with a grammar.
COMMENT_SYNTAX: dict[str, str] = {s.name: s.comment for s in LANGUAGES.values()}

#: Comment syntax of common files without a grammar: a line prefix, a (start, end) pair, or None
#: where the format has no comments (Markdown, JSON, plain text).
PLAIN_COMMENTS: dict[str, str | tuple[str, str] | None] = {
    **dict.fromkeys((".sh", ".bash", ".zsh", ".fish", ".ksh", ".yaml", ".yml", ".toml", ".cfg", ".conf",
                     ".properties", ".env", ".r", ".pl", ".pm", ".ps1", ".psm1", ".tf", ".tfvars", ".hcl",
                     ".nix", ".cmake", ".mk", ".make", ".dockerfile", ".graphql", ".gql", ".ex", ".exs",
                     ".jl", ".cr", ".nim", ".coffee", ".awk", ".tcl", ".gitignore", ".dockerignore",
                     ".editorconfig", ".gitattributes", ".bzl", ".star", ".gn", ".gni", ".pyx", ".pxd"), "#"),
    **dict.fromkeys((".swift", ".scala", ".sc", ".dart", ".m", ".mm", ".zig", ".proto", ".gradle", ".groovy",
                     ".sol", ".v", ".sv", ".svh", ".scss", ".less", ".jsonc", ".json5", ".hx", ".d", ".fs",
                     ".fsx", ".glsl", ".hlsl", ".wgsl", ".vala", ".odin", ".cjsx"), "//"),
    **dict.fromkeys((".sql", ".lua", ".hs", ".elm", ".ada", ".adb", ".ads", ".vhd", ".vhdl", ".purs"), "--"),
    **dict.fromkeys((".ini", ".asm", ".s", ".clj", ".cljs", ".edn", ".lisp", ".el", ".scm", ".rkt"), ";"),
    **dict.fromkeys((".tex", ".sty", ".cls", ".erl", ".hrl", ".m4", ".mat"), "%"),
    **dict.fromkeys((".html", ".htm", ".xhtml", ".xml", ".svg", ".vue", ".svelte", ".xsd", ".xsl", ".plist",
                     ".csproj", ".vbproj", ".props", ".targets", ".resx", ".xaml"), ("<!--", "-->")),
    **dict.fromkeys((".css",), ("/*", "*/")),
    **dict.fromkeys((".ml", ".mli"), ("(*", "*)")),
    ".vim": '"', ".bat": "REM", ".cmd": "REM", ".f90": "!", ".f95": "!", ".f03": "!",
    **dict.fromkeys((".md", ".markdown", ".rst", ".txt", ".json", ".csv", ".tsv", ".lock", ".ipynb"), None),
}
PLAIN_FILENAMES: dict[str, str] = dict.fromkeys(
    ("Makefile", "GNUmakefile", "makefile", "Dockerfile", "Containerfile", "CMakeLists.txt", "Jenkinsfile",
     "Procfile", "BUILD", "WORKSPACE", "Justfile", "justfile", ".bashrc", ".zshrc", ".profile"), "#")


#: The Markdown fence info string of files without a grammar, by extension or file name (a grammar's
#: files are fenced with its name: python, go, tsx, ...); anything else is fenced as `text`.
FENCE_NAMES: dict[str, str] = {
    **dict.fromkeys((".json", ".jsonc", ".json5", ".ipynb"), "json"), ".yaml": "yaml", ".yml": "yaml",
    ".toml": "toml", ".ini": "ini", ".cfg": "ini", ".conf": "ini", ".properties": "properties",
    ".md": "markdown", ".markdown": "markdown", ".rst": "rst", ".txt": "text", ".csv": "csv", ".tsv": "tsv",
    ".xml": "xml", ".svg": "xml", ".xsd": "xml", ".xsl": "xml", ".plist": "xml", ".csproj": "xml",
    ".html": "html", ".htm": "html", ".xhtml": "html", ".vue": "vue", ".svelte": "svelte",
    ".css": "css", ".scss": "scss", ".less": "less", ".sql": "sql", ".graphql": "graphql", ".gql": "graphql",
    ".sh": "bash", ".bash": "bash", ".zsh": "zsh", ".fish": "fish", ".ps1": "powershell", ".psm1": "powershell",
    ".bat": "batch", ".cmd": "batch", ".lua": "lua", ".swift": "swift", ".scala": "scala", ".sc": "scala",
    ".dart": "dart", ".m": "objectivec", ".mm": "objectivec", ".zig": "zig", ".proto": "protobuf",
    ".gradle": "groovy", ".groovy": "groovy", ".sol": "solidity", ".hs": "haskell", ".elm": "elm",
    ".ex": "elixir", ".exs": "elixir", ".erl": "erlang", ".hrl": "erlang", ".clj": "clojure", ".cljs": "clojure",
    ".edn": "clojure", ".el": "elisp", ".lisp": "lisp", ".scm": "scheme", ".rkt": "racket", ".r": "r",
    ".pl": "perl", ".pm": "perl", ".jl": "julia", ".nim": "nim", ".cr": "crystal", ".coffee": "coffeescript",
    ".tf": "hcl", ".tfvars": "hcl", ".hcl": "hcl", ".nix": "nix", ".cmake": "cmake", ".mk": "makefile",
    ".make": "makefile", ".dockerfile": "dockerfile", ".tex": "latex", ".sty": "latex", ".ml": "ocaml",
    ".mli": "ocaml", ".fs": "fsharp", ".fsx": "fsharp", ".vim": "vim", ".diff": "diff", ".patch": "diff",
    ".glsl": "glsl", ".hlsl": "hlsl", ".wgsl": "wgsl", ".bzl": "starlark", ".star": "starlark",
    ".f90": "fortran", ".f95": "fortran", ".f03": "fortran", ".asm": "asm", ".s": "asm", ".v": "verilog",
    ".sv": "systemverilog", ".vhd": "vhdl", ".vhdl": "vhdl", ".awk": "awk", ".tcl": "tcl",
    "Makefile": "makefile", "GNUmakefile": "makefile", "makefile": "makefile", "Dockerfile": "dockerfile",
    "Containerfile": "dockerfile", "CMakeLists.txt": "cmake", "Jenkinsfile": "groovy", "BUILD": "starlark",
    "WORKSPACE": "starlark", ".bashrc": "bash", ".zshrc": "zsh", ".profile": "bash",
}


def fence_language(path: str, language: str | None = None) -> str:
    """The info string a Markdown fence of this file carries: its grammar's name, else what its
    extension or name says (json, yaml, toml, ...), else `text`."""
    if language:
        return language
    base = posixpath.basename(path)
    return FENCE_NAMES.get(base) or FENCE_NAMES.get(posixpath.splitext(base)[1].lower(), "text")


def language_for_path(path: str) -> str | None:
    """The grammar for a repository path by its extension or well-known file name; None if none."""
    base = path.rpartition("/")[2]
    if base in FILENAMES:
        return FILENAMES[base]
    dot = base.rfind(".")  # the extension as posixpath.splitext finds it (leading dots are none)
    return EXTENSIONS.get(base[dot:].lower()) if dot > 0 and base[:dot].strip(".") else None


#: Lines that only C++ has, at the start of a line: namespaces, templates, classes with a body or a
#: base list, access specifiers, `using namespace`.
_CPP_HEADER = re.compile(
    rb"^[ \t]*(?:namespace\s+[\w:]*\s*\{|template\s*<|class\s+\w+[^;(]*[{:]\s*$|(?:public|private|protected)\s*:"
    rb"|using\s+namespace\s)", re.M)


def language_for_file(path: str, data: bytes) -> str | None:
    """`language_for_path`, except that a `.h` header written in C++ is read as C++."""
    language = language_for_path(path)
    if language == "c" and path.lower().endswith(".h") and _CPP_HEADER.search(data):
        return "cpp"
    return language


def comment_prefix(path_or_language: str) -> str | tuple[str, str] | None:
    """How a line comment starts in a language (e.g. "python") or a file (e.g. "db/schema.sql"):
    a prefix such as "#" or "--", a (start, end) pair such as ("<!--", "-->"), or None when the
    format has no comments."""
    if path_or_language in COMMENT_SYNTAX:
        return COMMENT_SYNTAX[path_or_language]
    language = language_for_path(path_or_language)
    if language:
        return COMMENT_SYNTAX[language]
    base = posixpath.basename(path_or_language)
    if base in PLAIN_FILENAMES:
        return PLAIN_FILENAMES[base]
    ext = posixpath.splitext(base)[1].lower() or (base.lower() if base.startswith(".") else "")
    return PLAIN_COMMENTS.get(ext)


# ---------------------------------------------------------------------------------------------
# Grammars and queries, loaded on first use


@lru_cache(maxsize=None)
def get_language(name: str) -> Language:
    """The grammar of a language in LANGUAGES, loaded from its wheel on first use."""
    from tree_sitter import Language
    module, function = LANGUAGES[name].grammar
    return Language(getattr(importlib.import_module(module), function)())


_THREAD = threading.local()


def get_parser(name: str) -> Parser:
    """A parser for the language, one per process and thread (a tree-sitter parser is not thread-safe)."""
    parsers = getattr(_THREAD, "parsers", None)
    if parsers is None:
        parsers = _THREAD.parsers = {}
    parser = parsers.get(name)
    if parser is None:
        from tree_sitter import Parser
        parser = parsers[name] = Parser(get_language(name))
    return parser


def query_source(name: str) -> tuple[str, int]:
    """The full query text of a language, and where its shipped tags part ends."""
    spec = LANGUAGES[name]
    shipped = "".join((getattr(importlib.import_module(m), "TAGS_QUERY", None) or "") + "\n" for m in spec.tags)
    refs = "[" + " ".join(f"({t})" for t in spec.refs) + "] @ref\n"
    return shipped + spec.query + refs, len(shipped.encode())


@lru_cache(maxsize=None)
def get_query(name: str) -> Query:
    """The compiled query of a language; the shipped tags patterns without a definition are
    disabled (the parser takes references from the `@ref` pattern instead), and so are those the
    language's own patterns replace (`LanguageSpec.replaces`)."""
    from tree_sitter import Query
    source, shipped_end = query_source(name)
    query = Query(get_language(name), source)
    raw = source.encode()
    replaced = [re.compile(r.encode()) for r in LANGUAGES[name].replaces]
    for i in range(query.pattern_count):
        start = query.start_byte_for_pattern(i)
        text = raw[start:query.end_byte_for_pattern(i)]
        if start < shipped_end and (b"@definition." not in text or any(r.search(text) for r in replaced)):
            query.disable_pattern(i)
    return query
