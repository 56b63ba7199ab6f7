"""The graph stage alone: fixture repositories written to tmp_path, with FileFacts made by hand to match
the files (the parser is not called), checked edge by edge."""
from __future__ import annotations

from pathlib import Path

import pytest

from repoctx.graph.link import RepoGraph, build_graph, module_id
from repoctx.graph.imports import resolve_imports
from repoctx.model import FileFacts, Import, Reference, Symbol


def S(name: str, start: int, end: int, parent: str | None = None, kind: str = "function") -> Symbol:
    return Symbol(name, kind, start, end, signature=name, parent=parent)


def I(module: str, *names: str, line: int = 1, external: bool = False) -> Import:
    return Import(module, tuple(names), line, external)


def F(language: str | None, text: str, symbols=(), refs=(), imports=()) -> tuple[str, FileFacts]:
    """A file's text and the facts a parser would give for it (refs as (name, line) or, for a
    member, (name, line, receiver))."""
    facts = FileFacts(language, text.count("\n") + 1, list(symbols),
                      [Reference(*r) for r in refs], list(imports))
    return text, facts


def build(root: Path, files: dict[str, tuple[str, FileFacts]], configs: dict[str, str] | None = None) -> RepoGraph:
    """Write the files and configuration files under `root`, then build the graph from the facts."""
    texts = {rel: text for rel, (text, _) in files.items()} | (configs or {})
    for rel, text in texts.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text, encoding="utf-8")
    return build_graph(str(root), {rel: facts for rel, (_, facts) in files.items()})


def edges_from(g: RepoGraph, source: str) -> list[tuple[str, str]]:
    return [e for e in g.imports if e[0] == source]


# --- import resolution per language -------------------------------------------------------------


def test_python_absolute_relative_package_and_src_layout(tmp_path):
    g = build(tmp_path, {
        "src/shop/__init__.py": F("python", "from .cart import Cart\n", imports=[I(".cart", "Cart")]),
        "src/shop/cart.py": F("python", "import os\nimport shop.pricing\nfrom .models import Item\n"
                                        "from . import tax\nfrom shop.models import base\nimport requests\n"
                                        "from shop import VERSION\n",
                              imports=[I("os", line=1), I("shop.pricing", line=2), I(".models", "Item", line=3),
                                       I(".", "tax", line=4), I("shop.models", "base", line=5),
                                       I("requests", line=6), I("shop", "VERSION", line=7)]),
        "src/shop/pricing.py": F("python", "from .models.base import Base\n", imports=[I(".models.base", "Base")]),
        "src/shop/tax.py": F("python", "RATE = 0.2\n"),
        "src/shop/models/__init__.py": F("python", "class Item: ...\n"),
        "src/shop/models/base.py": F("python", "from ..tax import RATE\nclass Base: ...\n",
                                     imports=[I("..tax", "RATE")]),
        "tests/helpers.py": F("python", "def make(): ...\n"),
        "tests/test_cart.py": F("python", "from shop.cart import Cart\nimport helpers\nimport shop.nope\n",
                                imports=[I("shop.cart", "Cart", line=1), I("helpers", line=2),
                                         I("shop.nope", line=3)]),
    })
    assert g.imports == [
        ("src/shop/__init__.py", "src/shop/cart.py"),
        ("src/shop/cart.py", "src/shop/__init__.py"),          # from shop import VERSION
        ("src/shop/cart.py", "src/shop/models/__init__.py"),   # from .models import Item
        ("src/shop/cart.py", "src/shop/models/base.py"),       # from shop.models import base (a module)
        ("src/shop/cart.py", "src/shop/pricing.py"),           # import shop.pricing (src/ is a root)
        ("src/shop/cart.py", "src/shop/tax.py"),               # from . import tax
        ("src/shop/models/base.py", "src/shop/tax.py"),        # from ..tax import RATE
        ("src/shop/pricing.py", "src/shop/models/base.py"),
        ("tests/test_cart.py", "src/shop/cart.py"),
        ("tests/test_cart.py", "tests/helpers.py"),            # a script's own folder
    ]
    assert g.external_imports == [("src/shop/cart.py", "os"), ("src/shop/cart.py", "requests"),
                                  ("tests/test_cart.py", "shop.nope")]


def test_python_prefers_the_importers_own_project_in_a_monorepo(tmp_path):
    g = build(tmp_path, {
        "a/src/common/__init__.py": F("python", ""),
        "a/src/common/log.py": F("python", ""),
        "a/src/app/__init__.py": F("python", ""),
        "a/src/app/main.py": F("python", "import common.log\n", imports=[I("common.log")]),
        "b/src/common/__init__.py": F("python", ""),
        "b/src/common/log.py": F("python", ""),
        "b/src/app/__init__.py": F("python", ""),
        "b/src/app/main.py": F("python", "import common.log\n", imports=[I("common.log")]),
    })
    assert g.imports == [("a/src/app/main.py", "a/src/common/log.py"), ("b/src/app/main.py", "b/src/common/log.py")]


