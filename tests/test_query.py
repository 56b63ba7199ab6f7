"""Query understanding: issue texts as people write them → frames, literals, code, prose; and the
task-file evaluation (`repoctx eval --tasks`)."""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from conftest import git, make_repo, run_cli

from repoctx.eval.run import run_task_file
from repoctx.eval.tasks import EvalError, load_task_file
from repoctx.index.load import load_repository
from repoctx.retrieve.query import LiteralIndex, map_path, parse, understand
from repoctx.retrieve.rank import RetrievalIndex, rank_chunks

APP = {
    "shop/__init__.py": "",
    "shop/cart.py": (
        "from shop.prices import price_of\n\n\n"
        "class Cart:\n"
        "    def __init__(self):\n"
        "        self.items = []\n\n"
        "    def add(self, sku, qty=1):\n"
        "        if qty <= 0:\n"
        "            raise ValueError(f\"quantity must be positive, got {qty} for {sku}\")\n"
        "        self.items.append((sku, qty))\n\n"
        "    def total(self):\n"
        "        return sum(price_of(sku) * qty for sku, qty in self.items)\n"),
    "shop/prices.py": (
        "import logging\n\n"
        "log = logging.getLogger(__name__)\n"
        "PRICES = {'apple': 3}\n\n\n"
        "def price_of(sku):\n"
        "    if sku not in PRICES:\n"
        "        log.warning(\"unknown sku %s, pricing at zero\", sku)\n"
        "        return 0\n"
        "    return PRICES[sku]\n\n\n"
        "def discount(total, percent):\n"
        "    return total - total * percent / 100\n\n\n"
        "def rounded(value):\n"
        "    return round(value, 2)\n"),
    "shop/report.py": (
        "def render_receipt(cart):\n"
        "    lines = [f'{sku} x{qty}' for sku, qty in cart.items]\n"
        "    return '\\n'.join(lines)\n"),
    "tests/test_cart.py": (
        "import pytest\nfrom shop.cart import Cart\n\n\n"
        "def test_add():\n"
        "    with pytest.raises(ValueError, match='quantity must be positive'):\n"
        "        Cart().add('apple', 0)\n"),
    "README.md": "# shop\n\nA shopping cart.\n",
}


@pytest.fixture
def shop(tmp_path):
    root = make_repo(tmp_path / "shop", APP)
    repo = load_repository(str(root), encoding="cl100k_base", index_path=str(tmp_path / "index.sqlite"))
    return repo


PY_ISSUE = """Cart.total crashes for a new product
I upgraded to shop 2.3.1 and now this fails:

```python
from shop.cart import Cart
c = Cart()
c.add("pear")
print(c.total())
```

```
Traceback (most recent call last):
  File "/home/me/proj/run.py", line 4, in <module>
    print(c.total())
  File "/usr/lib/python3.11/site-packages/shop/cart.py", line 15, in total
    return sum(price_of(sku) * qty for sku, qty in self.items)
  File "/usr/lib/python3.11/site-packages/shop/prices.py", line 12, in price_of
    return PRICES[sku]
KeyError: 'pear'
```

pip freeze:
```
attrs==23.1.0
shop==2.3.1
urllib3==2.0.4
```
platform linux -- Python 3.11.4, pytest-7.4.0
"""


def test_python_traceback_frames_map_onto_the_repository_innermost_first(shop):
    signals = understand(shop, PY_ISSUE)
    frames = [s for s in signals.spots if s[4].startswith("frame")]
    assert [(p, why) for p, _, _, _, why in frames] == [
        ("shop/prices.py", "frame price_of"), ("shop/cart.py", "frame total")]
    (_, a, b, w_inner, _), (_, _, _, w_outer, _) = frames
    assert (a, b) == (7, 11)           # the whole function price_of, wherever the user's line 12 is
    assert w_inner > w_outer


def test_noise_is_dropped_from_the_prose():
    prose = parse(PY_ISSUE).prose
    assert "crashes for a new product" in prose
    for noise in ("attrs==", "urllib3", "2.3.1", "3.11.4", "site-packages", "platform linux"):
        assert noise not in prose


