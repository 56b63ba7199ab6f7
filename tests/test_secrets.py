"""Secrets never leave in a pack unless asked: redacted in place, secret files left out, reported
by file and line (never the value) — in the CLI, the language server's workspace and snapshots."""
from __future__ import annotations

import json

import pytest

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
    assert 'AWS_ACCESS_KEY_ID = "[REDACTED:AWS Access Key]"' in r.stdout
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
    assert AWS_ID not in again.pack().text and calls == []  # read back from .repoctx/secrets.sealed


def test_redact_line_keeps_the_code_around_and_whole_tokens():
    f = [secrets.Finding(1, "GitHub Token", "ghp"), secrets.Finding(1, "Base64 High Entropy String", GITHUB[4:])]
    assert secrets.redact_line(f'ghp = call("{GITHUB}", x)', f) == 'ghp = call("[REDACTED:Base64 High Entropy String]", x)'
    assert secrets.redact_line("nothing here", f) == "nothing here"


# -- precision and recall: realistic fake credentials, and code that only looks random ---------------

FAKE = {  # path → (text, the secret values in it); every value is made up, in its issuer's format
    "settings.py": ('AWS_ACCESS_KEY_ID = "AKIAZ7Q3R5T2W9X4Y6B8"\n'
                    'AWS_SECRET_ACCESS_KEY = "wJalrXUtnFEMIK7MDENGbPxRfiCYzq9v3L2k8Hd1"\n'
                    'api_token = "9c1185a5c5e9fc54612808977ee8f548b2258d31"\n',
                    ["AKIAZ7Q3R5T2W9X4Y6B8", "wJalrXUtnFEMIK7MDENGbPxRfiCYzq9v3L2k8Hd1",
                     "9c1185a5c5e9fc54612808977ee8f548b2258d31"]),
    "client.js": ('const github = "ghp_R7x2Lq9ZtY4mN8vB3kW6sJ1hF5dC0aE2gUiO";\n'
                  'const slack = "xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx";\n'
                  'const jwt = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkphbmUifQ.'
                  'Qm9ndXNTaWduYXR1cmVWYWx1ZUZvclRlc3Rpbmc";\n',
                  ["ghp_R7x2Lq9ZtY4mN8vB3kW6sJ1hF5dC0aE2gUiO", "xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx",
                   "Qm9ndXNTaWduYXR1cmVWYWx1ZUZvclRlc3Rpbmc"]),
    "db.go": ('package db\n\nconst dsn = "postgres://app:Zx9vQ2mLp7Rt@db.internal:5432/app"\n'
              'var stripeKey = "sk_live_4eC39HqLyjWDarjtT1zdp7dc"\n',
              ["Zx9vQ2mLp7Rt", "sk_live_4eC39HqLyjWDarjtT1zdp7dc"]),
    "deploy.yaml": ('database:\n  password: "hunter2-Xq9z!"\nsigning_key: "8f14e45fceea167a5a36dedd4bea2543aa1b2c3d"\n',
                    ["hunter2-Xq9z!", "8f14e45fceea167a5a36dedd4bea2543aa1b2c3d"]),
    "config.json": ('{"client_secret": "b1946ac92492d2347c6235b4d2611184a7c1e3f0", "name": "shop"}\n',
                    ["b1946ac92492d2347c6235b4d2611184a7c1e3f0"]),
    "release.sh": ('#!/bin/sh\nexport GITHUB_TOKEN=ghp_A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8\n'
                   'curl -u "ci:Q7wE9rT2yU4i@" https://example.com\n',
                   ["ghp_A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8"]),
    ".env": ('DATABASE_URL=mysql://root:Pw8kZ2qLxV4n@db.example.com:3306/shop\n'
             'STRIPE_SECRET_KEY=sk_test_51HqLyjWDarjtT1zdp7dcXyZ9\nSESSION_SECRET=Vq8rT3zX1mK9pL2wN7cB4dF6\n'
             'GOOGLE_MAPS=AIzaSyD3X9k2LmQ8rT5vW1zN4bP7cF6hJ0sA2eU\nTWILIO_AUTH_TOKEN=3f9a7c1e5b2d8f4a6c0e9b1d7f3a5c2e\n'
             'DEBUG=true\nPORT=8080\n',
             ["Pw8kZ2qLxV4n", "sk_test_51HqLyjWDarjtT1zdp7dcXyZ9", "Vq8rT3zX1mK9pL2wN7cB4dF6",
              "AIzaSyD3X9k2LmQ8rT5vW1zN4bP7cF6hJ0sA2eU", "3f9a7c1e5b2d8f4a6c0e9b1d7f3a5c2e"]),
    "ci.yml": ('env:\n  SLACK_WEBHOOK: https://hooks.slack.com/services/T0A1B2C3D/B4E5F6G7H/abcdEFGHijklMNOPqrstUVWX\n'
               '  api_key: 7d2f9a4c6e1b8d3f5a7c9e2b4d6f8a1c\n',
               ["abcdEFGHijklMNOPqrstUVWX", "7d2f9a4c6e1b8d3f5a7c9e2b4d6f8a1c"]),
    "main.go": ('package main\n\nvar githubPAT = "github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyzABCDEFGHIJ01234"\n',
                ["github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyzABCDEFGHIJ01234"]),
    "keys.py": ('KEY = """-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEAu1SU1LfVLPHCozMxH2Mo4lgOEePzNm0tRgeLezV6ffAt0gun\n'
                '-----END RSA PRIVATE KEY-----"""\n', ["MIIEowIBAAKCAQEAu1SU1LfVLPHCozMxH2Mo4lgOEePzNm0tRgeLezV6ffAt0gun"]),
}

