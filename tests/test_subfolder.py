"""A command run in (or given) a subfolder of a git repository works on the enclosing repository, as
git does: the repository's index, settings and repository-relative paths, narrowed to the subfolder;
a change (--diff, --staged) is the whole repository's."""
from __future__ import annotations

import json
import sys

import pytest
import pytest_lsp
from lsprotocol import types as t
from pytest_lsp import ClientServerConfig, LanguageClient

from conftest import git, make_repo, run_cli

from repoctx import Workspace, locate
from repoctx.files import OutsideWorkspace

FILES = {
    "a/utils.py": "def shared_helper(x):\n    return x * 2\n",
    "a/deep/more.py": "from a.utils import shared_helper\n\n\ndef deeper():\n    return shared_helper(3)\n",
    "b/main.py": "from a.utils import shared_helper\n\n\ndef run_main():\n    return shared_helper(1)\n",
    "vendor/lib/vendored.py": "def vendored_fn():\n    return 0\n",
    "top.py": "def top_level():\n    return 1\n",
    ".repoctx.toml": 'budget = "6k"\n',
}


@pytest.fixture()
def repo(tmp_path):
    return make_repo(tmp_path / "repo", FILES)


def test_locate_finds_the_enclosing_repository(repo, tmp_path):
    assert locate(str(repo / "a" / "deep")) == (str(repo.resolve()), "a/deep")
    assert locate(str(repo)) == (str(repo.resolve()), "")
    plain = tmp_path / "plain" / "sub"
    plain.mkdir(parents=True)
    assert locate(str(plain)) == (str(plain.resolve()), "")  # outside git: the folder itself
    with pytest.raises(NotADirectoryError):
        locate(str(repo / "top.py"))


def test_stats_in_a_subfolder_uses_the_repository_and_its_paths(repo):
    r = run_cli("stats", "--json", cwd=repo / "a")
    assert r.returncode == 0, r.stderr
    s = json.loads(r.stdout)
    assert s["root"] == str(repo.resolve()) and s["scope"] == "a" and s["files"] == 2
    assert sorted(x["path"] for x in s["largest"]) == ["a/deep/more.py", "a/utils.py"]
    assert sorted(f["folder"] for f in s["folders"]) == ["a/", "a/deep/"]
    # One index, the repository's: no second one inside the subfolder.
    assert (repo / ".repoctx" / "index.sqlite").exists() and not (repo / "a" / ".repoctx").exists()
    assert "only a/" in run_cli("stats", cwd=repo / "a").stdout.split("\n")[0]


