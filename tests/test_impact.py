"""`repoctx impact` and MCP `change_impact`: a change → its definitions → callers → the tests that reach them."""
from __future__ import annotations

import json
import os
import sys

from mcp import Client, StdioServerParameters

from conftest import git, make_repo, run_cli

FILES = {
    "shop/prices.py": 'def unit_price(item):\n    """Price of one item."""\n    return item.price * 1.2\n\n\n'
                      'def rounding(x):\n    return round(x, 2)\n',
    "shop/cart.py": "from shop.prices import unit_price\n\n\nclass Cart:\n    def total(self, items):\n"
                    "        return sum(unit_price(i) for i in items)\n",
    "shop/checkout.py": "from shop.cart import Cart\n\n\ndef checkout(items):\n    cart = Cart()\n"
                        "    return cart.total(items)\n",
    "tests/test_prices.py": "from shop.prices import unit_price\n\n\ndef test_unit_price():\n"
                            "    assert unit_price(object)\n",
    "tests/test_checkout.py": "from shop.checkout import checkout\n\n\ndef test_checkout_empty():\n"
                              "    assert checkout([]) == 0\n",
    "tests/test_rounding.py": "from shop.prices import rounding\n\n\ndef test_rounding():\n"
                              "    assert rounding(1.234) == 1.23\n",
}


def _change(repo):
    (repo / "shop/prices.py").write_text(FILES["shop/prices.py"].replace("* 1.2", "* 1.25"))


def test_impact_names_definitions_callers_and_tests(tmp_path):
    repo = make_repo(tmp_path / "r", FILES)
    _change(repo)
    r = run_cli("impact", str(repo), "--json")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert [(c["path"], c["name"]) for c in out["changed"]] == [("shop/prices.py", "unit_price")]
    callers = {(c["path"], c["name"]): c for c in out["callers"]}
    assert callers[("shop/cart.py", "Cart.total")]["depth"] == 1 and callers[("shop/cart.py", "Cart.total")]["line"] == 6
    assert ("shop/checkout.py", "checkout") in callers  # transitively, through the class
    assert [c["depth"] for c in out["callers"]] == sorted(c["depth"] for c in out["callers"])  # ranked
    tests = {(t["path"], t["name"]) for t in out["tests"]}
    assert {("tests/test_prices.py", "test_unit_price"), ("tests/test_checkout.py", "test_checkout_empty")} <= tests
    assert "tests/test_rounding.py" not in {t[0] for t in tests}  # it reaches nothing the change touched
    assert {"tests/test_prices.py", "tests/test_checkout.py"} <= set(out["test_files"])
    text = run_cli("impact", str(repo)).stdout
    assert "shop/prices.py:1-3 function unit_price" in text and "shop/cart.py:6  Cart.total" in text
    assert "tests/test_prices.py:5  test_unit_price" in text


def test_impact_of_the_staged_change_and_of_no_change(tmp_path):
    repo = make_repo(tmp_path / "r", FILES)
    r = run_cli("impact", str(repo))
    assert r.returncode == 1 and "no change" in r.stderr and not r.stdout
    r = run_cli("impact", str(repo), "--staged")
    assert r.returncode == 1 and "nothing is staged" in r.stderr
    (repo / "shop/prices.py").write_text(FILES["shop/prices.py"].replace("round(x, 2)", "round(x, 3)"))
    git(repo, "add", "shop/prices.py")
    out = json.loads(run_cli("impact", str(repo), "--staged", "--json").stdout)
    assert [c["name"] for c in out["changed"]] == ["rounding"]
    assert [t["path"] for t in out["tests"]] == ["tests/test_rounding.py"]
    r = run_cli("impact", str(repo), "--diff", "no-such-rev")
    assert r.returncode == 1 and "unknown revision" in r.stderr


