"""Workspace: the in-memory, incremental, confined view an editor session uses — as a library, on a
Python / TypeScript / Go repository (the language server over it: tests/test_server.py)."""
from __future__ import annotations

import os

import pytest
from conftest import make_repo

from repoctx.model import Focus
from repoctx.settings import Settings
from repoctx.workspace import OutsideWorkspace, Workspace

AWS_ID = "AKIA" + "Q3EGRTWX5MZJ7HNB"          # a realistic, fake access key id
GITHUB = "ghp_" + "x7Hq2LmN9pRt4VwY6zB8cD1fG3jK5sA0eU2i"
FILES = {
    "app/cli.py": '''from app.store import load


def main(path):
    rows = load(path)
    return len(rows)
''',
    "app/store.py": '''import json


def load(path):
    """Read the rows of a JSON file."""
    with open(path) as f:
        return json.load(f)
''',
    "app/aws.py": f'''def connect(key_id="{AWS_ID}", region="eu-west-1"):
    """Connect with the key {AWS_ID} unless given another."""
    return key_id, region
''',
    "web/token.ts": f'''export function authHeader(token: string = "{GITHUB}"): string {{
  return "Bearer " + token;
}}
''',
    "web/view.ts": '''import { authHeader } from './token';

export function render(name: string): string {
  return authHeader() + name;
}
''',
    "go.mod": "module example.com/svc\n\ngo 1.21\n",
    "calc/sum.go": "package calc\n\n// Sum adds the values.\nfunc Sum(xs []int) int {\n\tt := 0\n\tfor _, x := range xs {\n\t\tt += x\n\t}\n\treturn t\n}\n",
}


@pytest.fixture
def ws(tmp_path):
    w = Workspace(str(make_repo(tmp_path / "repo", FILES)), Settings(budget=3000))
    w.load()
    return w


def names(ws, path):
    return [s.name for _, s in ws.symbols(path)]


# -- confinement ---------------------------------------------------------------------------------

def test_paths_resolve_inside_the_root_or_raise(tmp_path):
    repo = make_repo(tmp_path / "repo", FILES)
    evil = tmp_path / "repo-evil"  # shares the root's name as a prefix
    evil.mkdir()
    (evil / "x.py").write_text("X = 1\n")
    os.symlink(repo / "app", repo / "alias")                  # a symlink that stays inside
    os.symlink(evil / "x.py", repo / "escape.py")             # one that leaves
    os.symlink(tmp_path / "missing.py", repo / "dangling.py")  # one that leaves to nothing
    os.symlink(repo, tmp_path / "via-link")
    for root in (repo, tmp_path / "via-link"):               # opened by its real path or through a link
        ws = Workspace(str(root))
        assert ws.relpath("app/cli.py") == "app/cli.py"
        assert ws.relpath(str(repo / "app/cli.py")) == "app/cli.py"
        assert ws.relpath(str(tmp_path / "via-link/app/cli.py")) == "app/cli.py"
        assert ws.relpath("web/../app/store.py") == "app/store.py"
        assert ws.relpath("alias/store.py") == "app/store.py"
        for bad in (str(evil / "x.py"), "../repo-evil/x.py", "escape.py", "dangling.py", "app/../..", ".",
                    str(repo), "/etc/passwd"):
            with pytest.raises(OutsideWorkspace, match="outside the workspace"):
                ws.relpath(bad)


# -- buffers ---------------------------------------------------------------------------------------

def test_an_unsaved_buffer_is_used_over_the_file_on_disk(ws):
    disk = open(os.path.join(ws.root, "web/view.ts")).read()
    buffer = disk.replace("export function render", "export function renderTitle") + (
        "\nexport function freshlyTyped(n: number): number {\n  return n * 2;\n}\n")
    ws.set_buffer("web/view.ts", buffer)
    assert names(ws, "web/view.ts") == ["renderTitle", "freshlyTyped"]
    assert [p for _, p, _ in ws.find_symbols("freshlyTyped")] == ["web/view.ts"]
    assert "render" not in [s.name for _, _, s in ws.find_symbols("render")]
    pack = ws.pack(ws.request(focus=[Focus("web/view.ts", 7, 9)], mode="slice"))
    assert "export function freshlyTyped(n: number): number {" in pack.text
    assert "export function authHeader(" in pack.text  # the buffer's import is followed
    whole = ws.pack(ws.request(mode="whole", budget=100_000, format="plain"))
    assert buffer.rstrip("\n") in whole.text and "function render(" not in whole.text
    assert open(os.path.join(ws.root, "web/view.ts")).read() == disk  # nothing written
    ws.close_buffer("web/view.ts")
    assert names(ws, "web/view.ts") == ["render"] and ws.find_symbols("freshlyTyped") == []