NOT_SECRETS = {  # code that only looks random: digests, SHAs, UUIDs, ETags, nonces, placeholders
    "git.py": 'EMPTY_TREE = "4b825dc642cb6eb9a060e54bf8d69288fbee4904"  # git\'s empty tree: not a secret\nHEAD = "e83c5163316f89bfbde7d9ab23ca2e25604af290"\n',
    "etag.js": (".expect('ETag', 'W/\"3e7-qPnkJ3CVdVhFJQvUBfF10TmVA7g\"')\n"
                "test.write(Buffer.from('789cab56ca4bcc4d55b2527ab16e97522d00274505ac', 'hex'))\n"),
    "digest.py": ('b\'WWW-Authenticate: Digest nonce="6bf5d6e4da1ce66918800195d6b9130d"\'\n'
                  'ID = "550e8400-e29b-41d4-a716-446655440000"\nSHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"\n'),
    "proxy.py": 'proxies = {"http": "http://user:pass@10.10.1.10:3128/", "https": "socks5://user:password@host:1080"}\n',
    "package.json": '{"bin": {"secretlint": "bin/secretlint.js"}, "keywords": ["tokenizer"]}\n',
    "settings.env": "TOKEN_NAME=SESSION_COOKIE_NAME\npassword: ${DB_PASSWORD}\nsecret_key_path = /etc/app/key.pem\n",
    "auth.go": "package auth\n\nfunc f(accounts map[string]string) {\n\tfor user, password := range accounts {\n\t\t_ = user + password\n\t}\n}\n",
}


def test_every_fake_credential_is_redacted():
    from repoctx.secrets import Redactor
    redactor = Redactor()
    for path, (text, values) in FAKE.items():
        out = redactor.text(path, text)
        for v in values:
            assert v not in out, (path, v, out)
        assert "[REDACTED:" in out


def test_code_that_only_looks_random_is_kept():
    from repoctx.secrets import Redactor
    redactor = Redactor()
    for path, text in NOT_SECRETS.items():
        assert redactor.text(path, text) == text, path


# Code the scanner once redacted: lookup keys holding digests, public signatures, placeholders.
FALSE_POSITIVES = {
    "cache.py": 'cache_key = "9c1185a5c5e9fc54612808977ee8f548b2258d31"\n',
    "order.py": 'sort_key = "MTIzNDU2Nzg5MGFiY2RlZmdoaWprbG1ub3A9Xz"\nrow = {"sortKey": "Zk9Xq2Lm7Rt4Vb8Nc3Wp6Ys1"}\n',
    "test_ecdsa.py": ('signature = "3045022100c1a2b3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f902204'
                      '7f1e2d3c4b5a6978877665544332211ffeeddccbbaa99887766554433221100"\n'
                      'signature = "MEUCIQDx7Yb3Jk9Zq1Lm8Np4Rs6Tu2Vw0Xy3Zb5Cd7Ef9GhAIgR2s4T6u8V0w2X4y6Z8a0B2c4D6e8F0g2H4i6J8k0L2m="\n'),
    "test_login.py": "password = 'foobar'\nSECRET_KEY = \"NO SECRET :(\"\napi_key = 'your-api-key-here'\n",
}


@pytest.mark.parametrize("path", FALSE_POSITIVES)
def test_lookup_keys_signatures_and_placeholders_are_kept(path):
    from repoctx.secrets import Redactor
    redactor = Redactor()
    for line in FALSE_POSITIVES[path].splitlines():
        assert redactor.text(path, line) == line
    # …while the same values under a credential's name still redact
    for line in ('api_key = "9c1185a5c5e9fc54612808977ee8f548b2258d31"', 'cache_secret_key = "9c1185a5c5e9fc54612808977ee8f548b2258d31"',
                 "password = 'foobar42'", 'signing_key = "MEUCIQDx7Yb3Jk9Zq1Lm8Np4Rs6Tu2Vw0Xy3Zb5Cd7Ef9GhAIgR2s4"',
                 'AZURE_STORAGE_KEY = "Zk9Xq2Lm7Rt4Vb8Nc3Wp6Ys1Zk9Xq2Lm7Rt4Vb8Nc3Wp6Ys1=="'):
        assert "[REDACTED:" in redactor.text("x.py", line), line


