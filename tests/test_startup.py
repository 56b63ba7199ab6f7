"""A warm command's constant costs (issue 27): what a warm query pack imports and builds besides its
work, and that cutting it changes no byte of what the command writes."""
from __future__ import annotations

import subprocess
import sys
import threading

import pytest
from conftest import make_repo, run_cli

from repoctx import tokens
from repoctx.index.load import load_repository
from repoctx.pack.packer import Packer
from repoctx.pack.request import PackRequest
from repoctx.render import written

QUERY = "parse the request headers and retry on timeout"
#: Modules a warm pack never uses: the index's worker pool (warm: nothing to parse), the remote-URL
#: resolver (a local folder), the tokenizer's first-run unpacking of its bundled files.
UNUSED = ("multiprocessing", "concurrent.futures", "repoctx.remote", "gzip", "importlib.resources")


@pytest.fixture(scope="module")
def repo(tmp_path_factory):
    files = {f"pkg/mod{i}.py": "".join(f"def handler_{i}_{j}(request, timeout):\n    headers = request.headers\n"
                                       f"    return retry(headers, timeout + {j})\n\n\n" for j in range(40))
             for i in range(12)}
    files["pkg/retry.py"] = "def retry(headers, timeout):\n    '''Retry on timeout.'''\n    return headers, timeout\n"
    files["README.md"] = "# fixture\n"
    root = make_repo(tmp_path_factory.mktemp("startup") / "r", files)
    assert run_cli("index", str(root)).returncode == 0
    assert run_cli("pack", str(root), "--query", QUERY, "--budget", "2k", "-o", str(root.parent / "first.xml")).returncode == 0
    return root


def test_a_warm_query_pack_imports_nothing_it_does_not_use(repo, tmp_path):
    out = tmp_path / "p.xml"
    code = ("import sys; from repoctx.cli import main\n"
            f"assert main(['pack', {str(repo)!r}, '--query', {QUERY!r}, '--budget', '2k', '-o', {str(out)!r}]) == 0\n"
            f"print(' '.join(m for m in {UNUSED!r} if m in sys.modules))")
    r = subprocess.run([sys.executable, "-c", code], check=False, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == [], f"a warm pack imported {r.stdout.split()}"
    assert out.read_text(encoding="utf-8").strip()


@pytest.mark.parametrize("args", [["--query", QUERY, "--budget", "2k"], ["--budget", "100k"]],
                         ids=["slice", "whole"])
def test_the_cli_writes_the_pack_the_library_makes(repo, tmp_path, args):
    """The command line (its tokenizer built in a thread meanwhile, the whole pack's file tree built
    only when the repository can go whole) writes byte for byte what the library's pack renders."""
    out = tmp_path / "cli.xml"
    r = run_cli("pack", str(repo), *args, "-o", str(out))
    assert r.returncode == 0, r.stderr
    loaded = load_repository(str(repo))
    budget = int(args[args.index("--budget") + 1].rstrip("k")) * 1000
    query = args[1] if args[0] == "--query" else ""
    result = Packer(loaded).pack(PackRequest(query=query, budget=budget))
    assert out.read_text(encoding="utf-8") == written(result, "xml")
    assert result.mode == ("slice" if query else "whole")
    if not query:  # the file tree opens a whole pack
        head = written(result, "xml").split("<file ", 1)[0]
        assert "<map>" in head and "  retry.py\n" in head


def test_a_warmed_encoding_counts_as_a_cold_one_and_leaves_no_thread():
    enc = tokens.Encoding("o200k_base", tokens._bpe_openai("o200k_base"))
    enc.warm()
    text = "def f(x):\n    return x + 1\n" * 50
    assert enc.count(text) == tokens.get_encoding("o200k_base").count(text)
    enc.settle()
    assert not any(t.name == "repoctx-tokenizer" and t.is_alive() for t in threading.enumerate())
