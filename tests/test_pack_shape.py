"""What a model reads: import blocks whole, definitions with their docs, call sites inside their caller,
no marker dearer than what it hides, no pack without code, no pack of a pack, XML safe for any text."""
from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import pytest

from conftest import make_repo, run_cli
from repoctx.index.load import load_repository
from repoctx.model import Focus
from repoctx.pack.closure import Detail
from repoctx.pack.packer import Packer
from repoctx.pack.request import PackRequest
from repoctx.render import elision_marker, file_body, file_slice, merge_spans
from repoctx.tokens import count, get_encoding

LIB = '''import os
import sys
import json
from collections import OrderedDict
from typing import Any


def load(path: str) -> Any:
    """Read a JSON document from `path`."""
    with open(path) as f:
        return json.load(f)


def save(path, doc):
    with open(path, "w") as f:
        json.dump(doc, f)
'''
FILES = {
    "pkg/__init__.py": "",
    "pkg/store.py": LIB,
    "pkg/service.py": ('from pkg.store import load\n\n\ndef refresh(path):\n    """Reload the catalogue."""\n'
                       '    data = load(path)\n    return len(data)\n'),
    "cart/cart.go": ('package cart\n\nimport (\n\t"fmt"\n\t"strings"\n\n\t"example.com/shop/price"\n)\n\n'
                     '// Total sums the items of a cart\n// and rounds the result to cents,\n// as the till does.\n'
                     'func Total(items []float64) float64 {\n\tsum := 0.0\n\tfor _, v := range items {\n'
                     '\t\tsum += v\n\t}\n\tfmt.Println(strings.Repeat("-", 3))\n\treturn price.Round(sum)\n}\n'),
    "price/price.go": "package price\n\n// Round rounds a price to cents.\nfunc Round(v float64) float64 {\n\treturn float64(int(v*100)) / 100\n}\n",
    "go.mod": "module example.com/shop\n\ngo 1.21\n",
}
for i in range(6):  # tests calling `load`: listed, not shown as code
    FILES[f"tests/test_load_{i}.py"] = (f"from pkg.store import load\n\n\ndef test_load_{i}(tmp_path):\n"
                                        f"    p = tmp_path / 'x.json'\n    p.write_text('[]')\n"
                                        f"    assert load(str(p)) == []\n")
for i in range(14):  # filler so the repository does not fit small budgets
    FILES[f"pkg/reports/r{i}.py"] = "".join(
        f"def report_{i}_{j}(rows):\n    \"\"\"Sum of row amounts, scaled.\"\"\"\n    total = 0\n"
        f"    for row in rows:\n        total += row.amount * {j}\n    return total\n\n\n" for j in range(10))


@pytest.fixture(scope="module")
def repo(tmp_path_factory):
    return load_repository(str(make_repo(tmp_path_factory.mktemp("shape") / "r", FILES)), workers=1)


def shown(result, path):
    return {n for f in result.files if f.path == path for a, b in f.spans for n in range(a, b + 1)}


def test_import_blocks_go_whole(repo):
    r = Packer(repo).pack(PackRequest(budget=900, mode="slice", focus=(Focus("pkg/store.py", 10, 10),)))
    assert set(range(1, 6)) <= shown(r, "pkg/store.py")  # json is used; the whole block comes with it
    r = Packer(repo).pack(PackRequest(budget=900, mode="slice", focus=(Focus("cart/cart.go", 15, 15),)))
    assert set(range(3, 9)) <= shown(r, "cart/cart.go")  # `import (` … `)`, blank line included


