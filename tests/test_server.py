"""The language server end to end: `repoctx serve` as a subprocess, driven over stdio by pytest-lsp."""
from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import pytest
import pytest_lsp
from lsprotocol import types as t
from pygls.exceptions import JsonRpcException
from pytest_lsp import ClientServerConfig, LanguageClient

from conftest import make_repo

UTIL = '''"""Money helpers."""


def compute_total(items, tax_rate):
    """Sum of the item prices with tax."""
    subtotal = sum(item.price for item in items)
    return round(subtotal * (1 + tax_rate), 2)


def format_money(amount):
    return f"${amount:,.2f}"
'''

APP = '''from shop.util import compute_total, format_money


def run_report(orders):
    lines = []
    for order in orders:
        total = compute_total(order.items, 0.2)
        lines.append(format_money(total))
    return "\\n".join(lines)
'''

# Unrelated code, so that the repository is larger than the budgets used below (slices, not whole).
FILLER = {f"shop/extra/mod{i}.py": "".join(
    f"def helper_{i}_{k}(value):\n    \"\"\"Unrelated helper number {k}.\"\"\"\n    return value * {k} + {i}\n\n\n"
    for k in range(12)) for i in range(25)}


AWS_ID = "AKIAIOSFODNN7EXAMPLE"
KEYS = f'''AWS_ACCESS_KEY_ID = "{AWS_ID}"


def connect(key_id="{AWS_ID}", region="eu-west-1"):
    """Connect with the key {AWS_ID}."""
    return key_id, region
'''


def _repo(root: Path) -> Path:
    return make_repo(root, {"shop/__init__.py": "", "shop/util.py": UTIL, "shop/app.py": APP, "shop/keys.py": KEYS,
                            **FILLER})


def _uri(path: Path) -> str:
    return path.resolve().as_uri()


@pytest_lsp.fixture(config=ClientServerConfig(server_command=[sys.executable, "-m", "repoctx", "serve"]))
async def client(lsp_client: LanguageClient, tmp_path_factory):
    repo = _repo(tmp_path_factory.mktemp("ws") / "repo")
    lsp_client.repo = repo
    caps = t.ClientCapabilities(window=t.WindowClientCapabilities(work_done_progress=True),
                                workspace=t.WorkspaceClientCapabilities(
                                    did_change_watched_files=t.DidChangeWatchedFilesClientCapabilities()))
    await lsp_client.initialize_session(t.InitializeParams(
        capabilities=caps, root_uri=_uri(repo), initialization_options={"budget": 1500, "format": "plain"}))
    yield
    await lsp_client.shutdown_session()


async def _context(client, rel: str, first: int, last: int, **extra):
    params = {"textDocument": {"uri": _uri(client.repo / rel)},
              "range": {"start": {"line": first, "character": 0}, "end": {"line": last, "character": 0}}, **extra}
    return await client.protocol.send_request_async("repoctx/context", params)


async def test_context_is_the_selection_with_what_it_needs(client):
    r = await _context(client, "shop/app.py", 3, 9)
    assert r.mode == "slice" and 0 < r.tokens <= r.budget == 1500
    assert r.encoding in ("o200k_base", "cl100k_base")
    assert "def run_report(orders):" in r.text and "total = compute_total(order.items, 0.2)" in r.text
    assert "def compute_total(items, tax_rate):" in r.text          # the callee's signature, from another file
    assert "from shop.util import compute_total, format_money" in r.text  # the import the lines use
    assert "helper_3_5" not in r.text
    uris = {f.uri for f in r.files}
    assert {_uri(client.repo / "shop/app.py"), _uri(client.repo / "shop/util.py")} <= uris
    # Indexing reported progress: begin, reports, end.
    kinds = [[type(v).__name__ for v in values] for values in client.progress_reports.values()]
    assert any(k[0] == "WorkDoneProgressBegin" and k[-1] == "WorkDoneProgressEnd" for k in kinds), kinds


