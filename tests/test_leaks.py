"""No secret leaves by any door: a file that packs leave out (secret files by name, files the user's
`.repoctxignore` hides) never appears in a diff section, a snapshot, a git note, an MCP answer or a
graph export, and every value a scan finds is redacted wherever it goes — including a diff's lines,
which keep their `+`/`-` prefix and the name assigned. The repository itself cannot turn this off.

Every secret here is a made-up value in its issuer's format."""
from __future__ import annotations

import json
import os
import sys

import pytest
from mcp import Client, StdioServerParameters

from conftest import git, make_repo, run_cli, write_files

GH = "ghp_" + "Zq8Lm3Rt7Yv2Wx5Kp9Nc4Bd6Hf1Jg0Ts8Ua7"
AWS_ID = "AKIA" + "Q7R3T5W9X2Y4Z6B8"
AWS_SECRET = "m9Kx2Lq7Rv4Tz8Wn3Bp6Cy1Df5Gh0Jk2Ls4Qa"
STRIPE = "sk_live_" + "51HqLyjWDarjtT1zdp7dcXq9"
PGPASS = "Pgp4ssW0rd-quiet-river"          # nothing a content scan would find: only the file rule hides it
NETRC = "N3trc-lantern-harbour"
PRIVATE_NOTE = "codename BLUEFALCON launches friday"  # in a file the user's .repoctxignore hides
LONG_GH = "ghp_" + "Lg7Hq2Wm9Xc4Vb1Nz8Kt3Rp6Ys5Dj0Fa2Ue4"  # after 6,000 characters of one changed line
URL_PASSWORD = "Urlp4ss-Zx81qq"

SECRET_FILES = {
    ".env": f"GITHUB_TOKEN={GH}\nSTRIPE_SECRET={STRIPE}\nDEBUG=true\n",
    ".pgpass": f"db.internal:5432:shop:app:{PGPASS}\n",
    ".netrc": f"machine api.example.com login bot password {NETRC}\n",
    "credentials.json": json.dumps({"aws_access_key_id": AWS_ID, "aws_secret_access_key": AWS_SECRET}) + "\n",
    "config/secrets.yaml": f"stripe:\n  key: {STRIPE}\nnetrc: {NETRC}\n",
}
VALUES = (GH, AWS_ID, AWS_SECRET, STRIPE, PGPASS, NETRC, PRIVATE_NOTE, LONG_GH, URL_PASSWORD)
LEFT_OUT = (".env", ".pgpass", ".netrc", "credentials.json", "config/secrets.yaml", "private/plan.txt")

BASE = {
    "shop/app.py": "def total(items):\n    return sum(i.price for i in items)\n",
    "shop/deploy.sh": "#!/bin/sh\necho deploying\n",
    "web/bundle.js": "var a=1;\n",
    "private/plan.txt": "nothing yet\n",
    ".repoctxignore": "private/\n",
}


def _leak_repo(tmp_path):
    """A repository with every secret file staged, one changed again in the work tree, a changed
    script assigning a key, a long changed line hiding a token, and a change to an ignored file."""
    repo = make_repo(tmp_path / "r", BASE)
    write_files(repo, {**SECRET_FILES,
                       "shop/deploy.sh": f"#!/bin/sh\nSTRIPE_SECRET={STRIPE}\necho deploying\n",
                       "shop/app.py": BASE["shop/app.py"] + "\n\ndef tax(x):\n    return x * 0.2\n",
                       "web/bundle.js": "var a=" + "1+" * 3000 + f"1;var t='{LONG_GH}';\n",
                       "private/plan.txt": PRIVATE_NOTE + "\n"})
    git(repo, "add", "-A")
    (repo / ".env").write_text(SECRET_FILES[".env"] + f"EXTRA_TOKEN={GH}\n")  # unstaged on top
    return repo


def _no_value(text: str, where: str) -> None:
    for v in VALUES:
        assert v not in text, f"{v!r} leaked in {where}"
    for token in (GH[4:], STRIPE[8:], LONG_GH[4:]):  # not even the part after a prefix
        assert token not in text, f"{token!r} leaked in {where}"