def test_definitions_come_with_their_docs_and_call_sites_inside_their_caller(repo):
    r = Packer(repo).pack(PackRequest(budget=900, mode="slice", focus=(Focus("cart/cart.go", 15, 15),)))
    assert {10, 11, 12, 13} <= shown(r, "cart/cart.go")   # the three-line doc comment goes with Total
    assert {3, 4} <= shown(r, "price/price.go")          # the callee's signature with its doc comment
    packer = Packer(repo)
    chunk = next(c for c in packer.index.chunks if c.path == "pkg/store.py" and c.symbol == "load")
    closure = packer.closures.of(chunk)
    # The call from service.py is shown inside refresh (whole: a caller of fewer than SMALL_CALLER
    # lines, not a one-line signature, a marker and the call's lines); calls from tests are only listed.
    assert [s for s in closure if s[0] == "pkg/service.py"] == [("pkg/service.py", 4, 7)]
    assert not any(p.startswith("tests/") for p, _, _ in closure)
    r = packer.pack(PackRequest(budget=600, mode="slice", focus=(Focus("pkg/store.py", 10, 10),)))
    assert {4, 5, 6, 7} <= shown(r, "pkg/service.py")
    listing = packer.callers_listing([chunk], {"tests/test_load_0.py": ((1, 7),)})
    # At most five places (imports are no calls), one of them already shown, and a count of the rest.
    assert listing == ("load (pkg/store.py) called at tests/test_load_1.py:7, tests/test_load_2.py:7, "
                       "tests/test_load_3.py:7, tests/test_load_4.py:7, +1 more"), listing
    text = packer.render_selection("", {}, "xml", False, listing)[0]
    assert ET.fromstring(text).find("callers").text.strip() == listing


def test_no_marker_costs_more_than_the_lines_it_hides(repo):
    enc = get_encoding(repo.encoding)
    packer = Packer(repo)
    markers = 0
    for query in ("report_3_4", "load json", "Total cents"):
        r = packer.pack(PackRequest(query, budget=1200, mode="slice"))
        for f in r.files:
            lines, total = packer.lines(f.path), repo.facts[f.path].lines
            inner = [(b0 + 1, a1 - 1) for (_, b0), (a1, _) in zip(f.spans, f.spans[1:]) if a1 > b0 + 1]
            ends = [(1, f.spans[0][0] - 1), (f.spans[-1][1] + 1, total)] if not f.whole else []
            for a, b in inner + [(a, b) for a, b in ends if a <= b]:
                marker = elision_marker(repo.files[f.path].language or f.path, a, b)
                # gaps between spans are marked; the header states the lines before and after them
                assert (marker in r.text) == ((a, b) in inner), (f.path, a, b)
                assert count("\n".join(lines[a - 1:b]), enc) > count(marker, enc), (f.path, a, b)
                markers += 1
            if not f.whole:
                assert f'<file path="{f.path}" lines="' in r.text and f'of="{total}">' in r.text
    assert markers, "the packs elide something"


def test_a_pack_without_a_query_is_the_repository_at_a_glance(repo):
    r = Packer(repo).pack(PackRequest("", budget=2000, mode="auto"))
    assert r.mode == "slice" and r.tokens >= 0.9 * 2000
    code = [f.path for f in r.files]
    assert code and not any(p.startswith("tests/") for p in code)
    assert "pkg/store.py" in code  # the most-referenced module
    assert not r.warnings


def test_a_query_that_matches_nothing_says_so_and_fills_the_pack(repo, tmp_path):
    r = run_cli("pack", repo.root, "--query", "zzqx wobble", "--budget", "2k", "-o", str(tmp_path / "p.xml"))
    assert r.returncode == 0, r.stderr
    assert "warning: the query matched little" in r.stderr
    tokens = int(re.search(r"slice: ([\d,]+)/", r.stderr).group(1).replace(",", ""))
    assert tokens >= 1800 and "<file path=" in (tmp_path / "p.xml").read_text()