async def test_execute_command_mirrors_the_custom_requests(client):
    params = {"textDocument": {"uri": _uri(client.repo / "shop/app.py")}, "position": {"line": 6, "character": 8},
              "budget": "1k", "format": "markdown"}
    r = await client.workspace_execute_command_async(t.ExecuteCommandParams(command="repoctx.context", arguments=[params]))
    assert r["budget"] == 1000 and r["tokens"] <= 1000 and "```" in r["text"] and "compute_total" in r["text"]
    p = await client.workspace_execute_command_async(t.ExecuteCommandParams(
        command="repoctx.pack", arguments=[{"query": "format money amount", "budget": 800}]))
    assert p["tokens"] <= 800 and "def format_money(amount):" in p["text"]
    m = await client.workspace_execute_command_async(t.ExecuteCommandParams(command="repoctx.map", arguments=[{}]))
    assert "shop/util.py" in m["text"] and m["tokens"] > 0


async def test_pack_and_map_requests(client):
    p = await client.protocol.send_request_async("repoctx/pack", {"query": "compute total tax", "budget": 1200})
    assert p.tokens <= 1200 and "def compute_total(items, tax_rate):" in p.text
    whole = await client.protocol.send_request_async("repoctx/pack", {"budget": 100000, "mode": "whole"})
    assert whole.mode == "whole" and "helper_24_11" in whole.text
    m = await client.protocol.send_request_async("repoctx/map", {"budget": 200, "focus": _uri(client.repo / "shop/app.py")})
    assert 0 < m.tokens <= 200 and "run_report" in m.text


async def test_unsaved_edits_are_what_every_answer_reflects(client):
    uri = _uri(client.repo / "shop/app.py")
    edited = APP + '''

def brand_new_summary(orders):
    return compute_total([o for o in orders], 0.0)
'''
    client.text_document_did_open(t.DidOpenTextDocumentParams(t.TextDocumentItem(uri=uri, language_id="python", version=1, text=APP)))
    client.text_document_did_change(t.DidChangeTextDocumentParams(
        text_document=t.VersionedTextDocumentIdentifier(uri=uri, version=2),
        content_changes=[t.TextDocumentContentChangeWholeDocument(text=edited)]))
    r = await _context(client, "shop/app.py", 12, 13)
    assert "def brand_new_summary(orders):" in r.text and "def compute_total(items, tax_rate):" in r.text
    symbols = await client.text_document_document_symbol_async(t.DocumentSymbolParams(t.TextDocumentIdentifier(uri)))
    assert [s.name for s in symbols] == ["run_report", "brand_new_summary"]
    found = await client.workspace_symbol_async(t.WorkspaceSymbolParams(query="brand_new"))
    assert [s.name for s in found] == ["brand_new_summary"]
    defs = await client.text_document_definition_async(t.DefinitionParams(
        t.TextDocumentIdentifier(uri), t.Position(12, 12)))
    assert [(d.uri, d.range.start.line) for d in defs] == [(_uri(client.repo / "shop/util.py"), 3)]
    # The saved file is still the old one: the disk did not change.
    assert "brand_new_summary" not in (client.repo / "shop/app.py").read_text()


async def test_a_file_changed_on_disk_is_picked_up(client):
    util = client.repo / "shop/util.py"
    util.write_text(UTIL + "\n\ndef refund_total(items):\n    return -compute_total(items, 0)\n")
    client.workspace_did_change_watched_files(t.DidChangeWatchedFilesParams(
        [t.FileEvent(_uri(util), t.FileChangeType.Changed)]))
    for _ in range(3000):  # up to 5 min, a hang guard: a busy machine reindexes later, not never
        found = await client.workspace_symbol_async(t.WorkspaceSymbolParams(query="refund_total"))
        if found:
            break
        await asyncio.sleep(0.1)
    assert [s.name for s in found] == ["refund_total"]
    assert found[0].location.range.start.line == 13


