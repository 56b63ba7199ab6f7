"""Pack: whole repo or dependency-closed slices, exact to the budget, on fixture repositories."""
from __future__ import annotations

import json
import os
import re
import xml.etree.ElementTree as ET

import pytest
from conftest import make_repo, run_cli
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from repoctx.pack.packer import Packer, PackError
from repoctx.pack.request import PackRequest
from repoctx.retrieve.rank import Focus, RetrievalIndex, rank_chunks
from repoctx.index.load import load_repository
from repoctx.tokens import count, get_encoding

PY = {
    "shop/__init__.py": "",
    "shop/util.py": '''"""Helpers."""
import hashlib


def checksum(payload):
    """Stable digest of a payload."""
    digest = hashlib.sha256(payload)
    return digest.hexdigest()


def retry_delay(attempt):
    base = 0.5
    return base * 2 ** attempt
''',
    "shop/client.py": '''import json

from shop.util import checksum, retry_delay


class Client:
    """Talks to the shop API."""

    timeout = 10

    def __init__(self, url):
        self.url = url

    def send(self, order):
        body = json.dumps(order).encode()
        tag = checksum(body)
        for attempt in range(3):
            wait = retry_delay(attempt)
            print(self.url, tag, wait)
        return tag

    def close(self):
        self.url = None
''',
    "shop/app.py": '''from shop.client import Client


def main():
    client = Client("http://localhost")
    result = client.send({"id": 1})
    client.close()
    return result
''',
    "docs/notes.md": "# Notes\n\nSome text about ```fences``` and <tags> & ampersands.\n",
}
for i in range(12):  # filler so the repository does not fit small budgets
    PY[f"shop/reports/r{i}.py"] = "".join(
        f"def report_{i}_{j}(rows):\n    total = 0\n    for row in rows:\n        total += row.amount * {j}\n    return total\n\n\n"
        for j in range(12))

JS = {
    "src/math.js": "export function clamp(x, lo, hi) {\n  return Math.min(Math.max(x, lo), hi);\n}\n",
    "src/slider.js": ("import { clamp } from './math';\n\nexport class Slider {\n  constructor(min, max) {\n"
                      "    this.min = min;\n    this.max = max;\n  }\n\n  setValue(v) {\n"
                      "    this.value = clamp(v, this.min, this.max);\n    return this.value;\n  }\n}\n"),
    "src/main.js": "import { Slider } from './slider';\n\nconst s = new Slider(0, 10);\ns.setValue(42);\n",
}

GO = {
    "go.mod": "module example.com/shop\n\ngo 1.21\n",
    "price/price.go": "package price\n\n// Round rounds a price to cents.\nfunc Round(v float64) float64 {\n\treturn float64(int(v*100)) / 100\n}\n",
    "cart/cart.go": ('package cart\n\nimport "example.com/shop/price"\n\ntype Cart struct {\n\tItems []float64\n}\n\n'
                     "func (c *Cart) Total() float64 {\n\tsum := 0.0\n\tfor _, v := range c.Items {\n\t\tsum += v\n\t}\n"
                     "\treturn price.Round(sum)\n}\n"),
    "main.go": 'package main\n\nimport "example.com/shop/cart"\n\nfunc main() {\n\tc := cart.Cart{}\n\t_ = c.Total()\n}\n',
}


@pytest.fixture(scope="module")
def py_repo(tmp_path_factory):
    return load_repository(str(make_repo(tmp_path_factory.mktemp("py") / "r", PY)), workers=1)


def lines_in(result, path):
    for f in result.files:
        if f.path == path:
            return {n for a, b in f.spans for n in range(a, b + 1)}
    return set()


def closure_lines(packer, focus):
    chunk = next(c for c in packer.index.chunks if focus.covers(c))
    out: dict[str, set[int]] = {}
    for path, a, b in packer.closures.of(chunk):
        out.setdefault(path, set()).update(range(a, b + 1))
    return out