@pytest.mark.parametrize("change", ["--staged", "--diff"])
@pytest.mark.parametrize("fmt", ["xml", "json"])
def test_pack_of_a_change_leaves_secret_files_out_of_the_diff(tmp_path, change, fmt):
    repo = _leak_repo(tmp_path)
    r = run_cli("pack", str(repo), change, "--format", fmt, "--budget", "8000")
    assert r.returncode == 0, r.stderr
    _no_value(r.stdout + r.stderr, f"pack {change}")
    out = json.loads(r.stdout)["text"] if fmt == "json" else r.stdout
    for path in LEFT_OUT:
        assert f" file changed: {path} (content left out)" in out, path
    assert "# secret file changed: .env (content left out)" in out
    assert "def tax(x):" in out                                   # the rest of the change is there
    assert "+STRIPE_SECRET=[REDACTED:" in out                    # prefix and name kept
    assert "+[REDACTED:Line Too Long To Scan]" in out                # never passed through


def test_snapshot_and_git_note_hold_no_secret(tmp_path):
    repo = _leak_repo(tmp_path)
    r = run_cli("hook", "install", "--notes", "-C", str(repo))
    assert r.returncode == 0, r.stderr
    git(repo, "commit", "-q", "-m", "add config")
    note = git(repo, "notes", "--ref=repoctx", "show", "HEAD")
    _no_value(note, "the git note")
    assert "# secret file changed: .env (content left out)" in note and "def tax(x):" in note
    snapshots = list((repo / ".repoctx/snapshots").iterdir())
    assert snapshots
    for s in snapshots:
        _no_value(s.read_text(), s.name)
    # `snapshot take` by hand, on a staged change of secret files again
    (repo / ".pgpass").write_text(f"db2:5432:shop:app:{PGPASS}x\n")
    git(repo, "add", ".pgpass")
    r = run_cli("snapshot", "take", "-C", str(repo))
    assert r.returncode == 0, r.stderr
    for s in (repo / ".repoctx/snapshots").iterdir():
        _no_value(s.read_text(), s.name)


async def test_mcp_pack_context_of_a_change_holds_no_secret(tmp_path):
    repo = _leak_repo(tmp_path)
    params = StdioServerParameters(command=sys.executable, args=["-m", "repoctx", "mcp", str(repo)],
                                   env={**os.environ})
    async with Client(params) as c:
        for diff in ("staged", "worktree", "HEAD"):
            r = await c.call_tool("pack_context", {"diff": diff, "budget": 8000})
            assert not r.is_error, r.content
            text = "\n".join(x.text for x in r.content)
            _no_value(text + json.dumps(r.structured_content), f"MCP pack_context diff={diff}")
            assert "# secret file changed: .env (content left out)" in text
            assert not any("redaction is off" in w for w in r.structured_content["warnings"])


def test_graph_exports_hold_no_secret_file_and_no_url_password(tmp_path):
    repo = make_repo(tmp_path / "r", {**BASE, **SECRET_FILES,
                                      "svc/main.go": f'package main\n\nimport "https://bot:{URL_PASSWORD}@git.example.com/lib"\n',
                                      ".repoctx.toml": "redact = false\n"})  # the repository asks: not obeyed
    for fmt in ("json", "dot"):
        r = run_cli("graph", str(repo), "--format", fmt)
        assert r.returncode == 0, r.stderr
        _no_value(r.stdout, f"graph {fmt}")
        for path in LEFT_OUT:
            assert f'"{path}"' not in r.stdout, (fmt, path)
        assert "redact" in r.stderr and "ignored" in r.stderr
    data = json.loads(run_cli("graph", str(repo), "--format", "json").stdout)
    assert any("[REDACTED:" in e["module"] and "git.example.com" in e["module"] for e in data["external_imports"])
    r = run_cli("search", str(repo), "stripe key netrc")
    _no_value(r.stdout, "search")


@pytest.mark.parametrize("config", [(".repoctx.toml", "redact = false\n"),
                                    ("pyproject.toml", "[tool.repoctx]\nredact = false\n")])