def test_output_is_never_packed_again(tmp_path):
    root = make_repo(tmp_path / "r", {"a.py": "def f():\n    return 1\n", "b.py": "from a import f\n\nf()\n"})
    for _ in range(2):
        r = run_cli("pack", str(root), "-o", str(root / "context.xml"))
        assert r.returncode == 0, r.stderr
    text = (root / "context.xml").read_text()
    assert 'path="context.xml"' not in text and text.count("<context>") == 1
    assert "left out 1 file(s) repoctx wrote" in r.stderr and "context.xml" in r.stderr
    # A pack kept under any name, in any format, is recognised by its content.
    for fmt, name in (("markdown", "old.md"), ("plain", "old.txt"), ("json", "old.json"), ("xml", "notes.txt")):
        out = run_cli("pack", str(root), "--format", fmt, "--budget", "200k").stdout
        (root / name).write_text(out)
    r = run_cli("pack", str(root), "--format", "plain")
    assert r.returncode == 0 and "old.md" not in r.stdout and "notes.txt" not in r.stdout
    assert "=== a.py ===" in r.stdout and r.stdout.count("=== a.py ===") == 1


def test_xml_stays_well_formed_for_any_characters(tmp_path):
    weird = "def f():\n    return '\x01\x02\x1b[0m \x0b\x0c'  # ]]> <tag> &amp;\n"
    root = make_repo(tmp_path / "r", {"w.py": weird, "x.py": "X = 1\n"})
    r = run_cli("pack", str(root), "--budget", "10k")
    assert r.returncode == 0, r.stderr
    doc = ET.fromstring(r.stdout)
    body = next(f.text for f in doc.iter("file") if f.get("path") == "w.py")
    assert "\u2401\u2402\u241b[0m \u240b\u240c" in body and "]]> <tag> &amp;" in body


def test_an_empty_pack_warns(tmp_path):
    root = make_repo(tmp_path / "r", {"logo.png": b"\x89PNG\r\n\x1a\n\0\0\0"})
    r = run_cli("pack", str(root))
    assert r.returncode == 0 and "warning: the pack is empty" in r.stderr


def test_code_outside_tests_takes_no_callee_signatures_from_tests(tmp_path):
    """Library code calls a method whose only definition in the repository is a test double's: linked
    by name, but not code the library can call."""
    pad = "".join(f"\nfunc filler{i}(x int) int {{\n\treturn x * {i}\n}}\n" for i in range(40))
    files = {
        "go.mod": "module example.com/w\n",
        "writer.go": ("package w\n\nimport \"io\"\n\ntype Sink interface {\n\tio.Writer\n}\n\n"
                      "// Drain empties the sink and flushes it.\nfunc Drain(s Sink) error {\n\treturn s.Flush()\n}\n" + pad),
        "writer_test.go": ("package w\n\ntype fakeSink struct{}\n" + pad.replace("filler", "tfiller") +
                           "\nfunc (f *fakeSink) Flush() error {\n\treturn nil\n}\n"),
    }
    repo = load_repository(str(make_repo(tmp_path / "r", files)), workers=1)
    r = Packer(repo).pack(PackRequest("Drain empties the sink", budget=300, mode="slice"))
    assert "func Drain(s Sink) error {" in r.text
    assert "func (f *fakeSink) Flush() error {" not in r.text, r.text


def test_a_doc_comment_hit_brings_the_code_it_describes(tmp_path):
    """JSDoc blocks a blank line above their function (a common style): a query that matches the
    comment's words gets the function's body, not the comment alone."""
    pad = "".join(f"\nfunction pad{i}(x) {{\n  return x + {i}\n}}\n" for i in range(60))
    src = ("'use strict'\n" + pad + "\n/**\n * Report a failure on the console with the whole error object.\n *\n"
           " * @param {Error} err\n * @private\n */\n\nfunction logerror(err) {\n"
           "  if (this.get('env') !== 'test') process.stderr.write(inspect(err))\n}\n" + pad.replace("pad", "more"))
    repo = load_repository(str(make_repo(tmp_path / "r", {"lib/app.js": src})), workers=1)
    r = Packer(repo).pack(PackRequest("report failure on the console with the whole error object", budget=250, mode="slice"))
    assert "Report a failure on the console" in r.text
    assert "process.stderr.write(inspect(err))" in r.text, r.text