def test_code_identifiers_reach_definitions(shop):
    signals = understand(shop, PY_ISSUE)
    assert "shop/cart.py:Cart" in signals.symbols
    assert "shop/cart.py:Cart.total" in signals.symbols
    assert signals.files.get("shop/cart.py")  # from shop.cart import Cart
    # a chain on a standard module is not the repository's
    assert not any(n.endswith(":log") for n in understand(shop, "```\nos.log(1)\n```").symbols)


def test_error_message_with_placeholders_finds_the_raise_site(shop):
    issue = "Adding zero items\nI get `ValueError: quantity must be positive, got 0 for apple` from the cart."
    signals = understand(shop, issue)
    sites = {(p, a) for p, a, _, w, why in signals.spots if why.startswith("literal") and w > 0.5}
    assert ("shop/cart.py", 10) in sites
    ranked = rank_chunks(RetrievalIndex.load(shop), issue)
    best = RetrievalIndex.load(shop).chunks[ranked[0][0]]
    assert best.path == "shop/cart.py" and best.start <= 10 <= best.end


def test_log_message_in_output_finds_the_log_site(shop):
    issue = "Prices are zero\nThe log says:\n```\nWARNING:shop.prices:unknown sku kiwi, pricing at zero\n```\n"
    signals = understand(shop, issue)
    assert ("shop/prices.py", 9) in {(p, a) for p, a, *_ in signals.spots}


def test_quoted_output_matching_nothing_adds_no_spot(shop):
    issue = "Weird\n```\nSegmentation fault in the frobnicator module while loading\n```\n"
    assert understand(shop, issue).spots == []


@pytest.mark.parametrize("written, expected", [
    ("/usr/lib/python3.11/site-packages/shop/cart.py", "shop/cart.py"),
    ("C:\\Users\\me\\src\\shop\\shop\\prices.py", "shop/prices.py"),
    ("/opt/other-checkout/shop/report.py", "shop/report.py"),
    ("/home/me/proj/cart.py", None),          # only the file name agrees: someone else's cart.py
    ("prices.py", None),                      # a bare name of a file that is not at the top
    ("README.md", "README.md"),
])
def test_map_path(shop, written, expected):
    assert map_path(written, shop) == expected


GO_PANIC = """panic on nil handler

```
panic: runtime error: invalid memory address or nil pointer dereference
[signal SIGSEGV: segmentation violation code=0x1 addr=0x0 pc=0x4a5b2c]

goroutine 1 [running]:
github.com/acme/web.(*Engine).handle(0x0, {0x0, 0x0})
\t/home/ci/go/pkg/mod/github.com/acme/web@v1.9.1/engine.go:42 +0x2c
github.com/acme/web.(*Engine).Run(0xc0000a4000)
\t/home/ci/go/pkg/mod/github.com/acme/web@v1.9.1/engine.go:20 +0x1d
main.main()
\t/home/me/app/main.go:11 +0x25
```
go version go1.21.0 linux/amd64
"""

JS_STACK = """TypeError in router
```
TypeError: Cannot read properties of undefined (reading 'path')
    at Layer.match (/srv/app/node_modules/express/lib/router/layer.js:110:19)
    at next (/srv/app/node_modules/express/lib/router/index.js:275:22)
    at Object.<anonymous> (/srv/app/server.js:8:5)
```
"""

JAVA_TRACE = """NPE when parsing
```
java.lang.NullPointerException: name is null
\tat com.acme.parse.Parser.readName(Parser.java:88)
\tat com.acme.parse.Parser.parse(Parser.java:40)
\tat com.acme.App.main(App.java:12)
```
"""

RUST_TRACE = """thread 'main' panicked at src/table.rs:31:9:
index out of bounds: the len is 3 but the index is 7
stack backtrace:
   0: rust_begin_unwind
   1: tablekit::table::Table::get
             at ./src/table.rs:31:9
   2: tablekit::main
             at ./src/main.rs:5:13
"""