def test_python_namespace_packages_but_not_stray_modules(tmp_path):
    g = build(tmp_path, {
        "libs/ns/tool/run.py": F("python", ""),        # PEP 420: no __init__.py anywhere
        "scripts/logging.py": F("python", ""),         # a script folder's module, not an import root
        "app/__init__.py": F("python", ""),
        "app/main.py": F("python", "import ns.tool.run\nimport logging\n",
                         imports=[I("ns.tool.run", line=1), I("logging", line=2)]),
    })
    assert g.imports == [("app/main.py", "libs/ns/tool/run.py")]
    assert g.external_imports == [("app/main.py", "logging")]


TSCONFIG = """{
  // comments, trailing commas: tsconfig's own dialect
  "compilerOptions": {
    "baseUrl": ".",
    /* the aliases */
    "paths": { "@/*": ["src/*"], "@lib": ["src/lib/index.ts"], },
  },
}
"""


def test_js_ts_extensions_index_and_tsconfig_paths(tmp_path):
    g = build(tmp_path, {
        "src/app.ts": F("typescript", "...", imports=[
            I("./util"), I("./components"), I("./legacy.js"), I("@/lib/math"), I("@lib"), I("react"),
            I("./missing"), I("../types"), I("src/config"), I("./data.json")]),
        "src/util.ts": F("typescript", "export const u = 1\n"),
        "src/components/index.tsx": F("tsx", "export {}\n"),
        "src/legacy.ts": F("typescript", "export {}\n"),
        "src/lib/math.ts": F("typescript", "export {}\n"),
        "src/lib/index.ts": F("typescript", "export {}\n"),
        "src/config.js": F("javascript", "module.exports = {}\n"),
        "src/data.json": F(None, "{}\n"),
        "types.d.ts": F("typescript", "declare const x: number\n"),
        "web/page.jsx": F("javascript", "...", imports=[I("../src/util.js"), I("./widgets/button")]),
        "web/widgets/button.jsx": F("javascript", "export default 1\n"),
    }, configs={"tsconfig.json": TSCONFIG})
    assert edges_from(g, "src/app.ts") == [
        ("src/app.ts", "src/components/index.tsx"),  # folder → index.*
        ("src/app.ts", "src/config.js"),             # baseUrl
        ("src/app.ts", "src/data.json"),             # explicit extension
        ("src/app.ts", "src/legacy.ts"),             # .js spec → the .ts source
        ("src/app.ts", "src/lib/index.ts"),          # paths, exact key
        ("src/app.ts", "src/lib/math.ts"),           # paths, wildcard
        ("src/app.ts", "src/util.ts"),               # extension
        ("src/app.ts", "types.d.ts"),                # .d.ts
    ]
    assert edges_from(g, "web/page.jsx") == [("web/page.jsx", "src/util.ts"),
                                             ("web/page.jsx", "web/widgets/button.jsx")]
    assert g.external_imports == [("src/app.ts", "./missing"), ("src/app.ts", "react")]


def test_tsconfig_extends_and_nearest_config(tmp_path):
    g = build(tmp_path, {
        "packages/web/src/main.ts": F("typescript", "...", imports=[I("~/ui/button"), I("@/lib/math")]),
        "packages/web/src/ui/button.ts": F("typescript", ""),
        "src/lib/math.ts": F("typescript", ""),
    }, configs={
        "tsconfig.base.json": '{"compilerOptions": {"paths": {"@/*": ["src/*"]}}}',
        "packages/web/tsconfig.json": '{"extends": "../../tsconfig.base.json",'
                                      ' "compilerOptions": {"baseUrl": "src", "paths": {"~/*": ["*"]}}}',
    })
    # the nearest config's own paths win over the base's (TypeScript replaces `paths` as a whole)
    assert g.imports == [("packages/web/src/main.ts", "packages/web/src/ui/button.ts")]
    assert g.external_imports == [("packages/web/src/main.ts", "@/lib/math")]


def test_malformed_tsconfig_and_jsconfig_do_not_crash(tmp_path):
    g = build(tmp_path, {
        "src/a.ts": F("typescript", "...", imports=[I("./b"), I("@/b")]),
        "src/b.ts": F("typescript", ""),
        "other/c.js": F("javascript", "...", imports=[I("./d")]),
        "other/d.js": F("javascript", ""),
    }, configs={"tsconfig.json": '{"compilerOptions": {"paths": {"@/*": ["src/*"]', "other/jsconfig.json": "[1, 2"})
    assert g.imports == [("other/c.js", "other/d.js"), ("src/a.ts", "src/b.ts")]
    assert g.external_imports == [("src/a.ts", "@/b")]


GO_MOD = "module example.com/shop // the main module\n\ngo 1.21\n"