def test_a_buffer_for_a_file_not_on_disk_yet(ws):
    ws.set_buffer("calc/mean.go", "package calc\n\nfunc Mean(xs []int) int {\n\treturn Sum(xs) / len(xs)\n}\n")
    assert names(ws, "calc/mean.go") == ["Mean"]
    assert [loc.path for loc in ws.definitions("calc/mean.go", 4, 9)] == ["calc/sum.go"]  # Sum, same package
    text = ws.pack(ws.request(focus=[Focus("calc/mean.go", 3, 5)], mode="slice", format="plain")).text
    assert "=== calc/mean.go ===" in text and "func Sum(xs []int) int {" in text


# -- incremental loads -----------------------------------------------------------------------------

def test_an_edit_on_disk_is_picked_up_by_the_next_load_and_matches_a_fresh_load(ws):
    before = ws.pack(ws.request(query="sum the values", mode="slice"))
    path = os.path.join(ws.root, "calc/sum.go")
    with open(path, "w") as f:
        f.write("package calc\n\n// Total adds the values.\nfunc Total(xs []int) int {\n\treturn 0\n}\n\n"
                "// Max of the values.\nfunc Max(xs []int) int {\n\treturn xs[0]\n}\n")
    assert names(ws, "calc/sum.go") == ["Sum"]  # nothing changes until the next load
    ws.load()
    assert names(ws, "calc/sum.go") == ["Total", "Max"]
    assert [s.name for _, _, s in ws.find_symbols("Max")] == ["Max"] and ws.find_symbols("Sum") == []
    fresh = Workspace(ws.root, Settings(budget=3000))
    fresh.load()
    for path in FILES:
        if path != "go.mod":
            assert ws.symbols(path) == fresh.symbols(path)
    request = ws.request(mode="whole", budget=100_000)
    assert ws.pack(request).text == fresh.pack(request).text  # byte-identical to a full rebuild
    after = ws.pack(ws.request(focus=[Focus("calc/sum.go", 9, 11)], mode="slice", format="plain"))
    assert "func Max(xs []int) int {" in after.text and "func Sum" not in after.text and before.text != after.text


def test_a_removed_file_is_gone_after_the_next_load(ws):
    os.remove(os.path.join(ws.root, "app/store.py"))
    ws.load()
    assert "app/store.py" not in ws.repo.files and ws.find_symbols("load") == []
    assert "app/store.py" not in ws.pack(ws.request(mode="whole", budget=100_000)).text
    assert [loc.path for loc in ws.definitions("app/cli.py", 5, 12)] == []  # `load` has no definition left


# -- redaction -------------------------------------------------------------------------------------

def test_no_answer_carries_a_secret(ws):
    for path in ("app/aws.py", "web/token.ts"):
        for sid, s in ws.symbols(path):
            assert AWS_ID not in s.signature + s.doc and GITHUB not in s.signature + s.doc
            d = ws.describe(sid)
            assert AWS_ID not in repr(d) and GITHUB not in repr(d)
    sig = dict(ws.symbols("app/aws.py"))["app/aws.py:connect"].signature
    assert sig.startswith('def connect(key_id="[REDACTED:AWS Access Key]"')
    for query in ("connect", "authHeader", ""):
        for _, _, s in ws.find_symbols(query):
            assert AWS_ID not in s.signature + s.doc and GITHUB not in s.signature + s.doc
    for focus in (None, "app/aws.py", "web/token.ts"):
        text, tokens = ws.map(budget=2000, focus=focus)
        assert "connect(" in text and "authHeader(" in text and tokens > 0
        assert AWS_ID not in text and GITHUB not in text
    for fmt in ("xml", "plain"):
        assert AWS_ID not in ws.pack(ws.request(mode="whole", budget=100_000, format=fmt)).text
    ws.set_buffer("calc/sum.go", f'package calc\n\n// Sum uses {AWS_ID}.\nfunc Sum(key string) string {{\n\treturn "{GITHUB}"\n}}\n')
    assert AWS_ID not in ws.describe("calc/sum.go:Sum")["symbol"].doc
    assert AWS_ID not in ws.map(budget=2000, focus="calc/sum.go")[0]
    assert GITHUB not in ws.pack(ws.request(focus=[Focus("calc/sum.go", 4, 6)], mode="slice")).text


def test_a_buffer_edit_of_a_file_whose_name_is_quoted_renews_the_cached_map(tmp_path):
    """The map shows a name with an invisible character quoted (`render.shown_path`); the cached map
    must still be dropped when that file's buffer changes, not keep its old definitions."""
    name = "pkg/zero\u200bwidth.py"
    root = make_repo(tmp_path / "r", {name: "def old_definition():\n    return 1\n",
                                      "pkg/other.py": "def helper():\n    return 2\n"})
    ws = Workspace(str(root))
    ws.load()
    first = ws.pack(ws.request(mode="slice", budget=4000)).text
    assert "old_definition" in first
    ws.set_buffer(name, "def renamed_definition():\n    return 1\n")
    second = ws.pack(ws.request(mode="slice", budget=4000)).text
    assert "renamed_definition" in second and "old_definition" not in second
