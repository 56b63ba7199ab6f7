"""repoctx installed as people install a tool, with nothing downloaded.

The sdist is built from this checkout's tracked files and the wheel from that sdist, with the build
backend already installed here (no build isolation). The wheel goes into a fresh virtual environment
from a wheelhouse of the dependencies already on this machine: each installed distribution the wheel
needs is packed back into a wheel from its RECORD, and pip reads no configuration and no index. Every
build and install step, and every `repoctx` run, happens in a network namespace with no network at all
when `unshare -n` (root) or `unshare -rn` (a user namespace) works. `repoctx` then runs from that
environment, away from this checkout, on a fixture repository, with an empty tiktoken cache.

`bench/install_time.py` times the same steps with these helpers.
"""
from __future__ import annotations

import base64
import email
import hashlib
import importlib.metadata
import os
import re
import subprocess
import sys
import tarfile
import zipfile
from functools import lru_cache
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from conftest import git, make_repo

ROOT = Path(__file__).resolve().parent.parent
#: RECORD entries a wheel does not carry: the installer writes them.
_INSTALLER_FILES = {"RECORD", "INSTALLER", "REQUESTED", "direct_url.json"}


@lru_cache(maxsize=None)
def offline() -> tuple[str, ...]:
    """A command prefix that runs its command with no network at all, or () where none works here
    (then pip's --no-index and no configuration are what keep it off the network)."""
    for prefix in (("unshare", "-n"), ("unshare", "-rn")):
        try:
            if subprocess.run([*prefix, "true"], capture_output=True).returncode == 0:
                return prefix
        except OSError:
            return ()
    return ()