def test_go_module_path_to_package_folder(tmp_path):
    g = build(tmp_path, {
        "main.go": F("go", "package main\n", imports=[
            I("example.com/shop/internal/db"), I("fmt"), I("example.com/shop/nothing"), I("github.com/x/y")]),
        "internal/db/db.go": F("go", "package db\n"),
        "internal/db/conn.go": F("go", "package db\n"),
        "internal/db/db_test.go": F("go", "package db\n"),
        "internal/db/sub/sub.go": F("go", "package sub\n"),
        "tools/gen/gen.go": F("go", "package main\n", imports=[I("example.com/tools/lib")]),
        "tools/lib/lib.go": F("go", "package lib\n"),
    }, configs={"go.mod": GO_MOD, "tools/go.mod": 'module "example.com/tools"\n'})
    assert g.imports == [("main.go", "internal/db/conn.go"), ("main.go", "internal/db/db.go"),
                         ("tools/gen/gen.go", "tools/lib/lib.go")]
    assert g.external_imports == [("main.go", "example.com/shop/nothing"), ("main.go", "fmt"),
                                  ("main.go", "github.com/x/y")]


def test_go_without_go_mod_keeps_imports_external(tmp_path):
    g = build(tmp_path, {
        "main.go": F("go", "package main\n", imports=[I("example.com/shop/internal/db")]),
        "internal/db/db.go": F("go", "package db\n"),
    })
    assert g.imports == []
    assert g.external_imports == [("main.go", "example.com/shop/internal/db")]


def test_rust_mod_and_use(tmp_path):
    g = build(tmp_path, {
        "src/lib.rs": F("rust", "mod net;\nmod util;\n", imports=[I("mod:net"), I("mod:util"), I("mod:gone")]),
        "src/net/mod.rs": F("rust", "mod tcp;\npub struct Conn;\n", imports=[I("mod:tcp")]),
        "src/net/tcp.rs": F("rust", "use super::Conn;\nuse crate::util::Helper;\nuse std::io;\n",
                            imports=[I("super::Conn"), I("crate::util::Helper"), I("std::io")]),
        "src/util.rs": F("rust", "mod fmt;\npub struct Helper;\n", imports=[I("mod:fmt")]),
        "src/util/fmt.rs": F("rust", "use crate::net::tcp::Stream;\n", imports=[I("crate::net::tcp::Stream")]),
        "src/main.rs": F("rust", "use shop::util::{fmt, Helper};\n", imports=[I("shop::util", "fmt", "Helper")]),
    }, configs={"Cargo.toml": '[package]\nname = "shop"\nversion = "0.1.0"\n'})
    assert g.imports == [
        ("src/lib.rs", "src/net/mod.rs"),        # mod net; → net/mod.rs
        ("src/lib.rs", "src/util.rs"),           # mod util; → util.rs
        ("src/main.rs", "src/util.rs"),          # the crate by its Cargo.toml name, braced list
        ("src/main.rs", "src/util/fmt.rs"),      # …whose `fmt` is a module
        ("src/net/mod.rs", "src/net/tcp.rs"),    # mod tcp; beside mod.rs
        ("src/net/tcp.rs", "src/net/mod.rs"),    # super::
        ("src/net/tcp.rs", "src/util.rs"),       # crate::util::Helper → deepest module util
        ("src/util.rs", "src/util/fmt.rs"),      # mod fmt; in util.rs → util/fmt.rs
        ("src/util/fmt.rs", "src/net/tcp.rs"),
    ]
    assert g.external_imports == [("src/lib.rs", "mod:gone"), ("src/net/tcp.rs", "std::io")]


def test_rust_super_inside_an_inline_module_is_the_file_itself(tmp_path):
    files = {
        "src/lib.rs": F("rust", "mod a;\n", imports=[I("mod:a")]),
        "src/a.rs": F("rust", "use super::Top;\n\nmod tests {\n    use super::*;\n}\n",
                      symbols=[S("tests", 3, 5, kind="module")],
                      imports=[I("super::Top", line=1), I("super::*", line=4)]),
    }
    build(tmp_path, files)
    resolved = resolve_imports(str(tmp_path), {p: ff for p, (_, ff) in files.items()})
    assert [r.targets for r in resolved["src/a.rs"]] == [("src/lib.rs",), ("src/a.rs",)]


def test_java_package_paths_wildcards_and_static_imports(tmp_path):
    root = "src/main/java/com/acme/"
    g = build(tmp_path, {
        root + "app/App.java": F("java", "package com.acme.app;\n", imports=[
            I("com.acme.model.User"), I("com.acme.util.*"), I("java.util.List"),
            I("com.acme.model.Names.format"), I("org.junit.*")]),
        root + "model/User.java": F("java", "package com.acme.model;\n"),
        root + "model/Names.java": F("java", "package com.acme.model;\n"),
        root + "util/A.java": F("java", "package com.acme.util;\n"),
        root + "util/B.java": F("java", "package com.acme.util;\n"),
        "src/test/java/com/acme/util/ATest.java": F("java", "package com.acme.util;\n"),
    })
    assert edges_from(g, root + "app/App.java") == [
        (root + "app/App.java", root + "model/Names.java"),   # static import of a member
        (root + "app/App.java", root + "model/User.java"),
        (root + "app/App.java", root + "util/A.java"),        # the package, in every source root
        (root + "app/App.java", root + "util/B.java"),
        (root + "app/App.java", "src/test/java/com/acme/util/ATest.java"),
    ]
    assert g.external_imports == [(root + "app/App.java", "java.util.List"), (root + "app/App.java", "org.junit.*")]