def test_frames_of_other_languages():
    go = [(f.path.rsplit("/", 1)[-1], f.line, f.function) for f in parse(GO_PANIC).frames]
    assert go[:2] == [("engine.go", 42, "handle"), ("engine.go", 20, "Run")]
    js = [(f.path.rsplit("/", 2)[-2:], f.line, f.function) for f in parse(JS_STACK).frames]
    assert js[0] == (["router", "layer.js"], 110, "match") and js[1][2] == "next"
    java = [(f.path, f.line, f.function) for f in parse(JAVA_TRACE).frames]
    assert java[0] == ("com/acme/parse/Parser.java", 88, "readName")
    rust = [(f.path, f.line, f.function) for f in parse(RUST_TRACE).frames]
    assert ("./src/table.rs", 31, "get") in rust and rust.index(("./src/table.rs", 31, "get")) < \
        rust.index(("./src/main.rs", 5, "main"))


def test_go_and_js_frames_resolve_to_functions(tmp_path):
    root = make_repo(tmp_path / "web", {
        "engine.go": "package web\n\ntype Engine struct{}\n\nfunc (e *Engine) Run() {\n\te.handle()\n}\n\n"
                     "func (e *Engine) handle() {\n\tprintln(e)\n}\n",
        "lib/router/layer.js": "function Layer() {}\n\nLayer.prototype.match = function match(path) {\n"
                               "  return this.regexp.exec(path);\n};\n\nmodule.exports = Layer;\n",
    })
    repo = load_repository(str(root), encoding="cl100k_base", index_path=str(tmp_path / "i.sqlite"))
    go = understand(repo, GO_PANIC).spots
    assert go[0][:3] == ("engine.go", 9, 11) and go[0][3] > go[1][3]
    js = understand(repo, JS_STACK).spots
    assert js[0][0] == "lib/router/layer.js" and js[0][1] <= 3 <= js[0][2]


def test_long_issue_costs_what_its_signals_cost(shop):
    """A 25,000-character issue (a pasted log) parses to the same signals as its short core, and
    its repeated output lines do not reach the prose."""
    log = "".join(f"src/gen/mod{i}.py:{i}:0: C0301: Line too long ({100 + i}/100) (line-too-long)\n"
                  for i in range(400))
    long = PY_ISSUE + "\n```\n" + log + "```\n"
    assert len(long) > 25_000
    short_s, long_s = understand(shop, PY_ISSUE), understand(shop, long)
    assert [s[:3] for s in long_s.spots if s[4].startswith("frame")] == \
        [s[:3] for s in short_s.spots if s[4].startswith("frame")]
    assert "too long" not in long_s.text


def test_literal_index_splits_format_strings_at_placeholders(shop):
    frags = set(LiteralIndex(shop).frags)
    assert "quantity must be positive, got" in frags
    assert "pricing at zero" in frags
    assert not any("%s" in f or "{" in f for f in frags)


def test_literal_index_is_kept_beside_the_index_and_a_damaged_copy_is_rebuilt(shop, tmp_path):
    text = "ValueError: quantity must be positive, got -3"
    built = LiteralIndex(shop).matches(text)
    assert built and RetrievalIndex.build(shop).literals().matches(text) == built
    [kept] = [f for f in (tmp_path / "literals").iterdir() if f.suffix != ".seal"]  # written beside the index by the first use
    assert RetrievalIndex.build(shop).literals().matches(text) == built  # read back from it
    kept.write_bytes(kept.read_bytes()[:40])
    assert RetrievalIndex.build(shop).literals().matches(text) == built
    edited = shop.with_buffers({"shop/cart.py": 'raise ValueError("quantity must be whole")\n'})
    now = RetrievalIndex.build(edited).literals().matches(text)  # an editor's buffer is never cached
    assert now == LiteralIndex(edited).matches(text) and "shop/cart.py" not in {p for p, *_ in now}