def test_pack_of_a_subfolder_packs_only_it_with_repository_paths(repo, tmp_path):
    r = run_cli("pack", str(repo / "a"), "--mode", "whole", "--format", "plain", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "=== a/utils.py ===" in r.stdout and "=== a/deep/more.py ===" in r.stdout
    assert "b/main.py" not in r.stdout and "top.py" not in r.stdout
    assert "/6,000 tokens" in r.stderr  # the repository's settings file applies in its subfolders


def test_a_subfolder_below_a_vendored_folder_is_still_read(repo):
    r = run_cli("pack", "--mode", "whole", "--format", "plain", cwd=repo / "vendor" / "lib")
    assert r.returncode == 0 and "=== vendor/lib/vendored.py ===" in r.stdout, r.stderr


def test_map_search_and_graph_in_a_subfolder_speak_repository_paths(repo):
    cwd = repo / "a"
    assert "a/utils.py" in run_cli("map", cwd=cwd).stdout
    hits = json.loads(run_cli("search", "shared helper", "--json", cwd=cwd).stdout)
    assert hits and {h["path"] for h in hits} <= {"a/utils.py", "a/deep/more.py"}
    graph = json.loads(run_cli("graph", cwd=cwd).stdout)
    assert "a/deep/more.py" in json.dumps(graph) and "b/main.py" not in json.dumps(graph)


def test_focus_is_repository_relative_in_a_subfolder(repo):
    r = run_cli("pack", "--focus", "a/utils.py:1", "--mode", "slice", "--format", "plain", cwd=repo / "a")
    assert r.returncode == 0 and "a/utils.py" in r.stdout, r.stderr


def test_diff_in_a_subfolder_covers_the_whole_repository(repo):
    (repo / "b" / "main.py").write_text(FILES["b/main.py"] + "\n\ndef added_outside():\n    return 2\n")
    (repo / "a" / "utils.py").write_text(FILES["a/utils.py"] + "\n\ndef added_inside():\n    return 3\n")
    r = run_cli("pack", "--diff", "--format", "plain", cwd=repo / "a")
    assert r.returncode == 0, r.stderr
    assert "+++ b/b/main.py" in r.stdout and "+++ b/a/utils.py" in r.stdout  # nothing dropped
    assert "=== b/main.py" in r.stdout  # the code the change touches, outside the folder too
    git(repo, "add", "-A")
    r = run_cli("pack", "--staged", "--format", "plain", cwd=repo / "a" / "deep")
    assert r.returncode == 0 and "+++ b/b/main.py" in r.stdout and "added_outside" in r.stdout, r.stderr


def test_snapshots_hooks_init_and_apply_in_a_subfolder_are_the_repositorys(repo):
    sub = repo / "a" / "deep"
    (repo / "b" / "main.py").write_text(FILES["b/main.py"] + "# staged\n")
    git(repo, "add", "-A")
    r = run_cli("snapshot", "take", "--strict", cwd=sub)
    assert r.returncode == 0, r.stderr
    assert list((repo / ".repoctx" / "snapshots").iterdir()) and not (sub / ".repoctx").exists()
    git(repo, "commit", "-q", "-m", "staged")
    assert "+# staged" in run_cli("snapshot", "show", cwd=sub).stdout
    (repo / ".repoctx.toml").unlink()
    assert run_cli("init", cwd=sub).returncode == 0
    assert (repo / ".repoctx.toml").exists() and not (sub / ".repoctx.toml").exists()
    patch = ("--- a/b/main.py\n+++ b/b/main.py\n@@ -4,2 +4,2 @@\n def run_main():\n"
             "-    return shared_helper(1)\n+    return shared_helper(42)\n")
    r = run_cli("apply", "-C", str(sub), "-", input=patch)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "shared_helper(42)" in (repo / "b" / "main.py").read_text()


def test_a_workspace_on_a_subfolder_serves_the_repository_narrowed_to_it(repo):
    ws = Workspace(str(repo / "a"))
    assert (ws.root, ws.scope) == (str(repo.resolve()), "a")
    assert ws.settings.budget == 6000  # the repository's settings file
    repo_loaded = ws.load()
    assert sorted(repo_loaded.files) == ["a/deep/more.py", "a/utils.py"]
    assert ws.relpath(str(repo / "a" / "utils.py")) == "a/utils.py"
    with pytest.raises(OutsideWorkspace):
        ws.relpath(str(repo / "b" / "main.py"))
    assert [s.name for _, s in ws.symbols("a/utils.py")] == ["shared_helper"]


@pytest_lsp.fixture(config=ClientServerConfig(server_command=[sys.executable, "-m", "repoctx", "serve"]))
async def client(lsp_client: LanguageClient, tmp_path_factory):
    repo = make_repo(tmp_path_factory.mktemp("sub") / "repo", FILES)
    lsp_client.repo = repo
    await lsp_client.initialize_session(t.InitializeParams(
        capabilities=t.ClientCapabilities(), root_uri=(repo / "a").resolve().as_uri()))
    yield
    await lsp_client.shutdown_session()


async def test_the_language_server_on_a_subfolder_answers_for_the_repository(client):
    repo = client.repo
    uri = (repo / "a" / "utils.py").resolve().as_uri()
    found = await client.workspace_symbol_async(t.WorkspaceSymbolParams(query="shared_helper"))
    assert found and {s.location.uri for s in found} == {uri}
    answer = await client.protocol.send_request_async("repoctx/pack", {"budget": 2000, "format": "plain"})
    text = answer.text
    assert "=== a/utils.py ===" in text and "b/main.py" not in text
