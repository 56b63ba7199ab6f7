"""`repoctx graph` end to end: real parser, real resolution, on a repository in seven languages."""
from __future__ import annotations

import json
import os
import shutil
import subprocess

import pytest
from conftest import make_repo, run_cli

FILES = {
    # Python: a src/ layout, a package, a relative import
    "src/shop/__init__.py": "from .cart import Cart\n",
    "src/shop/cart.py": "from shop.pricing import total\n\n\nclass Cart:\n    def checkout(self):\n        return total([])\n",
    "src/shop/pricing.py": "import json\n\n\ndef total(items):\n    return sum(items)\n",
    # JS/TS: tsconfig paths (with a comment and trailing commas), index resolution, a bare package
    "web/tsconfig.json": '{\n  // comment\n  "compilerOptions": {"baseUrl": ".", "paths": {"@lib/*": ["lib/*"]},},\n}\n',
    "web/lib/format.ts": "export function formatPrice(v: number): string {\n  return v.toFixed(2);\n}\n",
    "web/components/index.ts": "export { Button } from './button';\n",
    "web/components/button.tsx": "import { formatPrice } from '@lib/format';\nexport function Button() {\n  return formatPrice(1);\n}\n",
    "web/main.js": "import { Button } from './components';\nimport React from 'react';\nButton();\n",
    # Go: module path from go.mod to a package folder
    "go.mod": "module example.com/app\n\ngo 1.21\n",
    "store/store.go": "package store\n\ntype Store struct{}\n\nfunc (s *Store) Get(k string) string {\n\treturn k\n}\n",
    "cmd/main.go": 'package main\n\nimport (\n\t"fmt"\n\t"example.com/app/store"\n)\n\nfunc main() {\n\ts := &store.Store{}\n\tfmt.Println(s.Get("x"))\n}\n',
    # Rust: mod and use crate::
    "rs/src/lib.rs": "mod util;\nuse crate::util::helper;\n\npub fn run() -> u32 {\n    helper()\n}\n",
    "rs/src/util.rs": "pub fn helper() -> u32 {\n    1\n}\n",
    # Java: package paths under src/main/java
    "java/src/main/java/com/acme/App.java": ("package com.acme;\n\nimport com.acme.model.User;\n\npublic class App {\n"
                                             "    public static void main(String[] a) {\n        new User();\n    }\n}\n"),
    "java/src/main/java/com/acme/model/User.java": "package com.acme.model;\n\npublic class User {\n}\n",
    # C: quoted include resolved, system include external
    "c/main.c": '#include <stdio.h>\n#include "util.h"\n\nint main(void) {\n    return add(1, 2);\n}\n',
    "c/util.h": "int add(int a, int b);\n",
    "c/util.c": '#include "util.h"\n\nint add(int a, int b) {\n    return a + b;\n}\n',
    # the same name defined twice, used without an import: ambiguous, so not linked
    "misc/a.py": "def dup():\n    return 1\n",
    "misc/b.py": "def dup():\n    return 2\n",
    "misc/c.py": "def use():\n    return dup()\n",
}


@pytest.fixture(scope="module")
def graph(tmp_path_factory):
    repo = make_repo(tmp_path_factory.mktemp("g") / "r", FILES)
    r = run_cli("graph", str(repo), "--format", "json")
    assert r.returncode == 0, r.stderr
    return repo, json.loads(r.stdout)


def test_import_edges_are_resolved_in_every_language(graph):
    _, g = graph
    assert {(e["source"], e["target"]) for e in g["imports"]} == {
        ("src/shop/__init__.py", "src/shop/cart.py"),
        ("src/shop/cart.py", "src/shop/pricing.py"),
        ("web/components/index.ts", "web/components/button.tsx"),
        ("web/components/button.tsx", "web/lib/format.ts"),
        ("web/main.js", "web/components/index.ts"),
        ("cmd/main.go", "store/store.go"),
        ("rs/src/lib.rs", "rs/src/util.rs"),
        ("java/src/main/java/com/acme/App.java", "java/src/main/java/com/acme/model/User.java"),
        ("c/main.c", "c/util.h"),
        ("c/util.c", "c/util.h"),
    }
    assert {(e["source"], e["module"]) for e in g["external_imports"]} == {
        ("src/shop/pricing.py", "json"), ("web/main.js", "react"), ("cmd/main.go", "fmt"), ("c/main.c", "stdio.h"),
    }


def test_files_symbols_and_references_have_the_documented_shape(graph):
    _, g = graph
    files = {f["path"]: f for f in g["files"]}
    assert set(files) == set(FILES)
    assert files["src/shop/cart.py"]["language"] == "python" and files["src/shop/cart.py"]["tokens"] > 0
    assert files["src/shop/cart.py"]["symbols"] == [
        {"name": "Cart", "kind": "class", "start_line": 4, "end_line": 6},
        {"name": "checkout", "kind": "method", "start_line": 5, "end_line": 6},
    ]
    assert {"name": "Get", "kind": "method", "start_line": 5, "end_line": 7} in files["store/store.go"]["symbols"]
    refs = {(r["source"], r["target"], r["name"]) for r in g["references"]}
    assert ("src/shop/cart.py:Cart.checkout", "src/shop/pricing.py:total", "total") in refs
    assert ("cmd/main.go:main", "store/store.go:Store.Get", "Get") in refs
    assert ("rs/src/lib.rs:run", "rs/src/util.rs:helper", "helper") in refs
    assert ("web/components/button.tsx:Button", "web/lib/format.ts:formatPrice", "formatPrice") in refs
    assert not any(r[0] == "misc/c.py:use" for r in refs)
    assert {"source": "misc/c.py:use", "name": "dup"} in g["ambiguous"]


def test_dot_output_renders_with_graphviz(graph, tmp_path):
    repo, _ = graph
    r = run_cli("graph", str(repo), "--format", "dot")
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("digraph repoctx {")
    assert '"src/shop/cart.py" -> "src/shop/pricing.py";' in r.stdout
    if not shutil.which("dot"):
        if os.environ.get("CI"):
            pytest.fail("Graphviz `dot` is missing in CI (.ci/run installs it)")
        pytest.skip("Graphviz `dot` is not installed")
    out = subprocess.run(["dot", "-Tsvg"], input=r.stdout, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert "<svg" in out.stdout and "cart.py" in out.stdout