def test_kotlin_top_level_function_import_brings_in_its_package(tmp_path):
    g = build(tmp_path, {
        "src/main/kotlin/com/acme/Main.kt": F("kotlin", "import com.acme.text.slugify\nimport kotlin.math.max\n",
                                              imports=[I("com.acme.text.slugify"), I("kotlin.math.max")]),
        "src/main/kotlin/com/acme/text/Slug.kt": F("kotlin", "fun slugify(s: String) = s\n"),
        "src/main/kotlin/com/acme/text/Case.kt": F("kotlin", "fun upper(s: String) = s\n"),
    })
    main, text = "src/main/kotlin/com/acme/Main.kt", "src/main/kotlin/com/acme/text/"
    assert g.imports == [(main, text + "Case.kt"), (main, text + "Slug.kt")]
    assert g.external_imports == [(main, "kotlin.math.max")]


def test_c_quoted_includes_and_system_includes(tmp_path):
    g = build(tmp_path, {
        "src/main.c": F("c", '#include <stdio.h>\n#include "util.h"\n#include "config.h"\n'
                             '#include "proto/wire.h"\n#include "missing.h"\n',
                        imports=[I("stdio.h", external=True), I("util.h"), I("config.h"), I("proto/wire.h"),
                                 I("missing.h")]),
        "src/util.h": F("c", "int add(int, int);\n"),
        "src/util.c": F("c", '#include "util.h"\n', imports=[I("util.h")]),
        "include/config.h": F("c", "#define N 1\n"),
        "libs/proto/wire.h": F("c", "", imports=[I("../../include/config.h")]),
    })
    assert g.imports == [
        ("libs/proto/wire.h", "include/config.h"),
        ("src/main.c", "include/config.h"),     # the include/ folder
        ("src/main.c", "libs/proto/wire.h"),    # a path ending with the spec
        ("src/main.c", "src/util.h"),           # beside the including file
        ("src/util.c", "src/util.h"),
    ]
    assert g.external_imports == [("src/main.c", "missing.h"), ("src/main.c", "stdio.h")]


def test_ruby_php_and_csharp_best_effort(tmp_path):
    g = build(tmp_path, {
        "lib/shop.rb": F("ruby", "require_relative 'shop/cart'\nrequire 'json'\n",
                         imports=[I("shop/cart"), I("json")]),
        "lib/shop/cart.rb": F("ruby", ""),
        "app/Http/Controller.php": F("php", "use App\\Models\\User;\n", imports=[I("App\\Models\\User")]),
        "app/Models/User.php": F("php", ""),
        "Shop/Services/Billing.cs": F("c_sharp", "using Shop.Models;\nusing System.Text;\n",
                                      imports=[I("Shop.Models"), I("System.Text")]),
        "Shop/Models/Order.cs": F("c_sharp", ""),
        "Shop/Models/Line.cs": F("c_sharp", ""),
    })
    assert g.imports == [
        ("Shop/Services/Billing.cs", "Shop/Models/Line.cs"),
        ("Shop/Services/Billing.cs", "Shop/Models/Order.cs"),
        ("app/Http/Controller.php", "app/Models/User.php"),
        ("lib/shop.rb", "lib/shop/cart.rb"),
    ]
    assert g.external_imports == [("Shop/Services/Billing.cs", "System.Text"), ("lib/shop.rb", "json")]


# --- the symbol graph -----------------------------------------------------------------------------

CLIENT = """\
from lib.one import run
import lib.two

def top():
    run()

class Client:
    def send(self):
        def inner():
            return helper()
        return inner()

    def retry(self):
        self.send()
        return top()

run()
"""


def python_repo() -> dict[str, tuple[str, FileFacts]]:
    return {
        "app/client.py": F("python", CLIENT,
                           symbols=[S("top", 4, 5), S("Client", 7, 16, kind="class"),
                                    S("send", 8, 11, "Client", "method"), S("inner", 9, 10, "send"),
                                    S("retry", 13, 16, "Client", "method")],
                           refs=[("run", 5), ("helper", 10), ("inner", 11), ("send", 14, "self"), ("top", 15),
                                 ("run", 17), ("send", 8)],
                           imports=[I("lib.one", "run", line=1), I("lib.two", line=2)]),
        "lib/__init__.py": F("python", ""),
        "lib/one.py": F("python", "def run():\n    return run()\n", symbols=[S("run", 1, 2)], refs=[("run", 2)]),
        "lib/two.py": F("python", "def run(): ...\nclass Server:\n    def send(self): ...\n",
                        symbols=[S("run", 1, 1), S("Server", 2, 3, kind="class"), S("send", 3, 3, "Server", "method")]),
        "lib/util.py": F("python", "def helper(): ...\n", symbols=[S("helper", 1, 1)]),
        "other.py": F("python", "run()\nsend()\n", refs=[("run", 1), ("send", 2)]),
    }


