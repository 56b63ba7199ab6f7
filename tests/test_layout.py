"""The shape of the code: no import loops, the engine never imports the servers, the servers use only
the public API, and the CLI loads only what a command needs."""
from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import repoctx

ROOT = Path(__file__).resolve().parent.parent
HEAVY = ("numpy", "tree_sitter", "tiktoken", "detect_secrets", "pygls", "lsprotocol", "repoctx_server", "git")


def _modules() -> dict[str, Path]:
    out = {}
    for base, name in ((ROOT / "repoctx", "repoctx"), (ROOT / "server", "repoctx_server")):
        for f in base.rglob("*.py"):
            parts = [name, *f.relative_to(base).with_suffix("").parts]
            out[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = f
    return out


def _imports(path: Path, top_level_only: bool) -> set[str]:
    """Modules imported by a file: at import time (module level, outside TYPE_CHECKING), or anywhere."""
    tree = ast.parse(path.read_text())
    nodes = []
    if top_level_only:
        for node in tree.body:
            if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
                continue
            nodes += list(ast.walk(node)) if isinstance(node, (ast.If, ast.Try)) else [node]
    else:
        nodes = list(ast.walk(tree))
    found = set()
    for node in nodes:
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found |= {node.module} | {f"{node.module}.{a.name}" for a in node.names}
    return found


def test_no_import_loops():
    mods = _modules()
    edges = {m: {i for i in _imports(f, True) if i in mods and i != m} for m, f in mods.items()}
    # A module's package __init__ runs first: importing a.b.c imports a and a.b.
    for m in mods:
        edges[m] |= {".".join(m.split(".")[:k]) for k in range(1, m.count(".") + 1)} & set(mods) - {m}
    state: dict[str, int] = {}

    def visit(m, path):
        state[m] = 1
        for n in sorted(edges[m]):
            assert state.get(n) != 1, "import loop: " + " -> ".join([*path, m, n])
            if n not in state:
                visit(n, [*path, m])
        state[m] = 2

    for m in sorted(mods):
        if m not in state:
            visit(m, [])


def test_engine_never_imports_the_servers_and_servers_use_the_public_api():
    for name, path in _modules().items():
        imported = _imports(path, False)
        if name.startswith("repoctx_server"):
            library = {i for i in imported if i.split(".")[0] == "repoctx"}
            assert library <= {"repoctx"} | {f"repoctx.{n}" for n in repoctx.__all__}, (name, library)
        elif name != "repoctx.cli":  # the CLI starts the server, lazily, for `repoctx serve`
            assert not any(i.split(".")[0] == "repoctx_server" for i in imported), name


def test_the_cli_loads_only_what_a_command_needs():
    code = ("import sys; from repoctx.cli import build_parser; build_parser().parse_args(['init']); "
            f"print(' '.join(m for m in {HEAVY!r} if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "", f"loaded at start-up: {out}"


WATCH = (*HEAVY, "bpe_openai._bindings")
#: What each command may load once the index is warm; everything else in WATCH stays unloaded.
#: `index` makes (or, warm, opens) the arrays the first query reads (index/prepare.py): numpy.
NEEDS = {
    ("index", "REPO"): {"numpy"}, ("stats", "REPO"): set(), ("graph", "REPO", "--format", "json"): set(),
    ("pack", "REPO", "--mode", "whole", "--budget", "1m"): {"bpe_openai._bindings"},
    ("search", "load", "REPO"): {"numpy"},
    ("pack", "REPO", "--query", "load the settings", "--budget", "2k"): {"numpy", "bpe_openai._bindings"},
}
TRACE = ("import atexit, runpy, sys; "
         "atexit.register(lambda: print('LOADED', *sorted(m for m in {watch!r} if m in sys.modules), file=sys.stderr)); "
         "sys.argv = ['repoctx', *sys.argv[1:]]; runpy.run_module('repoctx.cli', run_name='__main__')")


def test_each_command_loads_only_what_it_needs(tmp_path):
    from conftest import make_repo
    repo = make_repo(tmp_path / "r", {"pkg/settings.py": "def load(path):\n    return open(path).read()\n",
                                      "pkg/app.py": "from pkg.settings import load\n\nCONFIG = load('x.toml')\n"})
    code = TRACE.format(watch=WATCH)
    subprocess.run([sys.executable, "-c", code, "pack", str(repo), "--query", "load"], check=True, capture_output=True)
    for cmd, allowed in NEEDS.items():
        args = [str(repo) if a == "REPO" else a for a in cmd]
        r = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True)
        assert r.returncode == 0, r.stderr
        loaded = set(r.stderr.strip().splitlines()[-1].split()[1:])
        assert loaded <= allowed, (cmd, loaded - allowed)