async def test_standard_requests_from_the_graph(client):
    util, app = _uri(client.repo / "shop/util.py"), _uri(client.repo / "shop/app.py")
    symbols = await client.text_document_document_symbol_async(t.DocumentSymbolParams(t.TextDocumentIdentifier(util)))
    assert [(s.name, s.kind, s.range.start.line) for s in symbols] == [
        ("compute_total", t.SymbolKind.Function, 3), ("format_money", t.SymbolKind.Function, 9)]
    hits = await client.workspace_symbol_async(t.WorkspaceSymbolParams(query="compute"))
    assert hits[0].name == "compute_total" and hits[0].location.uri == util
    refs = await client.text_document_references_async(t.ReferenceParams(
        text_document=t.TextDocumentIdentifier(uri=util), position=t.Position(line=3, character=6),
        context=t.ReferenceContext(include_declaration=True)))
    assert sorted((r.uri, r.range.start.line) for r in refs) == [(app, 0), (app, 6), (util, 3)]  # the import and the call
    hover = await client.text_document_hover_async(t.HoverParams(t.TextDocumentIdentifier(app), t.Position(6, 20)))
    value = hover.contents.value
    assert "def compute_total(items, tax_rate):" in value and "Sum of the item prices" in value
    assert "tokens**" in value and "used by 2 places in 1 file" in value  # the import and run_report


async def test_uris_outside_the_workspace_are_refused(client, tmp_path):
    outside = tmp_path / "secret.py"
    outside.write_text("TOKEN = 'x'\n")
    (client.repo / "shop/link.py").symlink_to(outside)
    for uri in (outside.as_uri(), _uri(client.repo / "shop/link.py"), _uri(client.repo) + "/../secret.py",
                "https://example.com/x.py"):
        with pytest.raises(JsonRpcException) as err:
            await client.protocol.send_request_async("repoctx/context", {
                "textDocument": {"uri": uri}, "position": {"line": 0, "character": 0}})
        assert err.value.code == -32602 and ("outside" in str(err.value) or "URI" in str(err.value))
    with pytest.raises(JsonRpcException):
        await client.text_document_hover_async(t.HoverParams(t.TextDocumentIdentifier(outside.as_uri()), t.Position(0, 0)))


MALFORMED = [
    None, [], 7, {"position": {"line": 0, "character": 0}},
    {"textDocument": {"uri": 42}, "position": {"line": 0, "character": 0}},
    {"textDocument": {}, "position": {"line": 0, "character": 0}},
    {"textDocument": "APP", "position": {"line": 0, "character": 0}},
    {"textDocument": {"uri": "APP"}, "position": {"line": -1, "character": 0}},
    {"textDocument": {"uri": "APP"}, "position": {"line": "3", "character": 0}},
    {"textDocument": {"uri": "APP"}, "position": {"line": True, "character": 0}},
    {"textDocument": {"uri": "APP"}},
    {"textDocument": {"uri": "APP"}, "range": "all"},
    {"textDocument": {"uri": "APP"}, "range": {"start": {"line": 0, "character": 0}}},
    {"textDocument": {"uri": "APP"}, "position": {"line": 0, "character": 0}, "budget": "lots"},
    {"textDocument": {"uri": "APP"}, "position": {"line": 0, "character": 0}, "budget": 0},
    {"textDocument": {"uri": "APP"}, "position": {"line": 0, "character": 0}, "budget": 1.5},
    {"textDocument": {"uri": "APP"}, "position": {"line": 0, "character": 0}, "format": "pdf"},
    {"textDocument": {"uri": "APP"}, "position": {"line": 0, "character": 0}, "query": ["a"]},
    {"textDocument": {"uri": "APP"}, "position": {"line": 0, "character": 0}, "lineNumbers": "yes"},
]


