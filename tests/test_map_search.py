"""The map and search serve the query: code before tests, one entry per definition, JS members named
by their object, no import lines; exact and qualified names first, the same ranking for workspace/symbol."""
from __future__ import annotations

import pytest

from conftest import make_repo
from repoctx.index.load import load_repository
from repoctx.pack.map import repo_map
from repoctx.retrieve.rank import RetrievalIndex
from repoctx.retrieve.search import EXACT, find_symbols, name_tier, search

FILES = {
    "lib/response.js": ("var send = require('send');\nvar path = require('node:path');\nvar res = Object.create(null);\n\n"
                        "/** Send a response. */\nres.send = function send(body) {\n  return send(body);\n};\n\n"
                        "res.redirect = function redirect(url) {\n  return this.send(url);\n};\n"),
    "lib/app.js": "var app = exports = module.exports = {};\n\napp.listen = function listen() {\n  return 1;\n};\n",
    "net/adapters.py": ("class BaseAdapter:\n    def send(self, request):\n        raise NotImplementedError\n\n\n"
                        "class HTTPAdapter(BaseAdapter):\n    def send(self, request):\n        return request\n\n"
                        "    def sender_name(self):\n        return 'http'\n"),
    "net/sessions.py": ("from net.adapters import HTTPAdapter\n\n\nclass Session:\n    def send(self, request):\n"
                        "        return HTTPAdapter().send(request)\n"),
    "tests/test_adapters.py": "".join(f"def test_send_{i}():\n    assert True\n\n\n" for i in range(30)),
}


@pytest.fixture(scope="module")
def index(tmp_path_factory):
    repo = load_repository(str(make_repo(tmp_path_factory.mktemp("ms") / "r", FILES)), workers=1)
    return RetrievalIndex.load(repo)


def test_map_puts_code_before_tests_names_members_by_object_and_skips_imports(index):
    text = repo_map(index, 10_000)
    assert text.index("tests/test_adapters.py") > max(text.index(p) for p in FILES if not p.startswith("tests/"))
    assert "require(" not in text and "from net.adapters import" not in text
    assert text.count("function send(body)") == 1  # one entry per definition
    names = {sid.split(":", 1)[1] for sid in index.repo.graph.symbols if sid.startswith("lib/")}
    assert {"res.send", "res.redirect", "app.listen"} <= names and "send.send" not in names
    small = repo_map(index, 60)
    assert "def test_send_" not in small and small  # a small map is code, not a list of tests


def test_exact_and_qualified_names_rank_first_and_nothing_is_unnamed(index):
    assert [(h.path, h.symbol) for h in search(index, "HTTPAdapter.send")][:1] == [("net/adapters.py", "HTTPAdapter.send")]
    assert search(index, "adapters.HTTPAdapter.send")[0].symbol == "HTTPAdapter.send"  # module.Class.method
    assert search(index, "res.send")[0].symbol == "res.send"                        # obj.method
    assert [(h.path, h.symbol) for h in search(index, "net.HTTPAdapter")][:1] == [("net/adapters.py", "HTTPAdapter")]  # pkg.Class
    assert [h.symbol for h in search(index, "lib.app.listen")][:1] == ["app.listen"]  # pkg.obj.method
    assert name_tier("other.HTTPAdapter", "net/adapters.py", "HTTPAdapter") is None  # a folder not on its path
    assert name_tier("r.HTTPAdapter", "adapters.py", "HTTPAdapter", root="r") == EXACT  # top-level file: the repo folder
    top = [h.symbol for h in search(index, "send")[:4]]
    assert set(top) == {"BaseAdapter.send", "HTTPAdapter.send", "Session.send", "res.send"}  # exact names first
    assert all(h.symbol for h in search(index, "adapter request send", limit=50))
    # workspace/symbol: the same name ranking, then the fuzzy tiers of a picker
    assert [s for s, _, _ in find_symbols(index, "HTTPAdapter.send")][:1] == ["net/adapters.py:HTTPAdapter.send"]
    picked = [sid.split(":", 1)[1] for sid, _, _ in find_symbols(index, "send")]
    assert picked.index("HTTPAdapter.sender_name") > picked.index("HTTPAdapter.send")
    assert all(not p.startswith("test_send") for p in picked[:5])


GO = {
    "routes/group.go": ("package routes\n\ntype Group struct {\n\tprefix string\n}\n\n"
                        "// Nest creates a nested route group. All routes that share a common middleware\n"
                        "// chain or path prefix should be nested in one group, so middleware is combined once.\n"
                        "func (g *Group) Nest(prefix string) *Group {\n\treturn &Group{prefix: g.prefix + prefix}\n}\n\n"
                        "func (g *Group) Prefix() string {\n\treturn g.prefix\n}\n"),
    "routes/other.go": "package routes\n\nfunc Helper() int {\n\treturn 1\n}\n",
}


def test_search_names_the_definition_a_doc_comment_documents_scores_fall_and_no_match_fails(tmp_path):
    from conftest import run_cli
    import json
    repo = make_repo(tmp_path / "go", GO)
    r = run_cli("search", "nested route group middleware", str(repo), "--json")
    assert r.returncode == 0, r.stderr
    hits = json.loads(r.stdout)
    assert hits[0]["symbol"] == "Group.Nest" and hits[0]["start_line"] in (6, 7), hits[0]
    assert all(h["symbol"] != "<module>" or h["path"] != "routes/group.go" or h["start_line"] > 11 for h in hits)
    for words in ("Nest", "Group", "prefix group"):  # a name's hits first, and the scores fall down the list
        scores = [h["score"] for h in json.loads(run_cli("search", words, str(repo), "--json").stdout)]
        assert scores == sorted(scores, reverse=True), (words, scores)
    for query in ("zzzqqqxx", "   "):
        r = run_cli("search", query, str(repo))
        assert r.returncode == 1 and not r.stdout and ("no match" in r.stderr or "empty" in r.stderr), r.stderr


def test_a_small_map_shows_several_files_not_every_line_of_the_first(tmp_path):
    from conftest import run_cli
    files = {"core.py": "".join(f"def handler_{i}(x):\n    return x + {i}\n\n\n" for i in range(80)),
             "a.py": "from core import handler_1\n\n\ndef use_a():\n    return handler_1(1)\n",
             "b.py": "from core import handler_2\n\n\ndef use_b():\n    return handler_2(2)\n"}
    repo = make_repo(tmp_path / "r", files)
    r = run_cli("map", str(repo), "--budget", "300")
    assert r.returncode == 0, r.stderr
    heads = [ln for ln in r.stdout.splitlines() if not ln.startswith(" ")]
    assert heads[0] == "core.py" and len(heads) >= 3, r.stdout
    assert "more definitions" in r.stdout