def test_symbol_ids_and_enclosing_sources(tmp_path):
    g = build(tmp_path, python_repo())
    assert g.symbols_in("app/client.py") == [
        "app/client.py:top", "app/client.py:Client", "app/client.py:Client.send",
        "app/client.py:Client.send.inner", "app/client.py:Client.retry"]
    assert g.symbol("app/client.py:Client.send.inner") == ("app/client.py", S("inner", 9, 10, "send"))
    assert g.symbol(module_id("app/client.py")) is None
    assert g.symbol_ids()[:2] == ["app/client.py:top", "app/client.py:Client"]
    assert [r for r in g.references if r[0].startswith("app/client.py:")] == [
        ("app/client.py:<module>", "lib/one.py:run", "run"),                 # top-level code
        ("app/client.py:Client.retry", "app/client.py:Client.send", "send"),  # same file, own class
        ("app/client.py:Client.retry", "app/client.py:top", "top"),
        ("app/client.py:Client.send", "app/client.py:Client.send.inner", "inner"),
        ("app/client.py:top", "lib/one.py:run", "run"),                       # the imported one
    ]
    # `helper` is defined once in the repository, but a Python file sees another module's names only
    # through an import: the use is a local or a global of its own, not lib/util.py's (issue 26)
    assert ("app/client.py:Client.send.inner", "helper") in g.ambiguous


def test_import_beats_other_definitions_and_ambiguous_names_are_listed(tmp_path):
    g = build(tmp_path, python_repo())
    # `run` is defined in lib/one.py and lib/two.py: app/client.py imports it by name from lib.one
    assert g.callers_of("lib/one.py:run") == ["app/client.py:<module>", "app/client.py:top"]
    assert g.callers_of("lib/two.py:run") == []
    # other.py imports nothing: `run` (two files) and `send` (two classes) cannot be decided
    assert g.callees_of(module_id("other.py")) == []
    assert g.ambiguous == [("app/client.py:Client.send.inner", "helper"),
                           ("other.py:<module>", "run"), ("other.py:<module>", "send")]
    # a definition referring to itself (recursion, or its own name on its line) is no edge
    assert g.callees_of("lib/one.py:run") == []
    assert ("app/client.py:Client.send", "app/client.py:Client.send", "send") not in g.references
    assert g.importers_of("lib/one.py") == ["app/client.py"]
    assert g.imported_by("app/client.py") == ["lib/one.py", "lib/two.py"]


def test_same_file_candidates_are_narrowed_by_the_enclosing_class(tmp_path):
    text = "class A:\n    def go(self): ...\n    def run(self):\n        self.go()\n" \
           "class B:\n    def go(self): ...\n    def run(self):\n        self.go()\n" \
           "def main():\n    x.go()\n"
    g = build(tmp_path, {
        "m.py": F("python", text,
                  symbols=[S("A", 1, 4, kind="class"), S("go", 2, 2, "A"), S("run", 3, 4, "A"),
                           S("B", 5, 8, kind="class"), S("go", 6, 6, "B"), S("run", 7, 8, "B"),
                           S("main", 9, 10)],
                  refs=[("go", 4, "self"), ("go", 8, "self"), ("go", 10)]),
    })
    assert g.references == [("m.py:A.run", "m.py:A.go", "go"), ("m.py:B.run", "m.py:B.go", "go")]
    assert g.ambiguous == [("m.py:main", "go")]


def test_names_reexported_by_a_package_are_followed(tmp_path):
    g = build(tmp_path, {
        "pkg/__init__.py": F("python", "from .impl import *\n", imports=[I(".impl", "*")]),
        "pkg/impl.py": F("python", "def thing(): ...\n", symbols=[S("thing", 1, 1)]),
        "alt/thing.py": F("python", "def thing(): ...\n", symbols=[S("thing", 1, 1)]),
        "main.py": F("python", "from pkg import thing\nthing()\n", refs=[("thing", 2)],
                     imports=[I("pkg", "thing")]),
    })
    assert g.references == [("main.py:<module>", "pkg/impl.py:thing", "thing")]
    assert g.ambiguous == []


def test_a_builtin_name_is_not_linked_by_uniqueness_alone(tmp_path):
    g = build(tmp_path, {
        "a.py": F("python", "print(len(x))\n", refs=[("print", 1), ("len", 1)]),
        "b.py": F("python", "class Box:\n    def len(self): ...\ndef len(x): ...\n",
                  symbols=[S("Box", 1, 2, kind="class"), S("len", 2, 2, "Box", "method"), S("len", 3, 3)]),
        "c.py": F("python", "from b import len\nlen()\n", refs=[("len", 2)], imports=[I("b", "len")]),
    })
    assert g.references == [("c.py:<module>", "b.py:len", "len")]  # an import binds the top-level one


def test_go_same_package_and_imported_package(tmp_path):
    g = build(tmp_path, {
        "db/db.go": F("go", "package db\n\nfunc Open() { connect() }\n", symbols=[S("Open", 3, 3)],
                      refs=[("connect", 3)]),
        "db/conn.go": F("go", "package db\n\nfunc connect() {}\n", symbols=[S("connect", 3, 3)]),
        "cache/conn.go": F("go", "package cache\n\nfunc connect() {}\n", symbols=[S("connect", 3, 3)]),
        "cache/cache.go": F("go", "package cache\n\nfunc Open() {}\n", symbols=[S("Open", 3, 3)]),
        "main.go": F("go", 'package main\n\nimport "example.com/m/db"\n\nfunc main() { db.Open() }\n',
                     symbols=[S("main", 5, 5)], refs=[("Open", 5)], imports=[I("example.com/m/db", line=3)]),
    }, configs={"go.mod": "module example.com/m\n"})
    assert g.references == [("db/db.go:Open", "db/conn.go:connect", "connect"),
                            ("main.go:main", "db/db.go:Open", "Open")]


