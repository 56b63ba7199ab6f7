"""The command line as a user runs it: exit codes, output files, JSON outputs, secrets, plain folders."""
from __future__ import annotations

import json
import os
import shutil

import pytest
from conftest import make_repo, run_cli, write_files

from repoctx import cli
from repoctx.settings import KEYS, Settings, load_settings, tomllib

# Realistic fake credentials: the shapes real keys have, values no account ever had.
AWS_ID = "AKIA" + "Q3EGRTWX5MZJ7HNB"
AWS_SECRET = "q8Xv2LrT9wZ+c4mNf7Kp1sYb6Hd3Jg0Ue5Ra/Lk2"
SLACK = "xoxb-" + "283749102938-4829103847561-Zr8TqLm2Vx9NcB4kHj7WpY3s"
GITHUB = "ghp_" + "x7Hq2LmN9pRt4VwY6zB8cD1fG3jK5sA0eU2i"
VALUES = (AWS_ID, AWS_SECRET, SLACK, GITHUB)
FILES = {
    "svc/settings.py": f'''"""Service settings."""
AWS_ACCESS_KEY_ID = "{AWS_ID}"
AWS_SECRET_ACCESS_KEY = "{AWS_SECRET}"


def s3_client(key_id=AWS_ACCESS_KEY_ID, secret="{AWS_SECRET}", region="eu-west-1"):
    """Client for the bucket; falls back to {AWS_ID}."""
    return (key_id, secret, region)
''',
    "svc/jobs.py": '''from svc.settings import s3_client


def upload_report(path):
    client = s3_client()
    return client, path
''',
    "web/notify.js": f'''const SLACK_TOKEN = "{SLACK}";

export function notifyChannel(text, token = "{GITHUB}") {{
  return fetch("https://slack.example/api", {{ body: text, headers: {{ auth: SLACK_TOKEN + token }} }});
}}
''',
    "go.mod": "module example.com/svc\n\ngo 1.21\n",
    "billing/invoice.go": '''package billing

// InvoiceTotal sums the lines of an invoice in cents.
func InvoiceTotal(lines []int) int {
	total := 0
	for _, l := range lines {
		total += l
	}
	return total
}
''',
    "billing/tax.go": '''package billing

// WithTax adds VAT to an invoice total.
func WithTax(lines []int) int {
	return InvoiceTotal(lines) * 120 / 100
}
''',
    ".env": f"AWS_SECRET_ACCESS_KEY={AWS_SECRET}\n",
}


@pytest.fixture(scope="module")
def repo(tmp_path_factory):
    return make_repo(tmp_path_factory.mktemp("cli") / "repo", FILES)


@pytest.fixture(scope="module")
def plain(tmp_path_factory, repo):
    """The same files in a folder that is not a git repository."""
    root = tmp_path_factory.mktemp("cli") / "plain"
    write_files(root, FILES)
    return root


# -- exit codes ------------------------------------------------------------------------------------

