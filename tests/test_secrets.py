"""Secrets never leave in a pack unless asked: redacted in place, secret files left out, reported
by file and line (never the value) — in the CLI, the language server's workspace and snapshots."""
from __future__ import annotations

import json

from conftest import git, make_repo, run_cli

from repoctx import secrets
from repoctx import Focus, Settings
from repoctx.workspace import Workspace

AWS_ID = "AKIAIOSFODNN7EXAMPLE"
AWS_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
GITHUB = "ghp_" + "aB3dE5fG7hJ9kL1mN3pQ5rS7tU9vW1xY3z5A"
KEY_BODY = "MIIEpAIBAAKCAQEA3Tz2mr7SZiAMfQyuvBjM9Oi8qmbu0Ct5JXf3"
CONFIG = f'''"""Service settings."""
import os

AWS_ACCESS_KEY_ID = "{AWS_ID}"
aws_secret_access_key = "{AWS_SECRET}"
GITHUB_TOKEN = "{GITHUB}"
DEPLOY_KEY = """-----BEGIN RSA PRIVATE KEY-----
{KEY_BODY}
-----END RSA PRIVATE KEY-----"""


def connect(region):
    return os.environ.get("HOST", "localhost") + region
'''
FILES = {
    "svc/config.py": CONFIG,
    "svc/app.py": "from svc.config import connect\n\n\ndef main():\n    return connect('eu')\n",
    ".env": "DATABASE_PASSWORD=correct-horse-battery-staple\n",
    "deploy/id_rsa": f"-----BEGIN OPENSSH PRIVATE KEY-----\n{KEY_BODY}\n-----END OPENSSH PRIVATE KEY-----\n",
    ".npmrc": "//registry.npmjs.org/:_authToken=npm_abcdefghijklmnopqrstuvwxyz0123456789\n",
    "docs/.npmrc": "registry=https://registry.npmjs.org/\n",  # no credentials: kept
}
VALUES = (AWS_ID, AWS_SECRET, GITHUB, KEY_BODY, "correct-horse-battery-staple", "npm_abcdefghijklmnop")


def test_pack_redacts_in_place_leaves_out_secret_files_and_reports_where(tmp_path):
    repo = make_repo(tmp_path / "r", FILES)
    r = run_cli("pack", str(repo), "--mode", "whole", "--format", "plain")
    assert r.returncode == 0, r.stderr
    for value in VALUES:
        assert value not in r.stdout and value not in r.stderr
    assert f'AWS_ACCESS_KEY_ID = "[REDACTED:AWS Access Key]"' in r.stdout
    assert 'GITHUB_TOKEN = "[REDACTED:' in r.stdout
    assert "-----END RSA PRIVATE KEY-----" in r.stdout and "[REDACTED:Private Key]" in r.stdout
    assert "def connect(region):" in r.stdout and "=== docs/.npmrc ===" in r.stdout  # the code around is kept
    assert "=== .env ===" not in r.stdout and "deploy/id_rsa" not in r.stdout and "=== .npmrc ===" not in r.stdout
    assert "svc/config.py:4 (AWS Access Key)" in r.stderr and "svc/config.py:6" in r.stderr
    assert "left out 3 secret file(s): .env, .npmrc, deploy/id_rsa" in r.stderr


def test_json_lists_redactions_and_no_redact_packs_everything_loudly(tmp_path):
    repo = make_repo(tmp_path / "r", FILES)
    r = run_cli("pack", str(repo), "--mode", "whole", "--format", "json")
    data = json.loads(r.stdout)
    assert {(d["path"], d["line"]) for d in data["redacted"]} >= {("svc/config.py", 4), ("svc/config.py", 5),
                                                                    ("svc/config.py", 6), ("svc/config.py", 7)}
    assert data["secret_files_left_out"] == [".env", ".npmrc", "deploy/id_rsa"]
    loud = run_cli("pack", str(repo), "--mode", "whole", "--format", "plain", "--no-redact")
    assert loud.returncode == 0 and "WARNING: redaction is off" in loud.stderr
    assert all(v in loud.stdout for v in VALUES) and "=== .env ===" in loud.stdout


def test_slices_map_and_diff_are_redacted_too(tmp_path):
    repo = make_repo(tmp_path / "r", FILES)
    (repo / "svc/app.py").write_text(f"from svc.config import connect\n\nSTRIPE = \"sk_live_{'4eC39HqLyjWDarjtT1zdp7dc'}\"\n\n\ndef main():\n    return connect('eu')\n")
    r = run_cli("pack", str(repo), "--diff", "--budget", "600", "--mode", "slice", "--format", "plain")
    assert r.returncode == 0, r.stderr
    assert "sk_live_4eC39HqLyjWDarjtT1zdp7dc" not in r.stdout and 'STRIPE = "[REDACTED:' in r.stdout
    assert "<diff>" in r.stderr or "svc/app.py:3" in r.stderr
    m = run_cli("map", str(repo))
    assert AWS_ID not in m.stdout


def test_workspace_and_snapshot_redact(tmp_path):
    repo = make_repo(tmp_path / "r", FILES)
    ws = Workspace(str(repo), Settings(budget=2000))
    ws.load()
    assert ".env" not in ws.repo.files
    ctx = ws.pack(ws.request(focus=[Focus("svc/config.py", 4, 6)]))
    assert AWS_ID not in ctx.text and ("svc/config.py", 4, "AWS Access Key") in ctx.redactions
    ws.set_buffer("svc/app.py", f"TOKEN = \"{GITHUB}\"\n")  # an unsaved buffer is scanned too
    assert GITHUB not in ws.pack(ws.request(focus=[Focus("svc/app.py", 1, 1)])).text
    (repo / "svc/config.py").write_text(CONFIG.replace("localhost", "db.internal"))
    git(repo, "add", "-A")
    r = run_cli("snapshot", cwd=repo)
    assert r.returncode == 0, r.stderr
    snapshot = next((repo / ".repoctx/snapshots").iterdir()).read_text()
    assert "db.internal" in snapshot and AWS_ID not in snapshot and KEY_BODY not in snapshot


def test_findings_are_cached_by_blob(tmp_path, monkeypatch):
    repo = make_repo(tmp_path / "r", FILES)
    calls = []
    real = secrets.SecretScanner._scan
    monkeypatch.setattr(secrets.SecretScanner, "_scan", lambda self, p, t: calls.append(p) or real(self, p, t))
    ws = Workspace(str(repo), Settings(mode="whole"))
    ws.load()
    assert AWS_ID not in ws.pack().text and "svc/config.py" in calls
    calls.clear()
    again = Workspace(str(repo), Settings(mode="whole"))
    again.load()
    assert AWS_ID not in again.pack().text and calls == []  # read back from .repoctx/secrets.marshal


def test_redact_line_keeps_the_code_around_and_whole_tokens():
    f = [secrets.Finding(1, "GitHub Token", "ghp"), secrets.Finding(1, "Base64 High Entropy String", GITHUB[4:])]
    assert secrets.redact_line(f'ghp = call("{GITHUB}", x)', f) == 'ghp = call("[REDACTED:Base64 High Entropy String]", x)'
    assert secrets.redact_line("nothing here", f) == "nothing here"