def test_go_method_ids_take_the_receiver_as_parent(tmp_path):
    g = build(tmp_path, {
        "s.go": F("go", "package s\ntype T struct{}\nfunc (t T) M() {}\n",
                  symbols=[S("T", 2, 2, kind="struct"), S("M", 3, 3, "T", "method")]),
    })
    assert g.symbol_ids() == ["s.go:T", "s.go:T.M"]


def test_java_same_package_and_c_included_header(tmp_path):
    g = build(tmp_path, {
        "src/com/acme/App.java": F("java", "package com.acme;\nclass App { Config c; }\n",
                                   symbols=[S("App", 2, 2, kind="class")], refs=[("Config", 2)]),
        "src/com/acme/Config.java": F("java", "package com.acme;\nclass Config {}\n",
                                      symbols=[S("Config", 2, 2, kind="class")]),
        "src/com/other/Config.java": F("java", "package com.other;\nclass Config {}\n",
                                       symbols=[S("Config", 2, 2, kind="class")]),
        "main.c": F("c", '#include "net.h"\nint main() { return open_conn(); }\n',
                    symbols=[S("main", 2, 2)], refs=[("open_conn", 2)], imports=[I("net.h")]),
        "net.h": F("c", '#include "sock.h"\n', imports=[I("sock.h")]),
        "sock.h": F("c", "int open_conn(void);\n", symbols=[S("open_conn", 1, 1)]),
        "sock.c": F("c", "int open_conn(void) { return 0; }\n", symbols=[S("open_conn", 1, 1)]),
    })
    assert g.references == [("main.c:main", "sock.h:open_conn", "open_conn"),  # through net.h's include
                            ("src/com/acme/App.java:App", "src/com/acme/Config.java:Config", "Config")]


def test_js_named_import_through_index_barrel(tmp_path):
    g = build(tmp_path, {
        "src/ui/index.ts": F("typescript", "export { Button } from './button'\n",
                             imports=[I("./button", "Button")]),
        "src/ui/button.ts": F("typescript", "export class Button {}\n", symbols=[S("Button", 1, 1, kind="class")]),
        "src/legacy/button.ts": F("typescript", "export class Button {}\n", symbols=[S("Button", 1, 1, kind="class")]),
        "src/app.ts": F("typescript", "import { Button } from './ui'\nnew Button()\n", refs=[("Button", 2)],
                        imports=[I("./ui", "Button")]),
    })
    assert g.references == [("src/app.ts:<module>", "src/ui/button.ts:Button", "Button")]
    assert g.imported_by("src/app.ts") == ["src/ui/index.ts"]


def test_empty_and_degenerate_facts(tmp_path):
    g = build(tmp_path, {
        "notes.txt": F(None, "hello\n"),
        "a.py": F("python", "x\n", symbols=[S("f", 5, 3)], refs=[("f", 0), ("f", 99)], imports=[I("")]),
    })
    # a reversed span encloses nothing; lines outside the file belong to the module
    assert g.references == [("a.py:<module>", "a.py:f", "f")]
    assert g.imports == [] and g.ambiguous == []
    assert g.external_imports == [("a.py", "")]
    assert g.symbols_in("notes.txt") == []


# --- members through their receivers, on parsed sources (issue 26 item 1) --------------------------


def parsed(root: Path, files: dict[str, str]) -> RepoGraph:
    """Write the files under `root` and build the graph from what the parser makes of them."""
    from repoctx.parse.extract import parse_file
    for rel, text in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text, encoding="utf-8")
    return build_graph(str(root), {rel: parse_file(rel, text.encode()) for rel, text in files.items()})


def callers(g: RepoGraph, sid: str) -> set[str]:
    return set(g.callers_of(sid))


PY_SHOP = {
    "shop/__init__.py": "from . import util\nfrom .client import Client\n",
    "shop/util.py": "def checksum(data):\n    return data\n\n\ndef update(x):\n    return x\n",
    "shop/client.py": ("class Client:\n    def send(self, order):\n        return order\n\n"
                       "    def close(self):\n        pass\n\n\nclass Other:\n    def ping(self):\n        pass\n"),
}