def test_a_repository_cannot_turn_redaction_off(tmp_path, config):
    repo = make_repo(tmp_path / "r", {**BASE, **SECRET_FILES, config[0]: config[1],
                                      "shop/keys.py": f'TOKEN = "{GH}"\n'})
    r = run_cli("pack", str(repo), "--mode", "whole", "--format", "json")
    assert r.returncode == 0, r.stderr
    _no_value(r.stdout, "pack")
    assert "redact = false ignored" in r.stderr
    assert ".env" in json.loads(r.stdout)["secret_files_left_out"]


async def test_the_user_can_turn_redaction_off_and_every_answer_says_so(tmp_path):
    repo = make_repo(tmp_path / "r", {**BASE, "shop/keys.py": f'TOKEN = "{GH}"\n'})
    r = run_cli("pack", str(repo), "--mode", "whole", "--format", "json", env={"REPOCTX_REDACT": "off"})
    assert r.returncode == 0 and GH in r.stdout
    assert any("redaction is off" in w for w in json.loads(r.stdout)["warnings"])
    params = StdioServerParameters(command=sys.executable, args=["-m", "repoctx", "mcp", str(repo)],
                                   env={**os.environ, "REPOCTX_REDACT": "off"})
    async with Client(params) as c:
        for tool, args in (("pack_context", {"query": "token"}), ("repo_map", {}), ("find_symbol", {"name": "total"})):
            r = await c.call_tool(tool, args)
            assert not r.is_error and any("redaction is off" in w for w in r.structured_content["warnings"]), tool
    bad = run_cli("pack", str(repo), env={"REPOCTX_REDACT": "maybe"})
    assert bad.returncode != 0 and "REPOCTX_REDACT" in bad.stderr and "Traceback" not in bad.stderr


def test_an_editor_buffer_of_a_secret_file_is_never_packed(tmp_path):
    from repoctx.workspace import Workspace
    from repoctx import Settings
    repo = make_repo(tmp_path / "r", {**BASE, **SECRET_FILES})
    ws = Workspace(str(repo), Settings(budget=4000))
    ws.load()
    ws.set_buffer(".env", f"TOKEN_X = '{GH}'\nNETRC = '{NETRC}'\n")
    assert ".env" not in ws.repo.files
    _no_value(ws.pack(ws.request(query="token netrc")).text, "workspace pack")


# -- the language server: an editor buffer of a secret file, and the user's own switch -------------

import pytest_lsp  # noqa: E402
from lsprotocol import types as t  # noqa: E402
from pytest_lsp import ClientServerConfig, LanguageClient  # noqa: E402


@pytest_lsp.fixture(config=ClientServerConfig(server_command=[sys.executable, "-m", "repoctx", "serve"]))
async def lsp(lsp_client: LanguageClient, tmp_path_factory):
    repo = make_repo(tmp_path_factory.mktemp("ws") / "repo", {**BASE, **SECRET_FILES,
                                                              "shop/keys.py": f'TOKEN = "{GH}"\n'})
    lsp_client.repo = repo
    await lsp_client.initialize_session(t.InitializeParams(
        capabilities=t.ClientCapabilities(), root_uri=repo.resolve().as_uri(),
        initialization_options={"budget": 4000, "format": "plain"}))
    yield
    await lsp_client.shutdown_session()


async def test_language_server_never_packs_a_secret_buffer_and_says_when_redaction_is_off(lsp):
    env = (lsp.repo / ".env").resolve().as_uri()
    lsp.text_document_did_open(t.DidOpenTextDocumentParams(t.TextDocumentItem(
        uri=env, language_id="dotenv", version=1, text=f"NEW_TOKEN={LONG_GH}\nNETRC={NETRC}\n")))
    r = await lsp.protocol.send_request_async("repoctx/pack", {"query": "token netrc", "mode": "whole"})
    _no_value(r.text + json.dumps([f.path for f in r.files]), "repoctx/pack")
    assert not any("redaction is off" in w for w in r.warnings)
    lsp.workspace_did_change_configuration(t.DidChangeConfigurationParams({"repoctx": {"redact": False}}))
    r = await lsp.protocol.send_request_async("repoctx/pack", {"query": "token", "mode": "whole"})
    assert GH in r.text and any("redaction is off" in w for w in r.warnings)  # the user asked; it says so
    m = await lsp.protocol.send_request_async("repoctx/map", {})
    assert any("redaction is off" in w for w in m.warnings)