def test_slice_of_a_method_brings_its_class_header_imports_callees_and_callers(py_repo):
    packer = Packer(py_repo)
    focus = Focus("shop/client.py", 16, 16)
    closure = closure_lines(packer, focus)
    assert closure == {
        # the method, `class Client:` with its docstring, the import block (whole, blank line included)
        "shop/client.py": set(range(14, 21)) | {6, 7, 1, 2, 3},
        "shop/util.py": {5, 6, 7, 8, 11, 12, 13},  # checksum and retry_delay whole: a callee of at most 5 lines is as cheap as its signature
        "shop/app.py": {4, 5, 6, 7, 8},  # the caller: `client = Client(…); client.send(…)`
    }
    r = packer.pack(PackRequest(budget=400, mode="slice", focus=(focus,)))
    assert r.mode == "slice" and r.tokens <= 400
    for path, lines in closure.items():
        assert lines <= lines_in(r, path)
    assert "class Client:" in r.text and "def checksum(payload):" in r.text


@pytest.mark.parametrize("files,focus,caller", [
    (PY, Focus("shop/client.py", 16, 16), ("shop/app.py", {4, 5, 6, 7})),
    (JS, Focus("src/slider.js", 10, 10), ("src/main.js", {4})),
])
def test_a_method_called_on_a_constructed_object_is_linked(tmp_path, files, focus, caller):
    repo = load_repository(str(make_repo(tmp_path / "r", files)), workers=1)
    path, lines = caller
    assert lines <= closure_lines(Packer(repo), focus).get(path, set())


@pytest.mark.parametrize("files,focus,expect", [
    (JS, Focus("src/slider.js", 10, 10), {"src/slider.js": {1, 3, 9, 10}, "src/math.js": {1}}),
    (GO, Focus("cart/cart.go", 11, 11), {"cart/cart.go": {3, 9, 15}, "price/price.go": {4}, "main.go": {7}}),
])
def test_closure_in_other_languages(tmp_path, files, focus, expect):
    repo = load_repository(str(make_repo(tmp_path / "r", files)), workers=1)
    packer = Packer(repo)
    closure = closure_lines(packer, focus)
    for path, lines in expect.items():
        assert lines <= closure.get(path, set()), (path, closure)
    r = packer.pack(PackRequest(budget=10_000, mode="slice", focus=(focus,)))
    for path, lines in expect.items():
        assert lines <= lines_in(r, path), (path, lines_in(r, path))


def test_auto_packs_the_whole_repository_when_it_fits(py_repo):
    r = Packer(py_repo).pack(PackRequest("checksum", budget=200_000))
    assert r.mode == "whole"
    assert all(f.whole for f in r.files) and len(r.files) == len(py_repo.files)
    assert r.tokens == count(r.text, get_encoding(py_repo.encoding)) <= 200_000


def test_whole_mode_refuses_when_too_big_and_states_the_exact_size(py_repo):
    for fmt in ("xml", "markdown"):
        with pytest.raises(PackError, match=r"needs [\d,]+ tokens") as e:
            Packer(py_repo).pack(PackRequest(budget=500, mode="whole", format=fmt))
        need = int(re.search(r"needs ([\d,]+) tokens", str(e.value)).group(1).replace(",", ""))
        with pytest.raises(PackError):
            Packer(py_repo).pack(PackRequest(budget=need - 1, mode="whole", format=fmt))
        r = Packer(py_repo).pack(PackRequest(budget=need, mode="whole", format=fmt))
        assert r.mode == "whole" and r.tokens == need
    r = run_cli("pack", py_repo.root, "--mode", "whole", "--budget", "500")
    assert r.returncode == 3 and "needs" in r.stderr and "at least" in r.stderr and r.stdout == ""


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(budget=st.integers(min_value=1, max_value=6000),
       words=st.lists(st.sampled_from(["checksum", "retry", "send", "report", "total", "client", "xyz", "rows",
                                       "delay", "order", "close", "json"]), max_size=6),
       fmt=st.sampled_from(["xml", "markdown", "plain"]),
       line_numbers=st.booleans())
def test_budget_is_never_exceeded(py_repo, budget, words, fmt, line_numbers):
    try:
        r = Packer(py_repo).pack(PackRequest(" ".join(words), budget=budget, format=fmt, line_numbers=line_numbers))
    except PackError as exc:
        # too small for an empty pack, or for anything of the repository: the least that works is named
        assert (budget < 12 and "empty pack" in str(exc)) or ("holds nothing" in str(exc) and "at least" in str(exc))
        return
    assert r.tokens == count(r.text, get_encoding(py_repo.encoding))
    assert r.tokens <= budget