def test_python_a_member_is_linked_through_the_class_its_receiver_was_built_or_annotated_with(tmp_path):
    g = parsed(tmp_path, PY_SHOP | {"app.py": (
        "from shop.client import Client, Other\n\n\n"
        "def built():\n    client = Client()\n    client.send(1)\n\n\n"          # 4-6
        "def entered():\n    with Client() as c:\n        c.close()\n\n\n"          # 9-11
        "def annotated(c: Client, o: Other):\n    c.send(2)\n    o.send(3)\n\n\n"  # 14-16
        "def rebound(c):\n    c = Client()\n    c = make()\n    c.send(4)\n\n\n"    # 19-22
        "def unknown(d):\n    d.update({})\n    d.close()\n")}) # 25-27
    assert callers(g, "shop/client.py:Client.send") == {"app.py:built", "app.py:annotated"}
    assert callers(g, "shop/client.py:Client.close") == {"app.py:entered"}
    # `o.send` is a member of an Other, which has none; `d.update` of an object of unknown type: no
    # guess at a same-named definition elsewhere; `c` bound twice in `rebound` has no known class
    assert callers(g, "shop/util.py:update") == set()
    assert "app.py:rebound" not in callers(g, "shop/client.py:Client.send")


def test_python_a_call_through_a_module_attribute_is_linked(tmp_path):
    g = parsed(tmp_path, PY_SHOP | {
        "a.py": "import shop\n\n\ndef go():\n    return shop.util.checksum(1)\n",
        "b.py": "import shop.util\n\n\ndef go():\n    return shop.util.checksum(2)\n",
        "c.py": "from shop import util\n\n\ndef go():\n    return util.checksum(3)\n",
        "d.py": "import os\n\n\ndef go():\n    return os.path.update(4)\n",  # another library's
        "e.py": "from shop import util as u\nimport shop.util as su\n\n\ndef go():\n    u.checksum(5)\n    return su.checksum(6)\n",
    })
    assert callers(g, "shop/util.py:checksum") == {"a.py:go", "b.py:go", "c.py:go", "e.py:go"}
    assert callers(g, "shop/util.py:update") == set()


def test_python_a_plain_name_is_not_a_member_of_a_module_imported_whole(tmp_path):
    g = parsed(tmp_path, PY_SHOP | {
        "a.py": "from shop import util\n\n\ndef go(checksum):\n    util.update(checksum)\n    return checksum\n",
    })
    assert callers(g, "shop/util.py:update") == {"a.py:go"}
    assert callers(g, "shop/util.py:checksum") == set()  # the parameter, not util's function


def test_python_a_return_annotation_is_a_use(tmp_path):
    g = parsed(tmp_path, PY_SHOP | {
        "a.py": "from shop.client import Client\n\n\ndef make() -> Client:\n    pass\n",
    })
    assert "a.py:make" in callers(g, "shop/client.py:Client")


@pytest.mark.parametrize("ext", ["js", "ts"])
def test_js_ts_a_member_is_linked_through_the_class_its_receiver_was_built_or_annotated_with(tmp_path, ext):
    typed = "function annotated(s: Slider) {\n  s.setValue(2);\n}\n" if ext == "ts" else ""
    g = parsed(tmp_path, {
        f"src/slider.{ext}": "export class Slider {\n  setValue(v) {\n    return v;\n  }\n}\n",
        f"src/other.{ext}": "export class Knob {\n  turn() {}\n}\nexport function setValue(x) {\n  return x;\n}\n",
        f"src/main.{ext}": ("import { Slider } from './slider';\nimport { Knob } from './other';\n\n"
                            "function built() {\n  const s = new Slider();\n  s.setValue(1);\n}\n"
                            "function wrong() {\n  const k = new Knob();\n  k.setValue(3);\n}\n" + typed),
    })
    assert callers(g, f"src/slider.{ext}:Slider.setValue") == {f"src/main.{ext}:built"} | (
        {f"src/main.{ext}:annotated"} if typed else set())
    assert callers(g, f"src/other.{ext}:setValue") == set()  # a Knob's member, not the function


@pytest.mark.parametrize("files,target,caller", [
    ({"c.h": "struct s { int n; };\nint get(struct s *p);\n",
      "c.c": '#include "c.h"\nint get(struct s *p) { return p->n; }\nint main(void) { struct s x; return get(&x); }\n'},
     "c.c:get", "c.c:main"),
    ({"a.hpp": "class A {\npublic:\n  int get() { return 1; }\n};\n",
      "m.cpp": '#include "a.hpp"\nint main() { A *a = new A(); return a->get(); }\n'}, "a.hpp:A.get", "m.cpp:main"),
    ({"go.mod": "module example.com/m\n\ngo 1.21\n",
      "cart/cart.go": "package cart\n\ntype Cart struct{}\n\nfunc (c *Cart) Total() int { return 1 }\n",
      "main.go": 'package main\n\nimport "example.com/m/cart"\n\nfunc main() {\n\tc := cart.Cart{}\n\t_ = c.Total()\n}\n'},
     "cart/cart.go:Cart.Total", "main.go:main"),
    ({"p/A.java": "package p;\nclass A {\n  int total() { return 1; }\n}\n",
      "p/B.java": "package p;\nclass B {\n  int run() { A a = new A(); return a.total(); }\n}\n"},
     "p/A.java:A.total", "p/B.java:B.run"),
    ({"src/lib.rs": "pub mod cart;\nuse crate::cart::Cart;\npub fn run() -> i32 {\n    let c = Cart {};\n    c.total()\n}\n",
      "src/cart.rs": "pub struct Cart {}\nimpl Cart {\n    pub fn total(&self) -> i32 { 1 }\n}\n"},
     "src/cart.rs:Cart.total", "src/lib.rs:run"),
])
def test_statically_typed_languages_keep_linking_members_by_their_scope(tmp_path, files, target, caller):
    """Receivers are recorded (and rule 0 applies) in Python and JS/TS only; in C, C++, Go, Java and
    Rust a member is linked by the language's scope as before, and `->` stays a member access in C
    and C++ (in Python and Rust it starts a return type)."""
    g = parsed(tmp_path, files)
    assert caller in callers(g, target)


