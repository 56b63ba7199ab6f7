"""An editor's buffers over the stored graph (graph/overlay.py) answer as the in-memory patch did
(`RepoGraph.patched`, a linker over every file's facts): every lookup of the graph, and the
workspace's references, definitions and context, on a fixture repository with edited buffers."""
from __future__ import annotations

import pytest
from conftest import make_repo

from repoctx import workspace as workspace_module
from repoctx.graph import overlay
from repoctx.graph.link import RepoGraph, module_id
from repoctx.graph.store import StoredGraph
from repoctx.model import Focus
from repoctx.settings import Settings
from repoctx.workspace import Workspace

FILES = {
    "app/store.py": "import json\n\n\ndef load(path):\n    with open(path) as f:\n        return json.load(f)\n\n\n"
                    "def save(path, rows):\n    return path, rows\n\n\nclass Box:\n    def put(self, x):\n"
                    "        return save(x, [x])\n",
    "app/cli.py": "from app.store import load, save, Box\n\n\ndef main(path):\n    rows = load(path)\n"
                  "    save(path, rows)\n    Box().put(1)\n    return len(rows)\n",
    "app/more.py": "from app import store\n\n\ndef again(p):\n    return store.load(p)\n",
    "lib/util.h": "int helper(int x);\nint twice(int x);\n",
    "lib/util.c": '#include "util.h"\n\nint helper(int x)\n{\n\treturn twice(x) + 1;\n}\n\n'
                  "int twice(int x)\n{\n\treturn 2 * x;\n}\n",
    "lib/main.c": '#include "util.h"\n\nint main(void)\n{\n\treturn helper(3) + twice(4);\n}\n',
    "web/token.js": "export function auth(t) {\n  return 'B ' + t;\n}\n",
    "web/view.js": "import { auth } from './token';\n\nexport function render(n) {\n  return auth(n) + n;\n}\n",
}
#: Buffers: a new function that calls others, a function removed that others call, a new file, new imports.
BUFFERS = {
    "app/store.py": "import json\n\n\ndef load(path):\n    return fresh(path)\n\n\ndef fresh(path):\n"
                    "    with open(path) as f:\n        return json.load(f)\n\n\nclass Box:\n    def put(self, x):\n"
                    "        return load(x)\n",
    "lib/util.c": '#include "util.h"\n\nint helper(int x)\n{\n\treturn twice(x) + added(x);\n}\n\n'
                  "int added(int x)\n{\n\treturn x;\n}\n",
    "app/new.py": "from app.store import load\nfrom app.cli import main\n\n\ndef run(p):\n    return main(load(p))\n",
    "web/view.js": "import { auth } from './token';\nimport * as cli from '../app/cli';\n\n"
                   "export function render(n) {\n  return auth(n) + cli.main(n);\n}\n",
}


def in_memory(graph, root, facts, new_facts, changed):
    """The patch as it was: a linker over every file's facts (`RepoGraph.patched`)."""
    return RepoGraph.patched(graph, root, facts, new_facts, changed)


@pytest.fixture
def ws(tmp_path):
    w = Workspace(str(make_repo(tmp_path / "repo", FILES)), Settings(budget=3000))
    w.load()
    return w


def lookups(g: RepoGraph, paths: list[str], ids: list[str]) -> dict:
    return {"references": list(g.references), "ambiguous": list(g.ambiguous), "imports": list(g.imports),
            "external": list(g.external_imports), "files": list(g.files),
            **{f"from {p}": g.references_from(p) for p in paths},
            **{f"importers {p}": g.importers_of(p) for p in paths},
            **{f"imported {p}": g.imported_by(p) for p in paths},
            **{f"symbols {p}": g.symbols_in(p) for p in paths},
            **{f"callers {i}": g.callers_of(i) for i in ids},
            **{f"callees {i}": g.callees_of(i) for i in ids}}