def test_same_inputs_give_byte_identical_output(py_repo):
    a = Packer(py_repo).pack(PackRequest("retry delay when sending", budget=2000)).text
    b = Packer(py_repo).pack(PackRequest("retry delay when sending", budget=2000)).text
    assert a == b


def test_spans_appear_verbatim(py_repo):
    r = Packer(py_repo).pack(PackRequest("checksum of the order body", budget=2500, mode="slice"))
    text_lines = set(r.text.split("\n"))
    assert r.files
    for f in r.files:
        source = py_repo.text(f.path).split("\n")
        for a, b in f.spans:
            for n in range(a, b + 1):
                assert source[n - 1] in text_lines


def test_formats_parse_back(py_repo, tmp_path):
    root = ET.fromstring(Packer(py_repo).pack(PackRequest("notes fences", budget=200_000, format="xml")).text)
    assert root.tag == "context"
    assert "<tags> & ampersands" in "".join(f.text for f in root.iter("file") if f.get("path") == "docs/notes.md")
    md = Packer(py_repo).pack(PackRequest("notes fences", budget=200_000, format="markdown")).text
    assert "````markdown\n# Notes" in md  # the fence is longer than the ``` inside the file
    fences = re.findall(r"^(`{3,})", md, flags=re.M)
    assert len(fences) % 2 == 0
    out = tmp_path / "pack.json"
    r = run_cli("pack", py_repo.root, "--format", "json", "--budget", "3k", "--query", "retry delay", "-o", str(out))
    assert r.returncode == 0, r.stderr
    doc = json.loads(out.read_text())
    assert set(doc) == {"mode", "encoding", "budget", "tokens", "text", "files", "redacted", "secret_files_left_out", "warnings"}
    assert doc["budget"] == 3000 and doc["tokens"] <= 3000 and doc["mode"] == "slice"
    for f in doc["files"]:
        assert set(f) == {"path", "spans", "whole"}
        assert all(len(s) == 2 and 1 <= s[0] <= s[1] for s in f["spans"])
    assert re.search(r"slice: [\d,]+/3,000 tokens, \d+ files whole, \d+ files sliced, o200k_base", r.stderr)


def test_a_query_naming_a_file_or_symbol_ranks_it_first(py_repo):
    index = RetrievalIndex.load(py_repo)
    top = index.chunks[rank_chunks(index, "the bug is in shop/reports/r7.py")[0][0]]
    assert top.path == "shop/reports/r7.py"
    top = index.chunks[rank_chunks(index, "make retry_delay configurable")[0][0]]
    assert (top.path, top.symbol) == ("shop/util.py", "retry_delay")
    r = run_cli("search", "report_3_5 is wrong", py_repo.root, "--json")
    assert json.loads(r.stdout)[0]["symbol"] == "report_3_5"


def test_cli_focus_outside_the_repository_is_refused(py_repo, tmp_path):
    (tmp_path / "outside.py").write_text("x = 1\n")
    r = run_cli("pack", py_repo.root, "--focus", str(tmp_path / "outside.py"))
    assert r.returncode == 1 and "no such file inside the repository" in r.stderr
    r = run_cli("pack", py_repo.root, "--focus", "../outside.py")
    assert r.returncode == 1
    r = run_cli("pack", py_repo.root, "--focus", "shop/app.py:9-3")
    assert r.returncode == 1 and "FIRST <= LAST" in r.stderr


def test_map_is_ranked_and_fits_its_budget(py_repo):
    r = run_cli("map", py_repo.root, "--budget", "150")
    assert r.returncode == 0, r.stderr
    assert count(r.stdout, get_encoding("o200k_base")) <= 150
    assert r.stdout.startswith("shop/")
    full = run_cli("map", py_repo.root, "--budget", "100k").stdout
    assert "    def send(self, order):" in full and "shop/client.py\n  class Client:" in full