@pytest.mark.parametrize("files,target", [
    ({"shop/util.py": "def session():\n    return 1\n",
      "a.py": ("from shop.util import session\n\n\ndef go(session):\n    return session\n\n\n"
               "def use():\n    for session in range(3):\n        print(session)\n\n\n"
               "def call():\n    return session()\n")}, "shop/util.py:session"),
    ({"src/user.js": "export function count() {\n  return 1;\n}\n",
      "src/main.js": ("import { count } from './user';\n\nfunction route(app) {\n  app.get('/', function (req, res) {\n"
                      "    load(function (err, count) {\n      res.send(count);\n    });\n  });\n}\n"
                      "function call() {\n  return count();\n}\n")}, "src/user.js:count"),
])
def test_a_parameter_or_local_of_the_same_name_is_no_use_of_a_definition(tmp_path, files, target):
    g = parsed(tmp_path, files)
    caller = "a.py:call" if "a.py" in files else "src/main.js:call"
    assert callers(g, target) - {caller} <= {module_id(p) for p in files}  # the import line only
    assert caller in callers(g, target)


def test_a_plain_name_never_reaches_a_class_member(tmp_path):
    g = parsed(tmp_path, {
        "lib/view.js": ("var resolve = require('path').resolve;\n\nfunction View(name) {\n  this.name = name;\n}\n\n"
                        "View.prototype.lookup = function lookup(name) {\n  var dir = resolve(name);\n  return this.resolve(dir);\n};\n\n"
                        "View.prototype.resolve = function resolve(dir) {\n  return dir;\n};\n"),
        "m.py": ("class A:\n    def go(self):\n        return 1\n\n    def run(self):\n        go = 2\n"
                 "        return self.go() + go\n\n    def walk(self):\n        return go()\n"),
    })
    # `this.resolve` is the method; the plain `resolve` is the module's required function
    assert callers(g, "lib/view.js:View.resolve") == {"lib/view.js:View.lookup"}
    assert g.callers_of("m.py:A.go") == ["m.py:A.run"]  # `go()` in walk is no method of A
    refs_from_lookup = [r for r in g.references if r[0] == "lib/view.js:View.lookup"]
    assert ("lib/view.js:View.lookup", "lib/view.js:resolve", "resolve") in refs_from_lookup


def test_js_a_member_of_a_global_is_not_a_definition_of_the_repository(tmp_path):
    g = parsed(tmp_path, {
        "lib/util.js": "exports.stringify = function stringify(x) {\n  return String(x);\n};\n",
        "lib/res.js": ("var util = require('./util');\nfunction send(v) {\n  return JSON.stringify(v) + util.stringify(v);\n}\n"
                       "function stringify(v) {\n  return v;\n}\nfunction other(v) {\n  return JSON.stringify(v);\n}\n"),
    })
    assert "lib/res.js:other" not in callers(g, "lib/res.js:stringify")


def test_js_ts_a_module_or_class_bound_by_a_default_or_namespace_import_reaches_its_members(tmp_path):
    g = parsed(tmp_path, {
        "src/config.ts": "export default class Config {\n  static load(): void {}\n}\n",
        "src/utils.ts": "export function fmt(x: number): string {\n  return String(x);\n}\n",
        "src/main.ts": ("import Config from './config';\nimport * as utils from './utils';\n\n"
                        "export function start(): string {\n  Config.load();\n  return utils.fmt(1);\n}\n"),
    })
    assert "src/main.ts:start" in callers(g, "src/config.ts:Config.load")
    assert "src/main.ts:start" in callers(g, "src/config.ts:Config")
    assert "src/main.ts:start" in callers(g, "src/utils.ts:fmt")


def test_ts_a_plain_name_inside_a_namespace_reaches_the_namespace_member(tmp_path):
    g = parsed(tmp_path, {"types/index.d.ts": (
        "declare namespace lib {\n  interface Options {\n    base: Thing\n  }\n  class Thing {\n"
        "    clone(): Thing\n  }\n}\n")})
    assert "types/index.d.ts:lib.Options" in callers(g, "types/index.d.ts:lib.Thing")


def test_js_an_import_binds_a_top_level_name_not_a_same_named_member(tmp_path):
    g = parsed(tmp_path, {
        "src/plugin/duration.js": "export default (option, Dayjs, dayjs) => {\n  dayjs.duration = function (n) {\n    return n;\n  };\n};\n",
        "test/duration.test.js": ("import duration from '../src/plugin/duration';\n\n"
                                  "function setup(dayjs) {\n  dayjs.extend(duration);\n}\n"),
    })
    assert callers(g, "src/plugin/duration.js:dayjs.duration") == set()
