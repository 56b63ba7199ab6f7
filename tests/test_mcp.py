"""`repoctx mcp` driven by the MCP SDK's own client, over stdio and Streamable HTTP."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import anyio
import httpx2
import pytest
from mcp import Client, StdioServerParameters
from mcp.client.streamable_http import streamable_http_client

from repoctx import count_tokens, get_encoding
from repoctx.settings import tomllib  # tomli on Python 3.10
from conftest import make_repo

ROOT = Path(__file__).resolve().parent.parent

FILES = {
    "shop/cart.py": 'from shop.prices import unit_price\n\n\nclass Cart:\n    """A basket of items."""\n\n'
                    '    def total(self, items):\n        return sum(unit_price(i) for i in items)\n',
    "shop/prices.py": 'def unit_price(item):\n    """Price of one item."""\n    return item.price * 1.2\n',
    "shop/__init__.py": "",
    "web/app.js": "const { formatPrice } = require('./format');\n\nfunction render(p) {\n  return formatPrice(p);\n}\n"
                  "module.exports = { render };\n",
    "web/format.js": "function formatPrice(p) {\n  return '$' + p.toFixed(2);\n}\nmodule.exports = { formatPrice };\n",
    "svc/main.go": "package main\n\nfunc Discount(p float64) float64 {\n\treturn p * 0.9\n}\n\n"
                   "func main() {\n\tprintln(Discount(3))\n}\n",
}


def _params(*paths, env=None):
    return StdioServerParameters(command=sys.executable, args=["-m", "repoctx", "mcp", *map(str, paths)],
                                 env={**os.environ, **(env or {})})


@pytest.fixture
def repo(tmp_path):
    return make_repo(tmp_path / "shop", FILES)


def _text(result) -> str:
    return "\n".join(c.text for c in result.content)


@pytest.mark.parametrize("mode", ["legacy", "auto"])  # 2025-11-25 handshake and the current 2026-07-28 revision
async def test_stdio_tools_answer_in_several_languages(repo, mode):
    async with Client(_params(repo), mode=mode) as c:
        tools = {t.name for t in (await c.list_tools()).tools}
        assert tools == {"pack_context", "repo_map", "find_symbol", "symbol_references", "apply_edit", "change_impact"}
        r = await c.call_tool("pack_context", {"query": "discount price", "budget": 4000})
        assert not r.is_error and '<file path="svc/main.go"' in _text(r)
        s = r.structured_content
        assert s["tokens"] <= s["budget"] == 4000 and s["encoding"] and {f["path"] for f in s["files"]} >= set(FILES) - {"shop/__init__.py"}
        r = await c.call_tool("repo_map", {"query": "format"})
        assert "formatPrice" in _text(r) and r.structured_content["tokens"] > 0
        r = await c.call_tool("find_symbol", {"name": "formatPrice"})
        assert _text(r).startswith("web/format.js:1-3 function formatPrice")
        r = await c.call_tool("find_symbol", {"name": "Cart.total"})
        assert r.structured_content["matches"][0]["path"] == "shop/cart.py"
        r = await c.call_tool("symbol_references", {"name": "unit_price"})
        assert "definition shop/prices.py:1-3" in _text(r) and "shop/cart.py:8: return sum(unit_price" in _text(r)
        r = await c.call_tool("symbol_references", {"path": "svc/main.go", "line": 8})
        assert r.structured_content["definition"]["start_line"] == 3 and r.structured_content["total"] == 1
        r = await c.call_tool("pack_context", {"paths": ["web/app.js:3-5"], "budget": 500})
        assert not r.is_error and "formatPrice" in _text(r)


async def test_an_edit_on_disk_shows_in_the_next_answer(repo):
    async with Client(_params(repo)) as c:
        r = await c.call_tool("find_symbol", {"name": "shipping_cost"})
        assert r.is_error
        (repo / "shop/prices.py").write_text(FILES["shop/prices.py"] + "\n\ndef shipping_cost(order):\n    return 5\n")
        (repo / "shop/new.py").write_text("def gift_wrap():\n    pass\n")
        r = await c.call_tool("find_symbol", {"name": "shipping_cost"})
        assert not r.is_error and "shop/prices.py:6-7" in _text(r)
        assert "shop/new.py" in _text(await c.call_tool("find_symbol", {"name": "gift_wrap"}))
        r = await c.call_tool("pack_context", {"diff": "worktree", "budget": 1000})
        assert not r.is_error and "+def shipping_cost(order):" in _text(r)
        r = await c.call_tool("pack_context", {"diff": "worktree", "budget": 20})
        assert r.is_error and "below the" in _text(r) and "the diff alone" in _text(r)


BAD_ARGUMENTS = [
    ("pack_context", {"budget": "lots"}, "budget must be a whole number"),
    ("pack_context", {"budget": 0}, "budget must be at least 1"),
    ("pack_context", {"budget": True}, "budget must be a whole number"),
    ("pack_context", {"paths": "shop/cart.py"}, "paths must be a list of strings"),
    ("pack_context", {"paths": ["../../etc/passwd"]}, "outside the repository"),
    ("pack_context", {"paths": ["/etc/passwd"]}, "outside the repository"),
    ("pack_context", {"paths": ["shop/cart.py:9-2"]}, "FIRST <= LAST"),
    ("pack_context", {"paths": ["nope.py"]}, "not a file of the repository"),
    ("pack_context", {"diff": "-rf"}, "diff must be"),
    ("pack_context", {"diff": "no-such-rev"}, "no-such-rev"),
    ("pack_context", {"colour": "red"}, "unknown argument(s) colour"),
    ("pack_context", {"repo": "elsewhere"}, "unknown repo 'elsewhere'"),
    ("repo_map", {"focus": "../x.py"}, "outside the repository"),
    ("find_symbol", {}, "name is required"),
    ("find_symbol", {"name": "zzzqqq"}, "no symbol matches 'zzzqqq'"),
    ("find_symbol", {"name": "Cart", "kind": "function"}, "of kind 'function'"),
    ("symbol_references", {"name": "zzzqqq"}, "unknown symbol 'zzzqqq'"),
    ("symbol_references", {"path": "shop/cart.py"}, "give path and line together"),
    ("symbol_references", {"path": "shop/cart.py", "line": 900}, "past its end"),
    ("symbol_references", {}, "give name, or path and line"),
    ("no_such_tool", {}, "unknown tool"),
]


async def test_bad_arguments_are_tool_errors(repo):
    """Each bad argument is one tool error saying what is wrong, and the server goes on serving: all
    of them sent to one server, one after another, each followed by a good call."""
    async with Client(_params(repo)) as c:
        for name, args, message in BAD_ARGUMENTS:
            r = await c.call_tool(name, args)
            assert r.is_error and message in _text(r), (name, args, _text(r))
            assert not (await c.call_tool("find_symbol", {"name": "Cart"})).is_error, (name, args)  # still serving


async def test_tool_definitions_are_cheap_and_repos_are_chosen_by_name(repo, tmp_path):
    other = make_repo(tmp_path / "other", {"lib.py": "def helper():\n    return 1\n"})
    async with Client(_params(repo, other), mode="legacy") as c:
        listed = (await c.list_tools()).tools
        wire = json.dumps({"tools": [t.model_dump(by_alias=True, exclude_none=True, mode="json") for t in listed]})
        assert count_tokens(wire, get_encoding("o200k_base")) < 1150   # sent on every turn: 1,115 now
        assert listed[0].input_schema["properties"]["repo"]["enum"] == ["shop", "other"]
        assert (await c.call_tool("find_symbol", {"name": "helper"})).is_error
        r = await c.call_tool("find_symbol", {"name": "helper", "repo": "other"})
        assert "lib.py:1-2" in _text(r)


# -- apply_edit ---------------------------------------------------------------------------------

PRICES_DIFF = ("The tax rate is wrong; here is the fix:\n```diff\n--- a/shop/prices.py\n+++ b/shop/prices.py\n"
               "@@ -40,3 +40,7 @@\n def unit_price(item):\n     \"\"\"Price of one item.\"\"\"\n"
               "-    return item.price * 1.2\n+    return item.price * 1.25\n+\n+\n+def shipping_cost(order):\n+    return 5\n```\n")
FORMAT_SR = ("web/format.js\n```js\n<<<<<<< SEARCH\n  return '$' + p.toFixed(2);\n=======\n"
             "  return '€' + p.toFixed(2);\n>>>>>>> REPLACE\n```\n")


async def test_apply_edit_checks_then_writes_and_the_index_sees_it(repo):
    async with Client(_params(repo)) as c:
        tool = next(t for t in (await c.list_tools()).tools if t.name == "apply_edit")
        assert tool.annotations.read_only_hint is False and tool.annotations.destructive_hint is True
        r = await c.call_tool("apply_edit", {"text": PRICES_DIFF + FORMAT_SR, "dry_run": True})
        assert not r.is_error, _text(r)
        s = r.structured_content
        assert s["ok"] and s["dry_run"] and s["written"] == []
        assert [(h["path"], h["line"], h["offset"], h["relaxation"]) for h in s["hunks"]] == [
            ("shop/prices.py", 1, -39, "offset"), ("web/format.js", 2, None, "offset")]
        assert "shop/prices.py: hunk 1 would apply at line 1, 39 lines above where the patch said" in _text(r)
        assert "check only, nothing written" in _text(r)
        assert (repo / "shop/prices.py").read_text() == FILES["shop/prices.py"]
        r = await c.call_tool("apply_edit", {"text": PRICES_DIFF + FORMAT_SR})   # dry_run defaults to false
        assert not r.is_error and r.structured_content["written"] == ["shop/prices.py", "web/format.js"], _text(r)
        assert (repo / "shop/prices.py").read_text() == (
            'def unit_price(item):\n    """Price of one item."""\n    return item.price * 1.25\n\n\n'
            "def shipping_cost(order):\n    return 5\n")
        assert "'€' + p.toFixed(2)" in (repo / "web/format.js").read_text()
        r = await c.call_tool("find_symbol", {"name": "shipping_cost"})
        assert not r.is_error and "shop/prices.py:6-7" in _text(r)
        r = await c.call_tool("apply_edit", {"text": PRICES_DIFF})          # applied already: refused, not doubled
        assert r.is_error and not r.structured_content["ok"] and "not in the file" in _text(r)
        assert (repo / "shop/prices.py").read_text().count("shipping_cost") == 1


async def test_apply_edit_refusal_writes_nothing_and_names_the_closest_lines(repo):
    bad = ("--- a/svc/main.go\n+++ b/svc/main.go\n@@ -3,3 +3,3 @@\n func Discount(p float64) float64 {\n"
           "-\treturn p * 0.8\n+\treturn p * 0.7\n }\n")
    async with Client(_params(repo)) as c:
        r = await c.call_tool("apply_edit", {"text": FORMAT_SR + bad})
        assert r.is_error, _text(r)
        s = r.structured_content
        assert not s["ok"] and s["written"] == [] and s["hunks"][0]["applied"]
        h = s["hunks"][1]
        assert h["path"] == "svc/main.go" and not h["applied"] and "not in the file" in h["reason"]
        assert h["candidates"][0]["line"] == 3 and 0.5 < h["candidates"][0]["similarity"] < 1
        assert "svc/main.go: hunk 1 REFUSED" in _text(r) and "closest: line 3" in _text(r)
        assert "Nothing was written" in _text(r)
        assert (repo / "web/format.js").read_text() == FILES["web/format.js"]   # all or nothing


AWS_ID = "AKIAZ7VRSQ5TJNQ3KXPB"


async def test_apply_edit_candidates_are_redacted(tmp_path):
    root = make_repo(tmp_path / "keys", {"conf.py": f'AWS_ACCESS_KEY_ID = "{AWS_ID}"\nREGION = "eu-west-1"\n'})
    sr = f'conf.py\n<<<<<<< SEARCH\nAWS_ACCESS_KEY_ID = "{AWS_ID[:-2]}"\n=======\nAWS_ACCESS_KEY_ID = ""\n>>>>>>> REPLACE\n'
    async with Client(_params(root)) as c:
        r = await c.call_tool("apply_edit", {"text": sr})
        assert r.is_error and r.structured_content["hunks"][0]["candidates"], _text(r)
        assert AWS_ID not in _text(r) and AWS_ID not in json.dumps(r.structured_content)
        assert "[REDACTED:AWS Access Key]" in _text(r)


async def test_no_tool_answer_carries_a_secret(tmp_path):
    key = "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA7bq6Ft1bWxZ9Q2kq3mN8vZr4x0C9yT2uLhPq3sJd8fK2wXyZ\n-----END RSA PRIVATE KEY-----\n"
    files = {"conf.py": f'AWS_ACCESS_KEY_ID = "{AWS_ID}"\n\n\ndef s3_client(key_id=AWS_ACCESS_KEY_ID, secret="{AWS_ID}"):\n'
                        '    return (key_id, secret)\n',
             "app.py": "from conf import s3_client\n\n\ndef upload():\n    return s3_client()\n",
             "deploy.py": f'KEY = """{key}"""\n'}
    root = make_repo(tmp_path / "keys", files)
    async with Client(_params(root)) as c:
        answers = [await c.call_tool("pack_context", {"query": "s3 client upload key"}),
                   await c.call_tool("pack_context", {"paths": ["conf.py:1-5"], "budget": 2000}),
                   await c.call_tool("repo_map", {"query": "s3_client"}),
                   await c.call_tool("find_symbol", {"name": "s3_client"}),
                   await c.call_tool("symbol_references", {"name": "s3_client"})]
        (root / "conf.py").write_text(files["conf.py"] + "\nREGION = 1\n")       # a change in the work tree
        answers.append(await c.call_tool("pack_context", {"diff": "worktree"}))
    for r in answers:
        assert not r.is_error, _text(r)
        text = _text(r) + json.dumps(r.structured_content)
        assert AWS_ID not in text and "MIIEowIBAAKCAQEA" not in text, text
    assert "[REDACTED:AWS Access Key]" in _text(answers[0]) and "s3_client(key_id" in _text(answers[3])


BAD_EDITS = [
    ({}, "text is required"),
    ({"text": "   "}, "text is required"),
    ({"text": 42}, "text must be a string"),
    ({"text": "Looks fine to me, no changes needed."}, "no edit found"),
    ({"text": FORMAT_SR, "dry_run": "yes"}, "dry_run must be true or false"),
    ({"text": "x" * (9 * 2**20)}, "the limit is 8 MB"),
    ({"text": PRICES_DIFF.replace("shop/prices.py", "../outside.py")}, "is outside the workspace"),
    ({"text": "*** Begin Patch\n*** Add File: .git/hooks/pre-commit\n+rm -rf /\n*** End Patch\n"}, "inside git's own folder"),
    ({"text": "diff --git a/logo.png b/logo.png\nindex 1..2\nGIT binary patch\nliteral 5\n"}, "binary patches"),
    ({"text": "--- a/shop/prices.py\n+++ b/shop/prices.py\n@@ -1,3 +1,3 @@\n def unit_price(item):\n"}, "truncated hunk"),
]


async def test_apply_edit_bad_input_is_a_tool_error(repo):
    """Each bad edit is one tool error saying why, writes nothing, and the server goes on serving: all
    of them sent to one server, one after another."""
    async with Client(_params(repo)) as c:
        for args, message in BAD_EDITS:
            r = await c.call_tool("apply_edit", args)
            assert r.is_error and message in _text(r), (message, _text(r))
            assert not (repo / ".git/hooks/pre-commit").exists() and not (repo.parent / "outside.py").exists()
            assert not (await c.call_tool("find_symbol", {"name": "Cart"})).is_error, message  # still serving
            status = subprocess.run(["git", "status", "--porcelain"], cwd=repo, capture_output=True, text=True)
            assert status.stdout == "", (message, status.stdout)


def test_apply_edit_detects_a_file_changed_between_check_and_write(repo, monkeypatch):
    """The fault injected for real: the file is rewritten after the edit was placed, before it is written."""
    from repoctx import Workspace
    from repoctx_server import mcp_server

    ws = Workspace(str(repo))
    ws.load()
    real = mcp_server.plan_edit

    def plan_then_edit(*a, **kw):
        p = real(*a, **kw)
        (repo / "shop/prices.py").write_text(FILES["shop/prices.py"] + "# saved by someone else\n")
        return p
    monkeypatch.setattr(mcp_server, "plan_edit", plan_then_edit)
    with pytest.raises(mcp_server.ToolError) as err:
        mcp_server.apply_edit(ws, {"text": FORMAT_SR + PRICES_DIFF})
    assert "shop/prices.py changed on disk since the edit was checked; nothing written" in str(err.value)
    assert err.value.structured["written"] == [] and err.value.structured["ok"]
    assert (repo / "web/format.js").read_text() == FILES["web/format.js"]
    assert (repo / "shop/prices.py").read_text().endswith("# saved by someone else\n")


# -- HTTP ---------------------------------------------------------------------------------------

class _HttpServer:
    def __init__(self, *args: str):
        self.proc = subprocess.Popen([sys.executable, "-m", "repoctx", "mcp", *args], stderr=subprocess.PIPE,
                                     text=True)
        line = self.proc.stderr.readline()
        m = re.search(r"(http://\S+/mcp)", line)
        assert m, line
        self.url = m.group(1)

    def close(self):
        self.proc.terminate()
        self.proc.wait(10)


@pytest.fixture
def http(repo):
    servers = []

    def start(*extra):
        servers.append(_HttpServer(str(repo), "--http", "127.0.0.1:0", *extra))
        return servers[-1]
    yield start
    for s in servers:
        s.close()


def _client(url, token=None, **kw):
    headers = {"Authorization": f"Bearer {token}"} if token else None
    return Client(streamable_http_client(url, http_client=httpx2.AsyncClient(headers=headers, timeout=60)), **kw)


async def test_http_two_clients_at_once(http):
    s = http()
    answers = {}

    async def agent(name, symbol):
        async with _client(s.url) as c:
            for _ in range(3):
                r = await c.call_tool("symbol_references", {"name": symbol})
                answers.setdefault(name, set()).add(_text(r))
    async with anyio.create_task_group() as tg:
        tg.start_soon(agent, "a", "unit_price")
        tg.start_soon(agent, "b", "formatPrice")
    assert len(answers["a"]) == len(answers["b"]) == 1
    assert "shop/cart.py:8" in answers["a"].pop() and "web/app.js:4" in answers["b"].pop()


async def test_http_two_agents_apply_the_same_edit_at_once(http, repo):
    s = http()
    results = []

    async def agent():
        async with _client(s.url) as c:
            results.append(await c.call_tool("apply_edit", {"text": PRICES_DIFF}))
    async with anyio.create_task_group() as tg:
        tg.start_soon(agent)
        tg.start_soon(agent)
    assert sorted(r.is_error for r in results) == [False, True], [_text(r) for r in results]
    assert "not in the file" in next(_text(r) for r in results if r.is_error)
    assert (repo / "shop/prices.py").read_text().count("def shipping_cost") == 1


async def test_http_origin_checks_and_token(http):
    s = http("--token", "s3cret")
    async with httpx2.AsyncClient() as h:
        body = {"jsonrpc": "2.0", "id": 1, "method": "tools/list"}
        hdr = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}
        assert (await h.post(s.url, json=body, headers=hdr)).status_code == 401
        assert (await h.post(s.url, json=body, headers={**hdr, "Authorization": "Bearer wrong"})).status_code == 401
        evil = {**hdr, "Authorization": "Bearer s3cret", "Origin": "http://evil.example"}
        assert (await h.post(s.url, json=body, headers=evil)).status_code == 403
    async with _client(s.url, "s3cret") as c:
        assert "shop/prices.py" in _text(await c.call_tool("find_symbol", {"name": "unit_price"}))


def test_http_beyond_loopback_needs_a_token(repo):
    p = subprocess.run([sys.executable, "-m", "repoctx", "mcp", str(repo), "--http", "0.0.0.0:0"],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 2 and "give --token" in p.stderr


async def test_a_request_cancelled_mid_pack(tmp_path):
    files = {f"pkg/m{i}.py": "".join(f"def f{i}_{j}(x):\n    return x + {j}\n\n" for j in range(60)) for i in range(300)}
    big = make_repo(tmp_path / "big", files)
    async with Client(_params(big), mode="legacy") as c:
        started = anyio.Event()

        async def progress(done, total, message):
            if message and message.startswith("pack_context"):
                started.set()
        result = []
        async with anyio.create_task_group() as tg:
            async def call():
                result.append(await c.call_tool("pack_context", {"query": "f3_4 f20_1", "budget": 200_000},
                                                progress_callback=progress))
            tg.start_soon(call)
            await started.wait()
            tg.cancel_scope.cancel()
        assert result == []  # cancelled: no answer
        r = await c.call_tool("find_symbol", {"name": "f3_4"})
        assert not r.is_error and "pkg/m3.py" in _text(r)


# -- README -------------------------------------------------------------------------------------

def _snippets() -> dict[str, str]:
    text = (ROOT / "README.md").read_text()
    section = text.split("### Agents (MCP)", 1)[1].split("\n## ", 1)[0]
    return {m.group(1): m.group(2) for m in re.finditer(r"<!-- mcp:(\w+) -->\n```\w*\n(.*?)```", section, re.S)}


def test_readme_client_setup_snippets_parse():
    s = _snippets()
    assert set(s) == {"claude", "codex", "cursor", "vscode"}
    assert s["claude"].strip().startswith("claude mcp add") and "-- repoctx mcp" in s["claude"]
    codex = tomllib.loads(s["codex"])["mcp_servers"]["repoctx"]
    assert codex["command"] == "repoctx" and codex["args"][0] == "mcp"
    cursor = json.loads(s["cursor"])["mcpServers"]["repoctx"]
    assert cursor["command"] == "repoctx" and cursor["args"][0] == "mcp"
    vscode = json.loads(s["vscode"])["servers"]["repoctx"]
    assert vscode["type"] == "stdio" and vscode["command"] == "repoctx" and vscode["args"][0] == "mcp"


# -- answers that fit the client ------------------------------------------------------------------

def _large_repo(root: Path) -> Path:
    """A repository of about 40,000 tokens: larger than one default answer."""
    files = {f"pkg/mod{i:02}.py": "".join(
        f'def handler_{i}_{j}(request, retries={j}):\n    """Handle request kind {j} of module {i}, retrying."""\n'
        f"    value = request.get('field_{j}', {i * j})\n    for attempt in range(retries):\n"
        f"        value = transform_{i}(value, attempt)\n    return value\n\n\n" for j in range(12))
        + f"def transform_{i}(value, attempt):\n    return value * {i + 1} + attempt\n" for i in range(40)}
    files["tests/test_mod.py"] = "from pkg.mod01 import handler_1_1\n\n\ndef test_handler():\n    assert handler_1_1({})\n"
    files["data/blob.txt"] = "x = 1\n" * 400_000   # 2.4 MB: skipped as too large
    return make_repo(root, files)


async def test_default_answer_fits_under_the_client_cap_and_larger_packs_come_in_parts(tmp_path):
    repo = _large_repo(tmp_path / "big")
    async with Client(_params(repo)) as c:
        r = await c.call_tool("pack_context", {"query": "handle request retries"})
        s = r.structured_content
        assert not r.is_error and s["budget"] == 16_000 and 14_000 < s["tokens"] <= 16_000, s["tokens"]
        assert count_tokens(_text(r), get_encoding("o200k_base")) <= 16_000
        assert any("too-large" in w and "skipped" in w for w in s["warnings"]), s["warnings"]
        # a larger budget is paged as --split cuts it: every part within max_tokens, together the whole pack
        whole = await c.call_tool("pack_context", {"query": "handle request retries", "budget": 9000,
                                                  "max_tokens": 20_000})
        first = await c.call_tool("pack_context", {"query": "handle request retries", "budget": 9000,
                                                  "max_tokens": 4000})
        n = first.structured_content["parts"]
        assert n >= 3 and first.structured_content["next_part"] == 2 and "ask part=2" in _text(first)
        spans = {}
        for i in range(1, n + 1):
            r = first if i == 1 else await c.call_tool("pack_context", {"query": "handle request retries",
                                                                          "budget": 9000, "max_tokens": 4000, "part": i})
            s = r.structured_content
            assert not r.is_error and s["part"] == i and s["parts"] == n and s["tokens"] <= 4000
            assert "warnings" in s and ("next_part" in s) == (i < n)
            for f in s["files"]:
                spans.setdefault(f["path"], []).extend(map(tuple, f["spans"]))
        assert {p: sorted(v) for p, v in spans.items()} == {
            f["path"]: sorted(map(tuple, f["spans"])) for f in whole.structured_content["files"]}
        r = await c.call_tool("pack_context", {"query": "handle request retries", "budget": 9000,
                                               "max_tokens": 4000, "part": n + 1})
        assert r.is_error and f"has {n} part(s)" in _text(r)
        r = await c.call_tool("pack_context", {"budget": 9000, "max_tokens": 30})
        assert r.is_error and "max_tokens" in _text(r) and "--split" not in _text(r)
        # the map too: within max_tokens, paged, warnings always there
        r = await c.call_tool("repo_map", {"budget": 3000, "max_tokens": 800})
        s = r.structured_content
        assert s["parts"] >= 3 and s["tokens"] <= 800 and "warnings" in s
        last = await c.call_tool("repo_map", {"budget": 3000, "max_tokens": 800, "part": s["parts"]})
        assert not last.is_error and "next_part" not in last.structured_content
        assert "warnings" in (await c.call_tool("repo_map", {})).structured_content


async def test_a_change_pack_with_no_change_says_so(repo):
    async with Client(_params(repo)) as c:
        for diff, words in (("worktree", "no change against HEAD"), ("staged", "nothing is staged"),
                            ("HEAD", "no change against HEAD")):
            r = await c.call_tool("pack_context", {"diff": diff})
            s = r.structured_content
            assert not r.is_error and _text(r).startswith("no change") and words in _text(r), _text(r)
            assert s["tokens"] == 0 and s["files"] == [] and any(words in w for w in s["warnings"])


async def test_a_budget_that_holds_nothing_is_an_error_naming_the_least_that_works(repo):
    async with Client(_params(repo)) as c:
        r = await c.call_tool("pack_context", {"query": "discount", "budget": 12})
        assert r.is_error and "holds nothing" in _text(r), _text(r)
        need = int(re.search(r"at least ([\d,]+)", _text(r))[1].replace(",", ""))
        r = await c.call_tool("pack_context", {"query": "discount", "budget": need})
        assert not r.is_error and r.structured_content["files"], _text(r)


async def test_tool_definitions_fit_the_limit_for_one_repository_with_a_long_name(tmp_path):
    repo = make_repo(tmp_path / "django-framework-5.2.8", FILES)
    async with Client(_params(repo), mode="legacy") as c:
        listed = (await c.list_tools()).tools
        wire = json.dumps({"tools": [t.model_dump(by_alias=True, exclude_none=True, mode="json") for t in listed]})
        assert count_tokens(wire, get_encoding("o200k_base")) < 1000   # 964 now: no `repo` without a choice
        assert {"max_tokens", "part"} <= set(next(t for t in listed if t.name == "pack_context").input_schema["properties"])
        assert all("repo" not in t.input_schema["properties"] for t in listed)
        r = await c.call_tool("find_symbol", {"name": "Cart", "repo": "django-framework-5.2.8"})
        assert not r.is_error, _text(r)   # naming the one repository is still accepted