DOCS = {
    "shop/basket.py": (
        "import json\n\n\nclass Basket:\n"
        '    """A customer\'s basket of priced items,\n    kept until checkout.\n\n'
        + "".join(f"    Detail line {i} about how baskets behave.\n" for i in range(16)) + '    """\n\n'
        + "".join(f"    def helper_{i}(self, x):\n        y = x * {i}\n        z = y + {i}\n        return z - x\n\n"
                  for i in range(14))
        + "    def checkout(self, till):\n        total = till.total(self)\n        return json.dumps(total)\n\n\n"
        + "# Reprice every basket at night.\n#\n"
        + "".join(f"# Note {i} on the nightly repricing job.\n" for i in range(12))
        + "@staticmethod\ndef reprice(baskets):\n    return [b for b in baskets]\n"),
    "lib/send.js": (
        "'use strict'\n\n/**\n * Send a response body.\n *\n * Examples:\n *\n"
        + "".join(f" *     res.send('example {i}')\n" for i in range(12))
        + " *\n * @param {string} body\n * @public\n */\n\nfunction send(body) {\n  return body.length\n}\n"),
}
for name in ("report", "audit"):  # two callers of `reprice` outside tests
    DOCS[f"shop/{name}.py"] = f"from shop.basket import reprice\n\n\ndef {name}(baskets):\n    return reprice(baskets)\n"
for i in range(12):  # filler so the repository does not fit the budgets below
    DOCS[f"shop/filler{i}.py"] = "".join(f"def filler_{i}_{j}(v):\n    return v + {j}\n\n\n" for j in range(12))


def test_a_tight_budget_cuts_a_closures_docs_to_their_first_paragraph(tmp_path):
    """Docs scale with the budget: at a small budget the docstring of an enclosing class and a long
    doc comment above a definition go to their first paragraph (decorators and signatures always
    go); at a large one they go whole."""
    repo = load_repository(str(make_repo(tmp_path / "r", DOCS)), workers=1)
    packer = Packer(repo)
    head = packer.lines("shop/basket.py").index("class Basket:") + 1
    at = packer.lines("shop/basket.py").index("    def checkout(self, till):") + 1
    chunk = next(c for c in packer.index.chunks if c.path == "shop/basket.py" and c.start <= at <= c.end)
    assert chunk.start > head + 21  # a chunk of the class's body, far below its docstring
    full = {n for p, a, b in packer.closures.of(chunk) if p == "shop/basket.py" for n in range(a, b + 1)}
    cut = {n for p, a, b in packer.closures.of(chunk, True, Detail(8)) if p == "shop/basket.py" for n in range(a, b + 1)}
    assert set(range(head, head + 21)) <= full                  # signature and the whole docstring
    assert {head, head + 1, head + 2} <= cut and not cut & set(range(head + 3, head + 21))
    reprice = next(c for c in packer.index.chunks if c.symbol == "reprice")
    lead = packer.lines("shop/basket.py").index("# Reprice every basket at night.") + 1
    spans = packer.closures.of(reprice, True, Detail(8))
    lines = {n for _, a, b in spans for n in range(a, b + 1)}
    assert lead in lines and lead + 5 not in lines and lead + 14 in lines  # the comment cut, the decorator kept

    # Call sites shown as code scale too: two from 32k on, one at 8k (the other is listed).
    assert Detail.for_budget(32_000) == (32, 6, 2) and Detail.for_budget(8_000) == (8, 4, 1)
    callers = {p for p, _, _ in packer.closures.of(reprice)} - {"shop/basket.py"}
    assert callers == {"shop/audit.py", "shop/report.py"}
    tight = Detail.for_budget(8_000)
    assert len({p for p, _, _ in packer.closures.of(reprice, True, tight)} - {"shop/basket.py"}) == 1
    assert len(packer.closures.other_callers(reprice, tight)[0]) == 1 and not packer.closures.other_callers(reprice)[0]

    send = next(c for c in packer.index.chunks if c.symbol == "send")
    whole = {n for _, a, b in packer.closures.of(send) for n in range(a, b + 1)}
    first = {n for _, a, b in packer.closures.of(send, True, Detail(8)) for n in range(a, b + 1)}
    assert set(range(3, 28)) <= whole and first == {3, 4, 25, 26, 27}  # `/**`, the summary, the function
    # A pack too small for the whole comment still gets the function, its summary and a marker.
    small = packer.pack(PackRequest(budget=150, mode="slice", focus=(Focus("lib/send.js", 25, 25),)))
    assert "Send a response body." in small.text and "return body.length" in small.text
    assert "example 5" not in small.text and "lines 5-24 elided" in small.text


