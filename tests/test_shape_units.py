"""Issue 26, item 2, on the shapes real repositories have: a slice is a whole syntactic unit, or a
signature that says it is one. Each case is one found in a real pack (requests, gin, pytest, fmt)."""
from __future__ import annotations

import pytest

from conftest import make_repo
from repoctx.index.load import load_repository
from repoctx.pack.packer import Packer, gap_fill
from repoctx.render import file_body, file_slice, merge_spans

GO = ("package tree\n\nimport \"strings\"\n\n"                                        # 1-4
      "type (\n\tmethodTree struct{ method string }\n\tnodeType   uint8\n)\n\n"         # 5-9
      "var (\n\tregEnLetter = 1\n\tanyMethods  = []string{\n\t\t\"GET\",\n\t}\n)\n\n"   # 10-17
      "// IRouter routes.\ntype IRouter interface {\n\tHandle(string) IRouter\n}\n\n"   # 18-22
      "func parse(path string,\n\tstrict bool,\n) error {\n"                             # 23-25
      + "".join(f"\tif strings.HasPrefix(path, \"/{i}\") {{\n\t\treturn nil\n\t}}\n" for i in range(4))  # 26-37
      + "\treturn nil\n}\n\n"                                                              # 38-40
      "func handle(path string) methodTree {\n\tvar t methodTree\n\terr := parse(path, true)\n"  # 41-43
      "\tif err != nil {\n" + "".join(f"\t\tt.method = \"m{i}\"\n" for i in range(12)) + "\t}\n"  # 44-57
      "\treturn t\n}\n")                                                                   # 58-59
PY = ("from pkg.errors import Error0, \\\n    Error1\n\n"                                   # 1-3
      + "".join(f"X{i} = {i}\n" for i in range(16))                                        # 4-19
      + "CHOICES = (\n" + "".join(f"    \"c{i}\",\n" for i in range(5)) + ")\n\n\n"        # 20-28
      "def use():\n    return CHOICES, Error1\n")                                           # 29-30
MD = ("# Guide\n\n" + "".join(f"Text {i}.\n" for i in range(28))                          # 1-30
      + "```go\n" + "".join(f"r.GET(\"/route{i}\", handler{i})\n" for i in range(69)) + "```\n"  # 31-101
      + "".join(f"More {i}.\n" for i in range(30)))                                        # 102-131
GAPS = ("def first(x):\n    y = x + 1\n    return y\n\n\n"                                      # 1-5
        "def filler(rows):\n    total = 0\n    for row in rows:\n        total += row.amount * 2\n"   # 6-9
        "        total -= row.fee\n        if total > 100:\n            total = 100\n    return total\n\n\n"  # 10-15
        "def second(y):\n    z = y * 2\n    return z\n")                                           # 16-18
FILES = {"pkg/gaps.py": GAPS, "tree/tree.go": GO, "go.mod": "module example.com/t\n\ngo 1.21\n", "pkg/__init__.py": "",
         "pkg/errors.py": "class Error0(Exception):\n    pass\n\n\nclass Error1(Exception):\n    pass\n",
         "pkg/use.py": PY, "docs/guide.md": MD}


@pytest.fixture(scope="module")
def packer(tmp_path_factory):
    return Packer(load_repository(str(make_repo(tmp_path_factory.mktemp("units") / "r", FILES)), workers=1))


def closure_of(packer, path, symbol):
    chunk = next(c for c in packer.index.chunks if c.path == path and c.symbol == symbol)
    return packer.closures.of(chunk)


def test_an_import_continued_by_a_backslash_goes_whole(packer):
    # flask_theme_support.py in requests: `from pygments.token import Keyword, … \` went without its next line
    assert ("pkg/use.py", 1, 2) in closure_of(packer, "pkg/use.py", "use")


def test_a_multi_line_value_goes_whole_not_as_its_first_line(packer):
    # pytest's `DOCTEST_REPORT_CHOICES = (`, requests' docs `html_theme_options = {`: one line and nothing
    assert ("pkg/use.py", 20, 26) in closure_of(packer, "pkg/use.py", "use")