def test_retrieval_index_is_cached_by_repository_state(py_repo):
    folder = py_repo.index_path.rsplit("/", 1)[0] + "/retrieval"
    first = RetrievalIndex.load(py_repo)
    files = [f for f in os.scandir(folder) if not f.name.endswith(".seal")]  # each cache file has its seal beside it
    assert len(files) == 1, os.listdir(folder)
    again = RetrievalIndex.load(py_repo)  # read back from the cache file
    q = "retry delay for send"
    expected = rank_chunks(first, q)
    assert rank_chunks(again, q) == expected and again.chunks == first.chunks
    del first, again  # they map the file damaged next (repoctx itself only ever replaces it whole)
    with open(files[0].path, "wb") as f:
        f.write(b"\x00garbage")
    rebuilt = RetrievalIndex.load(py_repo)  # a damaged cache is rebuilt, silently
    assert rank_chunks(rebuilt, q) == expected


def test_settings_file_is_read_and_flags_override_it(tmp_path):
    repo = make_repo(tmp_path / "r", {**PY, ".repoctx.toml": 'budget = "2k"\nformat = "markdown"\n'})
    r = run_cli("pack", str(repo), "--query", "retry delay")
    assert r.returncode == 0, r.stderr
    assert "/2,000 tokens" in r.stderr and r.stdout.startswith("## ")
    r = run_cli("pack", str(repo), "--query", "retry delay", "--budget", "3k", "--format", "plain")
    assert "/3,000 tokens" in r.stderr and r.stdout.startswith("=== ")
    (repo / ".repoctx.toml").write_text('budjet = 5\n')
    r = run_cli("pack", str(repo))
    assert r.returncode == 1 and ".repoctx.toml: unknown key 'budjet'" in r.stderr
    r = run_cli("init", str(tmp_path / "fresh"))
    assert r.returncode == 1  # not a folder yet
    (tmp_path / "fresh").mkdir()
    assert run_cli("init", str(tmp_path / "fresh")).returncode == 0
    assert run_cli("init", str(tmp_path / "fresh")).returncode == 1  # refuses to overwrite


def test_output_file_is_written_atomically_with_normal_permissions(py_repo, tmp_path):
    out = tmp_path / "ctx.xml"
    out.write_text("previous pack\n")
    r = run_cli("pack", py_repo.root, "--budget", "2k", "--query", "checksum", "-o", str(out))
    assert r.returncode == 0, r.stderr
    assert out.read_text().startswith("<context>")
    umask = os.umask(0)
    os.umask(umask)
    assert oct(out.stat().st_mode & 0o777) == oct(0o666 & ~umask)
    assert [p.name for p in tmp_path.iterdir()] == ["ctx.xml"]  # no temporary file left behind
    r = run_cli("pack", py_repo.root, "--mode", "whole", "--budget", "100", "-o", str(out))
    assert r.returncode == 3 and out.read_text().startswith("<context>")  # a failed pack keeps the old file


def test_a_large_pack_takes_a_calling_function_in_rank_order_despite_its_closure(tmp_path):
    """A short function that calls much has a closure many times its own size; a tight pack prices it
    by that (the callee signatures cost it what they cost), a large one no longer does: those
    signatures are mostly in the pack already, and the function, ranked first, goes first."""
    from repoctx.pack.closure import Detail
    from repoctx.pack.packer import closure_power
    helpers = "".join(f'def helper_{k}(cart):\n    """Step {k} of the pipeline:\n    reads the cart, returns it.\n    """\n'
                      f"    return cart\n\n\n" for k in range(6))
    files = {
        "app/__init__.py": "",
        "app/helpers.py": helpers,
        "app/core.py": "from app.helpers import " + ", ".join(f"helper_{k}" for k in range(6)) + "\n\n\n"
                       "def apply_voucher(cart):\n    # the voucher total\n"
                       + "".join(f"    cart = helper_{k}(cart)\n" for k in range(6)) + "    return cart\n",
        "app/other.py": "def voucher_note(cart):\n    return 'voucher'\n",
    }
    packer = Packer(load_repository(str(make_repo(tmp_path / "r", files)), workers=1))
    query = "the voucher total is wrong"
    ranked = [packer.index.chunks[i].symbol for i, _ in rank_chunks(packer.index, query, [], 2)]
    assert ranked == ["apply_voucher", "voucher_note"]

    def first_two(budget):
        order, _, _ = packer._order(query, [], Detail.for_budget(budget), closure_power(budget))
        return [c.symbol for c in list(order())[:2]]
    assert first_two(8_000) == ["voucher_note", "apply_voucher"]  # tight: the closure's cost counts
    assert first_two(128_000) == ["apply_voucher", "voucher_note"]  # large: rank order