UNITS = {
    "pkg/__init__.py": ("import os\n\n"
                        + "".join(f"X{i} = {i}\n" for i in range(50))
                        + "from .errors import (\n"
                        + "".join(f"    Error{i},\n" for i in range(40)) + ")\n"
                        + "".join(f"Y{i} = Error{i}\n" for i in range(70))),
    "pkg/errors.py": "".join(f"class Error{i}(Exception):\n    pass\n\n\n" for i in range(40)),
    "tree/tree.go": ("package tree\n\nconst (\n\tstatic nodeType = iota\n\troot\n\tparam\n\tcatchAll\n)\n\n"
                     "type nodeType uint8\n\n"
                     "func (n *node) insert(path string) {\n\tif n.typ == root {\n"
                     + "".join(f"\t\tn.step{i}(path)\n" for i in range(30)) + "\t}\n}\n\n"
                     "func walk(n *node) {\n\tn.insert(\"/\")\n}\n\ntype node struct {\n\ttyp nodeType\n"
                     + "".join(f"\tfield{i} int\n" for i in range(8)) + "}\n"),
    "docs/guide.md": ("# Guide\n\n" + "".join(f"Paragraph {i} about routes.\n\n" for i in range(20))
                      + "```go\n" + "".join(f"r.GET(\"/route{i}\", handler{i})\n" for i in range(30)) + "```\n\n"
                      + "".join(f"More text {i}.\n\n" for i in range(30))),
}


def test_slices_are_whole_units(tmp_path):
    """Issue 26, item 2: no slice starts or ends inside an import statement, a Go const block or a
    Markdown code fence, and a signature ending in `{` comes with its closing `}`."""
    repo = load_repository(str(make_repo(tmp_path / "r", UNITS)), workers=1)
    packer = Packer(repo)
    lines = {p: repo.text(p).splitlines() for p in UNITS}
    for c in packer.index.chunks:
        for path, a, b in packer.closures.of(c):
            text = lines[path]
            if path == "pkg/__init__.py":
                assert not (53 < a <= 94) and not (53 <= b < 94), (c, a, b)   # `from .errors import (` … `)`
            if path == "tree/tree.go" and a <= 5 <= b:
                assert (a, b) == (3, 8) or a <= 3 and b >= 8, (c, a, b)       # `const (` … `)`
            if path == "docs/guide.md":
                fence = [n for n in range(1, a) if text[n - 1].startswith("```")]
                assert len(fence) % 2 == 0, (c, a, b)                           # never starts in a fence
    # the callee `node` in walk's closure: `type node struct {` alone (no one-line span for its `}`),
    # and its marker, even at the file's end, says where the elided body ends: `{ … }` in one marker
    walk = next(c for c in packer.index.chunks if c.path == "tree/tree.go" and c.symbol == "walk")
    spans = packer.closures.of(walk)
    assert ("tree/tree.go", 51, 51) in spans and not any(a <= 61 <= b for _, a, b in spans), spans
    tree = file_slice(repo, "tree/tree.go", merge_spans((a, b) for p, a, b in spans if p == "tree/tree.go"))
    assert file_body(tree, lines["tree/tree.go"], False).endswith(
        "type node struct {\n// ... lines 52-61 elided (body)"), file_body(tree, lines["tree/tree.go"], False)
    # and `insert`'s chunk starts with a constant of the const block: the block comes whole
    insert = next(c for c in packer.index.chunks if c.path == "tree/tree.go" and c.symbol == "node.insert")
    assert ("tree/tree.go", 3, 8) in packer.closures.of(insert), packer.closures.of(insert)