def test_a_redacted_diff_line_keeps_its_prefix_and_name_and_long_lines_never_pass():
    from repoctx.secrets import Redactor
    stripe = "sk_live_" + "4eC39HqLyjWDarjtT1zdp7dc"
    long_line = "var a=" + "1+" * 3000 + f"1;var t='{GITHUB}';"
    diff = ("diff --git a/x.sh b/x.sh\n--- a/x.sh\n+++ b/x.sh\n@@ -1,4 +1,4 @@\n"
            f" #!/bin/sh\n-STRIPE_SECRET={stripe}\n+STRIPE_SECRET={stripe}x\n-{long_line}\n+{long_line}\n"
            f"--- a/y.pem\n+++ b/y.pem\n@@ -0,0 +1,3 @@\n+-----BEGIN RSA PRIVATE KEY-----\n+{KEY_BODY}\n+-----END RSA PRIVATE KEY-----\n")
    out = Redactor().text("<diff>", diff).split("\n")
    assert out[5].startswith("-STRIPE_SECRET=[REDACTED:") and out[6].startswith("+STRIPE_SECRET=[REDACTED:")
    assert out[7] == "-[REDACTED:Line Too Long To Scan]" and out[8] == "+[REDACTED:Line Too Long To Scan]"
    assert out[13] == "+[REDACTED:Private Key]" and out[12].startswith("+[REDACTED:Private Key]")
    assert stripe[8:] not in "\n".join(out) and GITHUB[4:] not in "\n".join(out) and KEY_BODY not in "\n".join(out)
    assert out[:5] == diff.split("\n")[:5]


def test_every_character_of_a_long_line_is_scanned_in_a_file_too():
    from repoctx.secrets import Redactor
    text = "x = 1\nvar a=" + "1+" * 3000 + f"1;var t='{GITHUB}';\ny = 2\n"
    assert Redactor().file_lines("a.js", text, None) == ["x = 1", "[REDACTED:Line Too Long To Scan]", "y = 2", ""]


def test_a_snippet_of_a_file_with_a_line_too_long_to_scan():
    """A signature taken from such a file is redacted as its lines are (and never loops on the
    finding's empty value)."""
    from repoctx.secrets import Redactor
    long_line = "var a=" + "1+" * 3000 + f"1;var t='{GITHUB}';"
    redactor = Redactor()
    redactor.file_lines("a.js", f"function f() {{}}\n{long_line}\n", None)
    assert redactor.snippet("a.js", "function f() {}") == "function f() {}"
    assert redactor.snippet("a.js", long_line) == "[REDACTED:Line Too Long To Scan]"


def test_a_diff_reads_the_ignore_file_once_however_many_files_it_changes(tmp_path, monkeypatch):
    """Every changed file of a diff asks whether packs leave it out; the user's `.repoctxignore` (which
    can be long) is read and compiled once per diff, not once per changed file — in a `--diff` pack
    and in `impact` alike. The rule itself still holds: an ignored and a secret file stay out."""
    from repoctx import PackRequest, change_impact, load_repository, pack, scan
    files = {f"pkg/m{i}.py": f"def f{i}():\n    return {i}\n" for i in range(30)}
    files[".repoctxignore"] = "".join(f"gen/out{i}/\n" for i in range(200)) + "pkg/m0.py\n"
    files[".env"] = "A=1\n"
    repo = make_repo(tmp_path / "r", files)
    for i in range(30):
        (repo / f"pkg/m{i}.py").write_text(f"def f{i}():\n    return {i} + 1\n")
    (repo / ".env").write_text("A=2\n")
    loaded = load_repository(str(repo))
    built = []
    real = scan._UserFilter
    monkeypatch.setattr(scan, "_UserFilter", lambda *a: built.append(1) or real(*a))
    result = pack(loaded, PackRequest(diff="worktree", budget=20_000, mode="slice"))
    assert "pkg/m29.py" in result.text and "# secret file changed: .env" in result.text
    assert "+    return 0 + 1" not in result.text and "# ignored file changed: pkg/m0.py" in result.text
    assert len(built) == 1, f".repoctxignore compiled {len(built)} times for one diff of 31 files"
    built.clear()
    impact = change_impact(loaded)
    assert "pkg/m0.py" not in {c["path"] for c in impact.changed} and len(built) == 1, len(built)