def clean_env(**extra: str) -> dict[str, str]:
    """This environment without anything that points Python or pip elsewhere: pip reads no configuration
    file (so none of this machine's indexes, find-links or proxies)."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("PIP_", "PYTHON", "UV_")) and k not in ("VIRTUAL_ENV", "TIKTOKEN_CACHE_DIR")}
    return {**env, "PIP_CONFIG_FILE": os.devnull, "PYTHONDONTWRITEBYTECODE": "1", **extra}


def run(*cmd: str | Path, cwd: Path | None = None, env: dict[str, str] | None = None,
        check: bool = True) -> subprocess.CompletedProcess[str]:
    r = subprocess.run([*offline(), *map(str, cmd)], cwd=cwd, env=env or clean_env(), capture_output=True,
                       text=True, timeout=600)
    if check and r.returncode != 0:
        pytest.fail(f"`{' '.join(map(str, cmd))}` exited {r.returncode}\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}")
    return r


def build(out: Path) -> tuple[Path, Path]:
    """(sdist, wheel) of this checkout: the sdist from the tracked files (as a fresh clone holds them, with
    this work tree's edits), the wheel from the unpacked sdist."""
    src = out / "src"
    for rel in git(ROOT, "ls-files", "-z").split("\0"):
        if rel and (ROOT / rel).is_file():
            (src / rel).parent.mkdir(parents=True, exist_ok=True)
            (src / rel).write_bytes((ROOT / rel).read_bytes())
    hook = "import sys; from setuptools import build_meta; print(build_meta.build_sdist(sys.argv[1]))"
    sdist = out / run(sys.executable, "-c", hook, out, cwd=src).stdout.strip().splitlines()[-1]
    with tarfile.open(sdist) as tar:
        tar.extractall(out / "unpacked", filter="data")
    run(sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-index", "--no-build-isolation",
        "--check-build-dependencies", "-w", out, out / "unpacked" / sdist.name.removesuffix(".tar.gz"))
    (wheel,) = out.glob("repoctx-*.whl")
    return sdist, wheel


def wheel_metadata(wheel: Path) -> email.message.Message:
    with zipfile.ZipFile(wheel) as z:
        (name,) = [n for n in z.namelist() if n.endswith(".dist-info/METADATA")]
        return email.message_from_bytes(z.read(name))


def dependencies(requires: list[str]) -> dict[str, importlib.metadata.Distribution]:
    """The installed distributions that the Requires-Dist lines `requires` need on this interpreter,
    transitively (extras followed)."""
    found: dict[str, importlib.metadata.Distribution] = {}
    seen: set[tuple[str, str]] = set()
    todo = [(line, "") for line in requires]  # (requirement, the extra of the distribution that asks for it)
    while todo:
        line, extra = todo.pop()
        req = Requirement(line)
        if req.marker and not req.marker.evaluate({"extra": extra}):
            continue
        name = canonicalize_name(req.name)
        dist = found.setdefault(name, importlib.metadata.distribution(req.name))
        assert req.specifier.contains(dist.version, prereleases=True), f"{line}: {dist.version} is installed"
        for wanted in ("", *req.extras):
            if (name, wanted) not in seen:
                seen.add((name, wanted))
                todo += [(r, wanted) for r in dist.requires or []]
    return found


def repack(dist: importlib.metadata.Distribution, out: Path) -> Path:
    """The installed distribution `dist`, packed back into a wheel from the files its RECORD lists in
    site-packages (bytecode and files installed elsewhere, such as console scripts, are left out: the
    installer makes the scripts again from entry_points.txt)."""
    wheel_file = dist.read_text("WHEEL")
    assert wheel_file and dist.files, f"{dist.metadata['Name']} was not installed from a wheel"
    tags = [t.split("-") for t in re.findall(r"^Tag:\s*(\S+)", wheel_file, re.M)]
    files = [f for f in dist.files if ".." not in f.parts and "__pycache__" not in f.parts
             and not (f.parts[0].endswith(".dist-info") and f.name in _INSTALLER_FILES)]
    (info,) = {f.parts[0] for f in files if f.parts[0].endswith(".dist-info")}
    name_version = info.removesuffix(".dist-info")
    wheel = out / f"{name_version}-{'-'.join('.'.join(sorted({t[i] for t in tags})) for i in range(3))}.whl"
    record = []
    with zipfile.ZipFile(wheel, "w", zipfile.ZIP_STORED) as z:
        for f in files:
            data = f.locate().read_bytes()
            digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
            z.writestr(f.as_posix(), data)
            record.append(f"{f.as_posix()},sha256={digest},{len(data)}")
        z.writestr(f"{info}/RECORD", "\n".join([*record, f"{info}/RECORD,,"]) + "\n")
    return wheel


def wheelhouse(wheel: Path, out: Path) -> list[Path]:
    """Wheels of every dependency of `wheel`, made from what this interpreter has installed."""
    out.mkdir(parents=True, exist_ok=True)
    return [repack(d, out) for d in dependencies(wheel_metadata(wheel).get_all("Requires-Dist") or []).values()]


def install(wheel: Path, house: Path, venv: Path) -> Path:
    """`wheel` installed into a new virtual environment `venv` from `house` alone; returns its bin folder."""
    run(sys.executable, "-m", "venv", "--without-pip", venv)
    run(sys.executable, "-m", "pip", "--python", venv / "bin" / "python", "install", "-q", "--no-index",
        "--find-links", house, wheel)
    return venv / "bin"


# ----------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> tuple[Path, Path]:
    return build(tmp_path_factory.mktemp("build"))


def test_wheel_carries_the_packages_and_nothing_else(built):
    _, wheel = built
    with zipfile.ZipFile(wheel) as z:
        names = set(z.namelist())
        info = next(n.split("/")[0] for n in names if n.endswith(".dist-info/METADATA"))
        entry_points = z.read(f"{info}/entry_points.txt").decode()
    tracked = git(ROOT, "ls-files", "repoctx", "server").split()
    expected = {p.replace("server/", "repoctx_server/", 1) for p in tracked if p.endswith(".py")}
    code = {n for n in names if not n.startswith(info + "/")}
    assert code == expected  # every module, and no tests/, bench/, editors/ or stray files
    assert f"{info}/licenses/LICENSE" in names
    assert re.search(r"^\[console_scripts\]\nrepoctx = repoctx\.cli:main$", entry_points, re.M), entry_points


def test_metadata_of_wheel_and_sdist(built):
    sdist, wheel = built
    import repoctx
    with tarfile.open(sdist) as tar:
        top = sdist.name.removesuffix(".tar.gz")
        members = set(tar.getnames())
        pkg_info = email.message_from_bytes(tar.extractfile(f"{top}/PKG-INFO").read())
    assert {f"{top}/LICENSE", f"{top}/README.md", f"{top}/pyproject.toml"} <= members
    assert not any(m.startswith((f"{top}/bench/", f"{top}/editors/")) for m in members)
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for meta in (wheel_metadata(wheel), pkg_info):
        assert meta["Name"] == "repoctx" and meta["Version"] == repoctx.__version__
        assert meta["License-Expression"] == "MIT" and meta["License-File"] == "LICENSE"
        assert meta["Requires-Python"] == ">=3.10"
        assert meta["Description-Content-Type"] == "text/markdown"
        assert meta.get_payload(decode=True).decode("utf-8").strip() == readme.strip()
        requires = meta.get_all("Requires-Dist")
        assert any(r.startswith("bpe-openai") for r in requires)  # the token encodings, offline
        assert {r.split(">")[0].split("<")[0] for r in requires if r.startswith("tree-sitter-")} == {
            "tree-sitter-" + lang for lang in
            ("python", "javascript", "typescript", "go", "rust", "java", "c", "cpp", "ruby", "php", "c-sharp", "kotlin")}


FIXTURE = {
    "app/main.py": "from app.util import total\n\n\ndef main():\n    return total([1, 2, 3])\n",
    "app/util.py": "def total(xs):\n    return sum(xs)\n",
    "web/index.ts": "export function greet(name: string): string {\n  return `hi ${name}`;\n}\n",
    "cmd/tool.go": "package main\n\nfunc Double(x int) int {\n\treturn 2 * x\n}\n",
    "src/lib.rs": "pub fn triple(x: i32) -> i32 {\n    x * 3\n}\n",
}


# 10-21 s on 2 busy cores (a 200 MB wheelhouse, a venv, pip): under the 30 s that would make it `slow`
def test_installed_wheel_packs_a_repository_offline(built, tmp_path):
    from repoctx.tokens import count, get_encoding
    _, wheel = built
    house = tmp_path / "wheelhouse"
    wheelhouse(wheel, house)
    bin_dir = install(wheel, house, tmp_path / "venv")
    repo = make_repo(tmp_path / "fixture", FIXTURE)
    home = tmp_path / "home"
    home.mkdir()
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    env = clean_env(PATH=f"{bin_dir}{os.pathsep}/usr/bin{os.pathsep}/bin", HOME=str(home), TMPDIR=str(tmp))

    where = run(bin_dir / "python", "-c", "import repoctx, repoctx_server.language_server, "
                "repoctx_server.mcp_server, bpe_openai; print(repoctx.__file__)", cwd=home, env=env)
    assert Path(where.stdout.strip()).is_relative_to(tmp_path / "venv"), where.stdout  # not this checkout
    version = run(bin_dir / "repoctx", "--version", cwd=home, env=env)
    assert version.stdout.strip() == f"repoctx {wheel_metadata(wheel)['Version']}"
    for server in ("serve", "mcp"):
        assert run(bin_dir / "repoctx", server, "--help", cwd=home, env=env).stdout.startswith(f"usage: repoctx {server}")

    # Token caches that start empty (one named by TIKTOKEN_CACHE_DIR, then tiktoken's default) and no network:
    # counts come from the encodings the wheels ship.
    for encoding, cache_env in (("o200k_base", {"TIKTOKEN_CACHE_DIR": str(tmp_path / "token-cache")}), ("cl100k_base", {})):
        r = run(bin_dir / "repoctx", "pack", "--encoding", encoding, cwd=repo, env={**env, **cache_env})
        for rel, text in FIXTURE.items():
            assert rel in r.stdout and text in r.stdout, rel
        tokens = re.fullmatch(rf"repoctx: whole: ([\d,]+)/32,000 tokens, 5 files whole, 0 files sliced, {encoding}, "
                              r"[\d.]+s\n", r.stderr)
        assert tokens, r.stderr
        assert int(tokens[1].replace(",", "")) == count(r.stdout, get_encoding(encoding))