async def test_malformed_params_get_an_error_and_the_server_keeps_serving(client):
    app = _uri(client.repo / "shop/app.py")
    for params in MALFORMED:
        if isinstance(params, dict) and isinstance(params.get("textDocument"), dict) and params["textDocument"].get("uri") == "APP":
            params = {**params, "textDocument": {"uri": app}}
        with pytest.raises(JsonRpcException) as err:
            await client.protocol.send_request_async("repoctx/context", params)
        assert err.value.code == -32602, (params, err.value)
    for method, params in (("repoctx/pack", {"mode": "everything"}), ("repoctx/pack", {"budget": -3}),
                           ("repoctx/map", {"focus": 3}), ("repoctx/map", {"focus": "file:///etc/passwd"})):
        with pytest.raises(JsonRpcException) as err:
            await client.protocol.send_request_async(method, params)
        assert err.value.code == -32602, (method, params, err.value)
    with pytest.raises(JsonRpcException) as err:  # a budget below what the pack's frame takes
        await client.protocol.send_request_async("repoctx/pack", {"budget": 1, "format": "xml"})
    assert err.value.code == -32803 and "budget" in str(err.value)
    r = await _context(client, "shop/app.py", 3, 4)
    assert "def run_report" in r.text


async def test_no_answer_carries_a_secret(client):
    """Every text the server sends passes the library's one redaction point: map, packs, context,
    hover, document symbols (a signature and a doc holding a key)."""
    uri = _uri(client.repo / "shop/keys.py")
    answers = [await client.protocol.send_request_async("repoctx/map", {"budget": 20_000, "focus": uri}),
               await client.protocol.send_request_async("repoctx/pack", {"query": "connect key region", "budget": 3000}),
               await _context(client, "shop/keys.py", 0, 6)]
    texts = [a.text for a in answers]
    assert all("connect" in text for text in texts), texts
    hover = await client.text_document_hover_async(t.HoverParams(t.TextDocumentIdentifier(uri), t.Position(3, 5)))
    texts.append(hover.contents.value)
    assert "connect" in hover.contents.value
    symbols = await client.text_document_document_symbol_async(t.DocumentSymbolParams(t.TextDocumentIdentifier(uri)))
    texts += [f"{s.name} {s.detail}" for s in symbols]
    assert any(s.name == "connect" and "region" in s.detail for s in symbols), symbols
    assert not [text for text in texts if AWS_ID in text]
    assert all("[REDACTED:AWS Access Key]" in text for text in texts), texts


async def test_apply_edit_uses_the_unsaved_buffer_and_asks_the_client(client):
    uri = _uri(client.repo / "shop/util.py")
    unsaved = "# unsaved line\n" + UTIL
    client.text_document_did_open(t.DidOpenTextDocumentParams(t.TextDocumentItem(uri=uri, language_id="python", version=1, text=unsaved)))
    first = UTIL.splitlines()[0]
    patch = f"--- a/shop/util.py\n+++ b/shop/util.py\n@@ -1,1 +1,2 @@\n {first}\n+# added by the model\n"
    got = []

    @client.feature(t.WORKSPACE_APPLY_EDIT)
    def apply(params: t.ApplyWorkspaceEditParams):
        got.append(params.edit)
        return t.ApplyWorkspaceEditResult(applied=True)

    r = await client.protocol.send_request_async("repoctx/applyEdit", {"text": patch})
    assert r.ok and r.hunks[0].line == 2 and r.hunks[0].relaxation == "offset" and not got  # dry run by default
    change = r.edit.documentChanges[0]
    assert change.textDocument.uri == uri
    assert change.edits[0].newText == "# unsaved line\n" + first + "\n# added by the model\n" + UTIL.split("\n", 1)[1]
    r = await client.protocol.send_request_async("repoctx/applyEdit", {"text": patch, "dryRun": False})
    assert r.applied and got and got[0].document_changes[0].edits[0].new_text == change.edits[0].newText
    bad = await client.protocol.send_request_async("repoctx/applyEdit", {"text": patch.replace(first, "nothing like it")})
    assert not bad.ok and "not in the file" in bad.hunks[0].reason and bad.edit.documentChanges == []


async def test_a_hunk_refused_outside_the_workspace_names_no_file_there(client):
    patch = "--- a/../outside.py\n+++ b/../outside.py\n@@ -1,1 +1,2 @@\n x = 1\n+y = 2\n"
    r = await client.protocol.send_request_async("repoctx/applyEdit", {"text": patch})
    assert not r.ok and "outside" in r.hunks[0].reason
    assert getattr(r.hunks[0], "uri", None) is None and r.edit.documentChanges == []