def test_impact_holds_to_its_token_limit(tmp_path):
    files = dict(FILES)
    for i in range(60):  # many tests reach the change
        files[f"tests/test_many_{i}.py"] = (f"from shop.prices import unit_price\n\n\ndef test_price_{i}():\n"
                                            f"    assert unit_price(object)\n")
    repo = make_repo(tmp_path / "r", files)
    _change(repo)
    from repoctx import count_tokens, get_encoding
    for fmt in ((), ("--json",)):
        r = run_cli("impact", str(repo), "--budget", "400", *fmt)
        assert r.returncode == 0, r.stderr
        assert count_tokens(r.stdout, get_encoding(None)) <= 400
        assert "more" in r.stdout or '"omitted": {\n  "' in r.stdout
    r = run_cli("impact", str(repo), "--budget", "20")
    assert r.returncode == 1 and "raise" in r.stderr


async def test_mcp_change_impact(tmp_path):
    repo = make_repo(tmp_path / "r", FILES)
    params = StdioServerParameters(command=sys.executable, args=["-m", "repoctx", "mcp", str(repo)], env=dict(os.environ))
    async with Client(params) as c:
        r = await c.call_tool("change_impact", {})
        assert not r.is_error and "no change" in r.content[0].text and r.structured_content["warnings"]
        _change(repo)
        r = await c.call_tool("change_impact", {"diff": "worktree"})
        s = r.structured_content
        assert not r.is_error and s["changed"][0]["name"] == "unit_price" and s["warnings"] == []
        assert "tests/test_prices.py" in s["test_files"] and "Cart.total" in r.content[0].text
        r = await c.call_tool("change_impact", {"max_tokens": 5})
        assert r.is_error and "max_tokens" in r.content[0].text
        r = await c.call_tool("change_impact", {"diff": "-x"})
        assert r.is_error and "diff must be" in r.content[0].text


def test_impact_names_test_files_named_after_the_change(tmp_path):
    """Tests that reach code through a framework (a request to the app) name what they test."""
    files = {"lib/response.js": "var res = {};\n\nres.send = function send(body) {\n  return body;\n};\n\n"
                                "res.json = function json(obj) {\n  return this.send(obj);\n};\nmodule.exports = res;\n",
             "index.js": "module.exports = require('./lib/response');\n",
             "test/res.send.js": "var app = require('..');\n\ndescribe('res.send', function () {\n  it('sends', function () {\n"
                                 "    app.get('/');\n  });\n});\n",
             "test/res.json.js": "var app = require('..');\n\ndescribe('res.json', function () {});\n"}
    repo = make_repo(tmp_path / "js", files)
    (repo / "lib/response.js").write_text(files["lib/response.js"].replace("return body;", "return String(body);"))
    out = json.loads(run_cli("impact", str(repo), "--json").stdout)
    assert [c["name"] for c in out["changed"]] == ["res.send"] or [c["name"] for c in out["changed"]] == ["send"], out
    assert "test/res.send.js" in out["test_files"] and "test/res.json.js" not in out["test_files"]


def test_documentation_and_configuration_are_other_files_never_top_level_code(tmp_path):
    """A change to README.md, a YAML file or a shell script (files with no grammar: nothing is known of
    their definitions or callers) is listed as an other file changed, never as "top-level code" whose
    callers were followed; the code change beside it is analysed as before."""
    from repoctx import change_impact, fit_impact, load_repository
    repo = make_repo(tmp_path / "r", {**FILES, "README.md": "# Shop\n", "deploy/app.yaml": "replicas: 1\n",
                                      "run.sh": "#!/bin/sh\necho run\n"})
    (repo / "README.md").write_text("# Shop\n\nPrices include tax.\n")
    (repo / "deploy/app.yaml").write_text("replicas: 2\n")
    (repo / "run.sh").write_text("#!/bin/sh\necho go\n")
    _change(repo)
    found = change_impact(load_repository(str(repo)))
    assert [(c["path"], c["name"]) for c in found.changed] == [("shop/prices.py", "unit_price")]
    assert found.other == ["README.md", "deploy/app.yaml", "run.sh"]
    text = fit_impact(found, 4000, None, False)
    assert "top-level code" not in text and "other files changed (no definitions to follow): 3\n  README.md" in text
    out = json.loads(fit_impact(found, 4000, None, True))
    assert out["other"] == found.other and "tests/test_prices.py" in out["test_files"]