def test_go_groups_go_whole(packer):
    whole = packer.closures.whole_units
    assert whole([("tree/tree.go", 6, 6)]) == [("tree/tree.go", 5, 8)]     # a type of `type ( … )`
    # a span starting at a block's `)` (a chunk of `)`, a blank line and a comment, in gin's
    # routergroup.go) is in that block; no `)` further down is taken for its end
    assert whole([("tree/tree.go", 15, 17)]) == [("tree/tree.go", 10, 17)]
    assert whole([("tree/tree.go", 9, 12)]) == [("tree/tree.go", 9, 15)]   # ends inside `var (`


def test_a_fence_longer_than_a_window_is_not_cut(packer):
    text = FILES["docs/guide.md"].splitlines()
    spans = [s for c in packer.index.chunks if c.path == "docs/guide.md" for s in packer.closures.of(c)]
    assert len(spans) > 2
    for _, a, b in spans:
        fences = [n for n in range(1, a) if text[n - 1].startswith("```")]
        assert len(fences) % 2 == 0, (a, b)
        fences = [n for n in range(1, b + 1) if text[n - 1].startswith("```")]
        assert len(fences) % 2 == 0, (a, b)


def test_a_signature_runs_to_the_line_that_opens_its_body(packer):
    # `) error {` (a Go parameter list over lines, a C++ trailing return type): the signature is not
    # cut before it, and the elided body's marker says `(body)`
    spans = closure_of(packer, "tree/tree.go", "handle")
    assert ("tree/tree.go", 22, 24) in spans, spans
    lines = packer.lines("tree/tree.go")
    body = file_body(file_slice(packer.repo, "tree/tree.go", merge_spans((a, b) for p, a, b in spans
                                                                           if p == "tree/tree.go")), lines, False)
    assert ") error {\n// ... lines 25-38 elided (body)" in body, body


def test_a_call_site_is_not_left_on_an_open_block(packer):
    # gin's auth.go: the call's window ended on `return func(c *Context) {` and nothing after
    spans = [s for s in closure_of(packer, "tree/tree.go", "parse") if s[1] <= 42 <= s[2]]
    assert spans and all(b < 43 or b >= 56 for _, _, b in spans), spans
    lines = packer.lines("tree/tree.go")
    for _, a, b in spans:
        assert not lines[b - 1].rstrip().endswith("{"), (a, b)


def test_a_large_pack_shows_a_gap_a_small_one_marks(packer):
    """A gap of a few lines between two shown definitions: an 8k pack marks it (its tokens go to
    what was selected), a 32k pack shows it (code read whole, no marker every few lines)."""
    shown = [*range(1, 4), *range(16, 19)]
    assert packer.spans("pkg/gaps.py", shown, gap_fill(8_000)) == ((1, 3), (16, 18))
    assert packer.spans("pkg/gaps.py", shown, gap_fill(32_000)) == ((1, 18),)
    assert gap_fill(1_000) == gap_fill(8_000) < gap_fill(16_000) < gap_fill(32_000) > gap_fill(128_000) > gap_fill(8_000)


def test_a_slice_ending_on_an_opening_bracket_is_marked_to_the_end(packer):
    # a file's last span ending in `{` (a call site's `if … {`, a chunk cut at a 40-line split, a long
    # table's first line) is followed by a marker, not by the end of the file
    lines = packer.lines("tree/tree.go")
    body = file_body(file_slice(packer.repo, "tree/tree.go", ((40, 43),)), lines, False)
    assert body.endswith("\tif err != nil {\n// ... lines 44-58 elided"), body
    body = file_body(file_slice(packer.repo, "tree/tree.go", ((40, 42),)), lines, False)
    assert body.endswith("err := parse(path, true)"), body  # a closed line ends the file's text as before


def test_string_literals_are_stripped_in_linear_time():
    """closure._without_strings is the regex sub it replaced, without its quadratic retries of each
    quote of an unterminated literal (`"\\"\\"…`: 25 s for 80 KB, a minified line hours)."""
    import itertools
    import re
    import time

    from repoctx.pack.closure import _without_strings
    reference = re.compile(r'"(?:\\.|[^"\\])*"|\'(?:\\.|[^\'\\])*\'')
    for n in range(7):
        for text in map("".join, itertools.product('"\'\\\na(', repeat=n)):
            assert _without_strings(text) == reference.sub("", text), repr(text)
    start = time.process_time()
    assert _without_strings('"\\' * 500_000 + "'x'(") == '"\\' * 500_000 + "("
    assert time.process_time() - start < 5