def test_definitions_are_answered_from_the_stored_graph_and_the_ranking_is_the_same(shop, tmp_path):
    query = "Cart.total is wrong when a quantity is zero"
    fresh = RetrievalIndex.build(shop)
    expected = rank_chunks(fresh, query)
    assert not (tmp_path / "definitions").exists()  # no table of its own: the graph's defs rows answer
    assert "shop/cart.py:Cart.total" in fresh.definitions()["Cart.total"]
    assert rank_chunks(RetrievalIndex.build(shop), query) == expected  # read back from the graph file
    # an editor's buffer that renames the method: never cached, and the new name is what is defined
    edited = shop.with_buffers({"shop/cart.py": shop.text("shop/cart.py").replace("def total", "def grand_total")})
    names = RetrievalIndex.build(edited).definitions()
    assert "Cart.grand_total" in names and "Cart.total" not in names


# -- task files ------------------------------------------------------------------------------------

def _task_line(root: Path, query: str, path: str, lines: list[int], **extra) -> str:
    parent = git(root, "rev-parse", "HEAD").strip()
    text = (root / path).read_text().split("\n")
    sums = [hashlib.sha1(text[n - 1].strip().encode()).hexdigest()[:8] for n in lines]
    return json.dumps({"id": "t1", "github": "acme/shop", "parent": parent, "query": query,
                       "gold_files": [path], "gold_lines": {path: lines},
                       "gold_line_sha1_8": {path: sums}, **extra})


def test_task_file_eval_measures_each_repository(tmp_path):
    root = make_repo(tmp_path / "shop", APP)
    tasks = tmp_path / "tasks.jsonl"
    tasks.write_text(_task_line(root, PY_ISSUE, "shop/prices.py", [11]) + "\n\n")
    result = run_task_file(str(tasks), repos={"acme/shop": str(root)}, budgets=(2000,))
    assert list(result["by_repository"]) == ["acme/shop"]
    row = next(r for r in result["summary"] if r["packer"] == "repoctx")
    assert row["file_hit"] == 1.0 and row["line_recall"] == 1.0
    assert git(root, "worktree", "list").count("\n") == 1  # the temporary worktree is gone
    out = run_cli("eval", "--tasks", str(tasks), "--repo", f"acme/shop={root}", "--budgets", "2k")
    assert out.returncode == 0, out.stderr
    assert "acme/shop (1 tasks" in out.stdout


def test_task_file_errors_name_the_line(tmp_path):
    root = make_repo(tmp_path / "shop", APP)
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"parent": "abc", "query": "x"}\n')
    with pytest.raises(EvalError, match=r"bad.jsonl:1: missing field\(s\) gold_lines"):
        load_task_file(str(bad))
    bad.write_text("not json\n")
    with pytest.raises(EvalError, match="bad.jsonl:1: not a JSON object"):
        load_task_file(str(bad))
    wrong = tmp_path / "wrong.jsonl"
    line = json.loads(_task_line(root, "q", "shop/prices.py", [11]))
    line["gold_line_sha1_8"]["shop/prices.py"] = ["deadbeef"]
    wrong.write_text(json.dumps(line) + "\n")
    with pytest.raises(EvalError, match="line 11 of shop/prices.py .* does not match its gold hash"):
        run_task_file(str(wrong), str(root))
    missing = tmp_path / "missing.jsonl"
    line["parent"] = "0" * 40
    missing.write_text(json.dumps(line) + "\n")
    with pytest.raises(EvalError, match="is not in"):
        run_task_file(str(missing), str(root))
    out = run_cli("eval", "--tasks", str(missing), str(root))
    assert out.returncode == 1 and "is not in" in out.stderr


def test_a_name_on_the_repository_package_reaches_its_definition(shop):
    signals = understand(shop, "Rounding is wrong\n```python\nimport shop.prices\nshop.prices.rounded(10.005)\n```")
    assert "shop/prices.py:rounded" in signals.symbols
    # the same short name on a module that is not the repository's names nothing
    assert "shop/prices.py:rounded" not in understand(shop, "```\nnumpy.rounded(1)\n```").symbols