@pytest.mark.parametrize("edited", [[p] for p in BUFFERS] + [sorted(BUFFERS)])
def test_buffer_graph_answers_as_the_in_memory_patch(ws, edited):
    base = ws.view().repo
    assert isinstance(base.graph, StoredGraph)
    for p in edited:
        ws.set_buffer(p, BUFFERS[p])
    repo = ws.repo
    assert isinstance(repo.graph, overlay.Overlay)
    old = in_memory(base.graph, base.root, base.facts, repo.facts, sorted(repo.overlay))
    paths = sorted(repo.files)
    ids = sorted({*base.graph.symbols, *repo.graph.symbols, *map(module_id, paths)})
    assert lookups(repo.graph, paths, ids) == lookups(old, paths, ids)
    assert repo.graph.gone or edited != ["app/store.py"]  # `save` went: references into it are dropped


def answers(ws) -> dict:
    out = {}
    for path, line, col in [("app/cli.py", 5, 12), ("app/cli.py", 6, 5), ("app/store.py", 4, 5),
                            ("app/store.py", 5, 12), ("lib/main.c", 5, 9), ("lib/util.c", 5, 18),
                            ("app/new.py", 6, 12), ("web/view.js", 5, 30)]:
        out[(path, line, col)] = (ws.references(path, line, col), ws.definitions(path, line, col))
    for path in ("app/store.py", "lib/util.c", "app/new.py"):
        out[path] = ws.pack(ws.request(focus=[Focus(path, 1, 3)], budget=2000)).text
    return out


def test_workspace_answers_as_with_the_in_memory_patch(ws, monkeypatch):
    for p, text in BUFFERS.items():
        ws.set_buffer(p, text)
    new = answers(ws)
    assert isinstance(ws.repo.graph, overlay.Overlay)
    monkeypatch.setattr(overlay, "patched_graph", in_memory)
    monkeypatch.setattr(workspace_module, "patched_graph", in_memory)
    ws.set_buffer("app/new.py", BUFFERS["app/new.py"] + "\n")  # a view made again, the old way
    ws.set_buffer("app/new.py", BUFFERS["app/new.py"])
    assert not isinstance(ws.repo.graph, overlay.Overlay)
    assert answers(ws) == new


def test_saved_files_patch_the_stored_graph(ws):
    """A few files changed on disk are relinked over the loaded stored graph, as buffers are."""
    root = ws.root
    for p in ("app/store.py", "app/new.py"):
        with open(f"{root}/{p}", "w") as f:
            f.write(BUFFERS[p])
    ws.refresh()
    g = ws.repo.graph
    assert isinstance(g, overlay.Overlay) and isinstance(g.base, StoredGraph)
    assert g.callers_of("app/store.py:fresh") == ["app/store.py:load"]
    assert "app/store.py:Box.put" in g.callers_of("app/store.py:load")
    assert g.callers_of("app/store.py:save") == []


def test_saves_relink_at_most_patch_limit_files_before_a_whole_load(ws, monkeypatch):
    """Each save relinks every file saved since the last whole load: past PATCH_LIMIT of them, the
    state is loaded whole (from the store's own update) instead of relinking more and more."""
    monkeypatch.setattr(workspace_module, "PATCH_LIMIT", 2)
    for p, want in (("app/store.py", overlay.Overlay), ("lib/util.c", overlay.Overlay), ("web/view.js", StoredGraph)):
        with open(f"{ws.root}/{p}", "w") as f:
            f.write(BUFFERS[p])
        ws.refresh()
        assert type(ws.repo.graph) is want, p


def test_a_patched_index_keeps_each_node_s_file_only_while_file_ids_stay(ws):
    """An edit's index reuses the walk nodes' file ids (`RetrievalIndex._node_files`) when every
    file keeps its id (a buffer of a new file comes last), and makes them again when a load put a
    new file among the others."""
    ws.view().index._node_files()
    ws.set_buffer("app/new.py", BUFFERS["app/new.py"])
    with open(f"{ws.root}/app/aaa.py", "w") as f:  # sorts before the files it shifts
        f.write("def first():\n    return 1\n")
    for refresh in (False, True):
        if refresh:
            ws.refresh()
        index = ws.view().index
        kept = index._node_files()
        index._node_file = None
        assert kept.tolist() == index._node_files().tolist(), refresh