@pytest.mark.parametrize("argv,message", [
    ([], "the following arguments are required: command"),
    (["pakc"], "invalid choice: 'pakc'"),
    (["pack", "--budget", "0"], "argument --budget: must be positive: '0'"),
    (["pack", "--budget", "1.5"], "argument --budget: not a whole number"),
    (["pack", "--budget", "lots"], "argument --budget: not a count"),
    (["pack", "--mode", "fast"], "argument --mode: invalid choice: 'fast'"),
    (["pack", "--format", "yaml"], "argument --format: invalid choice: 'yaml'"),
    (["pack", "--query", "a", "--query-file", "q.txt"], "not allowed with argument --query"),
    (["pack", "--diff", "--staged"], "not allowed with argument --diff"),
    (["map", "--budget", "-5"], "argument --budget"),
    (["search"], "the following arguments are required: query"),
    (["search", "x", "--limit", "many"], "argument --limit"),
    (["search", "x", "--limit", "-1"], "argument --limit: not a count"),
    (["search", "x", "--limit", "0"], "argument --limit: must be positive"),
    (["search", "x", "--limit", "abc"], "not a count: 'abc' (a whole number, e.g. 50)"),
    (["pack", "--bogus"], "unrecognized arguments: --bogus"),
    (["hook"], "the following arguments are required: action"),
    (["snapshot", "drop"], "invalid choice: 'drop'"),
])
def test_bad_arguments_exit_2_in_one_line_naming_help(argv, message, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # were an argument accepted, the command would run on an empty folder
    with pytest.raises(SystemExit) as e:
        cli.main(argv)
    out, err = capsys.readouterr()
    assert e.value.code == 2 and out == ""
    prog = f"repoctx {argv[0]}" if argv and argv[0] != "pakc" else "repoctx"
    assert err.startswith(f"{prog}: error: ") and err.count("\n") == 1 and message in err
    assert err.endswith(f"(see {prog} --help)\n")


def test_a_bad_argument_exits_2_in_a_real_process(repo):
    r = run_cli("pack", str(repo), "--budget", "0")
    assert r.returncode == 2 and r.stdout == "" and "must be positive" in r.stderr and "Traceback" not in r.stderr


def one_error_line(r):
    lines = r.stderr.strip().split("\n")
    assert r.stdout == "" and "Traceback" not in r.stderr, r.stderr
    return next(line for line in lines if line.startswith("repoctx: error: "))


def test_a_whole_pack_that_does_not_fit_exits_3_and_writes_nothing(repo, tmp_path):
    out = tmp_path / "pack.json"
    r = run_cli("pack", str(repo), "--mode", "whole", "--budget", "200", "--format", "json", "-o", str(out))
    assert r.returncode == 3
    assert "needs 360 tokens" in one_error_line(r) and "--mode auto/slice" in r.stderr
    assert not out.exists() and list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("args,message", [
    (["--focus", "svc/missing.py"], "no such file inside the repository"),
    (["--encoding", "r50k_base"], "not available offline"),
    (["--encoding", "gpt-17"], "unknown encoding or model 'gpt-17'"),
    (["--diff", "no-such-branch"], "no-such-branch"),
    (["-o", "/dev/null/pack.xml"], "cannot write /dev/null/pack.xml: Not a directory"),
])
def test_errors_the_user_can_act_on_exit_1_with_one_line(repo, args, message):
    r = run_cli("pack", str(repo), "--budget", "2k", *args)
    assert r.returncode == 1 and message in one_error_line(r)


# -- a folder that is not a git repository ---------------------------------------------------------

def test_a_plain_folder_packs_maps_searches_and_counts(plain):
    r = run_cli("pack", str(plain), "--mode", "whole", "--format", "plain")
    assert r.returncode == 0, r.stderr
    for path in ("svc/settings.py", "svc/jobs.py", "web/notify.js", "billing/invoice.go", "billing/tax.go"):
        assert f"=== {path} ===" in r.stdout
    assert "=== .env ===" not in r.stdout and "left out 1 secret file(s): .env" in r.stderr
    stats = json.loads(run_cli("stats", str(plain), "--json").stdout)
    assert stats["git"] is False and stats["files"] == 6
    hits = json.loads(run_cli("search", "invoice total", str(plain), "--json").stdout)
    assert hits[0]["symbol"] == "InvoiceTotal"
    assert "InvoiceTotal" in run_cli("map", str(plain)).stdout


def test_git_only_commands_in_a_plain_folder_say_so(plain):
    r = run_cli("pack", str(plain), "--diff")
    assert r.returncode == 1 and "not inside a git work tree; a diff needs git" in one_error_line(r)
    r = run_cli("hook", "install", "-C", str(plain))
    assert r.returncode == 1 and "not a git repository" in one_error_line(r)
    assert not (plain / ".git").exists()


# -- outputs ---------------------------------------------------------------------------------------

def test_output_file_holds_exactly_what_stdout_would_and_json_parses(repo, tmp_path):
    args = ("pack", str(repo), "--query", "invoice total with tax", "--budget", "600", "--mode", "slice", "--format", "json")
    shown = run_cli(*args)
    out = tmp_path / "ctx.json"
    out.write_text("an older pack\n")
    written = run_cli(*args, "-o", str(out))
    assert shown.returncode == written.returncode == 0, written.stderr
    assert written.stdout == "" and out.read_text() == shown.stdout
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ctx.json"]  # the temporary file was renamed over it
    doc = json.loads(out.read_text())
    assert doc["mode"] == "slice" and doc["tokens"] <= doc["budget"] == 600
    assert {f["path"] for f in doc["files"]} >= {"billing/invoice.go", "billing/tax.go"}
    assert doc["secret_files_left_out"] == [".env"]
    assert "func InvoiceTotal(lines []int) int {" in doc["text"]


def test_map_never_prints_a_secret(repo):
    for extra in ([], ["--budget", "100k"], ["--query", "s3 client key"], ["--focus", "web/notify.js"]):
        r = run_cli("map", str(repo), *extra)
        assert r.returncode == 0, r.stderr
        for value in VALUES:
            assert value not in r.stdout and value not in r.stderr
        assert 'AWS_ACCESS_KEY_ID = "[REDACTED:AWS Access Key]"' in r.stdout
        assert "def s3_client(key_id=AWS_ACCESS_KEY_ID, secret=\"[REDACTED:" in r.stdout
        assert 'export function notifyChannel(text, token = "[REDACTED:' in r.stdout
        assert "func InvoiceTotal(lines []int) int" in r.stdout  # the rest of the map is there
        assert "repoctx: redacted " in r.stderr and "(AWS Access Key)" in r.stderr


def test_search_json(repo):
    r = run_cli("search", "invoice total", str(repo), "--json", "--limit", "3")
    assert r.returncode == 0, r.stderr
    hits = json.loads(r.stdout)
    assert 1 <= len(hits) <= 3
    assert all(set(h) == {"path", "symbol", "start_line", "end_line", "score"} for h in hits)
    assert (hits[0]["path"], hits[0]["symbol"], hits[0]["start_line"], hits[0]["end_line"]) == \
        ("billing/invoice.go", "InvoiceTotal", 4, 10)
    assert [h["score"] for h in hits] == sorted((h["score"] for h in hits), reverse=True)
    text = run_cli("search", "invoice total", str(repo), "--limit", "3").stdout.split("\n")
    assert text[0].split() == [f"{hits[0]['score']:.3f}", "billing/invoice.go:4-10", "InvoiceTotal"]
    r = run_cli("search", "zzqx unmatched", str(repo), "--json")
    assert r.returncode == 1 and json.loads(r.stdout) == [] and "no match" in r.stderr


def test_stats_json(repo):
    r = run_cli("stats", str(repo), "--json")
    assert r.returncode == 0, r.stderr
    s = json.loads(r.stdout)
    assert s["root"] == os.path.realpath(repo) and s["git"] is True and s["encoding"] == "o200k_base"
    assert s["files"] == 6 and s["lines"] == sum(text.count("\n") for p, text in FILES.items() if p != ".env")
    assert {x["language"]: x["files"] for x in s["languages"]} == {"python": 2, "javascript": 1, "go": 2, "text": 1}
    assert s["tokens"] == sum(x["tokens"] for x in s["languages"]) == sum(x["tokens"] for x in s["largest"])
    assert s["skipped"] == {"secret-file": {"count": 1, "examples": [".env"], "paths": [".env"]}}
    assert [w["fits"] for w in s["fits"]] == [True] * 7
    cl = json.loads(run_cli("stats", str(repo), "--json", "--encoding", "gpt-4").stdout)
    assert cl["encoding"] == "cl100k_base" and cl["tokens"] != s["tokens"]


def test_init_writes_a_settings_file_that_loads_and_is_used(repo, tmp_path):
    root = tmp_path / "r"
    shutil.copytree(repo, root)
    r = run_cli("init", str(root))
    assert r.returncode == 0 and r.stdout.strip() == f"repoctx: wrote {root / '.repoctx.toml'}"
    text = (root / ".repoctx.toml").read_text()
    table = tomllib.loads(text)
    assert set(table) == set(KEYS) - {"encoding"}  # unset by default: a comment shows how to set it
    assert load_settings(str(root)) == Settings()
    (root / ".repoctx.toml").write_text(text.replace("budget = 32_000", 'budget = "1500"'))
    r = run_cli("pack", str(root), "--query", "invoice")
    assert r.returncode == 0 and "/1,500 tokens" in r.stderr
    again = run_cli("init", str(root))
    assert again.returncode == 1 and "already exists" in again.stderr
    assert 'budget = "1500"' in (root / ".repoctx.toml").read_text()  # kept
    assert run_cli("init", str(root), "--force").returncode == 0
    assert load_settings(str(root)) == Settings()


def test_version(capsys):
    with pytest.raises(SystemExit) as e:
        cli.main(["--version"])
    from repoctx import __version__
    assert e.value.code == 0 and capsys.readouterr().out == f"repoctx {__version__}\n"


@pytest.mark.parametrize("args", [["--help"], ["--version"], ["pack", "--help"]])
def test_help_and_version_start_without_what_commands_load(args):
    """`repoctx --help` and `--version` print from the top-level parser alone: they must not import
    the settings module, dataclasses, json or typing (the bulk of start-up), so they start in about
    the time of a bare interpreter. A command's own --help loads only that command's options."""
    import subprocess
    import sys
    code = ("import sys; from repoctx.cli import main\n"
            f"try: main({args!r})\nexcept SystemExit: pass\n"
            "print(' '.join(sorted(m for m in ('repoctx.settings', 'dataclasses', 'json', 'typing', 'tomllib',"
            " 'repoctx.files', 'repoctx.scan') if m in sys.modules)), file=sys.stderr)")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    loaded = r.stderr.split()
    if args[0] == "pack":  # its --mode and --format choices come from settings, and nothing else
        assert "repoctx.settings" in loaded and "repoctx.scan" not in loaded and "usage: repoctx pack" in r.stdout
    else:
        assert loaded == [], f"loaded at start-up: {loaded}"
        assert "repoctx" in r.stdout


def test_xml_pack_of_control_characters_parses_and_shows_them_as_pictures(tmp_path):
    """Characters XML forbids (C0 controls but tab, newline and return), in an ASCII file and in one
    with other text, come out as their Control Pictures: the xml pack of a hostile file still parses.
    (An ASCII text is checked by a fast path of its own, render._xml_safe.)"""
    import xml.etree.ElementTree as ET
    root = make_repo(tmp_path / "r", {"ascii.py": "A = '\x01\x0b\x0c\x1b[2J'\n", "other.py": "B = 'é\x0b\x1f ✓'\n"})
    out = tmp_path / "pack.xml"
    r = run_cli("pack", str(root), "--mode", "whole", "--budget", "100k", "--no-tree", "-o", str(out))
    assert r.returncode == 0, r.stderr
    files = {f.get("path"): f.text for f in ET.fromstring(out.read_text(encoding="utf-8")).iter("file")}
    assert files["ascii.py"] == "\nA = '\u2401\u240b\u240c\u241b[2J'\n"
    assert files["other.py"] == "\nB = 'é\u240b\u241f ✓'\n"
