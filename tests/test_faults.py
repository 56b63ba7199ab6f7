"""Fault injection: real kills, full and read-only disks, locks, corrupt indexes, a branch switch.

Each test injects one fault into a real `repoctx` process and then checks that nothing was lost
(the index passes `PRAGMA integrity_check`, old outputs are intact) and that the next run works
(its output equals that of a fresh index elsewhere). Kills land at a known point — the process
sends itself the signal there (REPOCTX_FAULT, read by `repoctx.files.fault_point`) — never raced
against the clock: every time bound here is a hang guard, so a slow or busy machine passes too.
"""
from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from conftest import git, interruptible, make_repo, run_cli

N_FILES = 2000
IS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0


def _module(i: int) -> str:
    return "".join(f"def f_{i}_{k}(x):\n    return x * {k} + {i}\n\n\n" for k in range(6))


@pytest.fixture(scope="module")
def big(tmp_path_factory) -> Path:
    """~3,000 small Python files: indexing them takes a few seconds."""
    root = tmp_path_factory.mktemp("big") / "repo"
    return make_repo(root, {f"pkg{i % 30}/m{i}.py": _module(i) for i in range(N_FILES)})


def _pack(repo: Path, index: Path, *extra: str) -> str:
    r = run_cli("pack", str(repo), "--mode", "whole", "--budget", "10m", "--no-redact", "--index", str(index), *extra)
    assert r.returncode == 0, r.stderr
    return r.stdout


@pytest.fixture(scope="module")
def reference(big, tmp_path_factory) -> str:
    """`repoctx pack --mode whole` of the big repository from a fresh index of its own."""
    index = tmp_path_factory.mktemp("ref") / "index.sqlite"
    r = run_cli("index", str(big), "--index", str(index))
    assert r.returncode == 0, r.stderr
    return _pack(big, index)


def _integrity(index: Path) -> None:
    with sqlite3.connect(index) as db:
        assert db.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    db.close()


def _rows(index: Path) -> int:
    db = sqlite3.connect(index)
    try:
        return db.execute("SELECT count(*) FROM blobs").fetchone()[0]
    finally:
        db.close()


def _start(*args: str, env: dict | None = None) -> subprocess.Popen:
    """`repoctx ARGS` in a process group of its own (so its workers can be found and reaped)."""
    return subprocess.Popen([sys.executable, "-m", "repoctx", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True, env=env,
                            preexec_fn=interruptible)


def _group_gone(pgid: int, within: float) -> bool:
    """True when no process of the group is left within `within` seconds."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.05)
    return False


def _reap(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait()


def _faulty(point: str, n: int, sig: signal.Signals) -> dict:
    """The environment that makes a repoctx process send itself `sig` the `n`th time it passes
    `point` (repoctx/files.py `fault_point`): the fault lands at a known point, on any machine."""
    return {**os.environ, "REPOCTX_FAULT": f"{point}:{n}:{sig.name[3:]}"}


# -- 1. kill -9 / Ctrl-C during `repoctx index` ---------------------------------------------------

@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGINT], ids=["kill9", "sigint"])
def test_index_killed_midway_resumes(big, reference, tmp_path, sig):
    """Killed right after its first commit (of several): what was committed stays, the rest is redone."""
    index = tmp_path / "index.sqlite"
    proc = _start("index", str(big), "--index", str(index), env=_faulty("index-commit", 1, sig))
    try:
        out, err = proc.communicate(timeout=600)  # a hang guard only
        if sig == signal.SIGINT:
            assert proc.returncode == 130, err
            assert "interrupted" in err and "Traceback" not in err, err
        else:
            assert proc.returncode == -signal.SIGKILL, err
        assert f"{N_FILES} files" not in out, out
        # Workers do not outlive their parent (they poll for it every 0.2 s; the bound is a hang guard).
        assert _group_gone(proc.pid, 120), "worker processes survived the main process"
    finally:
        _reap(proc)
    _integrity(index)
    kept = _rows(index)
    assert 0 < kept < N_FILES, kept  # the fault landed midway
    r = run_cli("index", str(big), "--index", str(index))
    assert r.returncode == 0 and "Traceback" not in r.stderr, r.stderr
    assert f"{N_FILES} files" in r.stdout, r.stdout
    assert r.stdout.split(" parsed")[0].endswith(f", {N_FILES - kept}"), (kept, r.stdout)
    _integrity(index)
    assert _pack(big, index) == reference


# -- 2. kill -9 / Ctrl-C during `repoctx pack -o FILE` --------------------------------------------

SMALL = {"app/__init__.py": "", **{f"app/m{i}.py": _module(i) for i in range(40)}}


@pytest.fixture(scope="module")
def small(tmp_path_factory) -> Path:
    return make_repo(tmp_path_factory.mktemp("small") / "repo", SMALL)


def _temps(folder: Path, keep: set[str]) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name not in keep)


FAULTS = [(sig, where) for sig in (signal.SIGKILL, signal.SIGINT) for where in ("write", "rename")]


def test_pack_killed_while_writing_leaves_old_or_new(small, tmp_path):
    """kill -9 and Ctrl-C with the pack written to its temporary file but not synced, and synced but
    not renamed (the four faults run side by side, each on its own copy of the previous pack)."""
    index = tmp_path / "idx" / "index.sqlite"
    args = ["pack", str(small), "--mode", "whole", "--budget", "1m", "--index", str(index)]
    r = run_cli(*args, "-o", str(tmp_path / "first.xml"))
    assert r.returncode == 0, r.stderr
    old = (tmp_path / "first.xml").read_bytes()
    (small / "app/m0.py").write_text(_module(0) + "\n\ndef brand_new():\n    return 1\n")
    runs = []
    try:
        for n, (sig, where) in enumerate(FAULTS):  # side by side: they do not depend on timing
            target = tmp_path / f"out{n}" / "pack.xml"
            target.parent.mkdir()
            target.write_bytes(old)
            runs.append((sig, where, target, _start(*args, "-o", str(target), env=_faulty(f"{where} pack.xml", 1, sig))))
        seen = {}
        for sig, where, target, proc in runs:
            _, err = proc.communicate(timeout=600)  # a hang guard only
            out_dir = target.parent
            assert target.read_bytes() == old, (sig, where)  # killed before the rename: the old pack, complete
            strays = _temps(out_dir, {"pack.xml"})
            seen[sig.name, where] = strays
            if sig == signal.SIGINT:
                assert proc.returncode == 130 and "Traceback" not in err, err
                assert strays == [], strays  # Ctrl-C removes its temporary file
            else:
                assert proc.returncode == -signal.SIGKILL, err
                # kill -9 cannot clean up: what it leaves must be plainly temporary (a hidden .repoctx-*).
                assert len(strays) == 1 and strays[0].startswith(".repoctx-"), strays
                assert (out_dir / strays[0]).stat().st_size > 0  # the fault landed with data written
                (out_dir / strays[0]).unlink()
        print("left behind:", seen)
        r = run_cli(*args, "-o", str(tmp_path / "out0" / "pack.xml"))
        assert r.returncode == 0, r.stderr
        new = (tmp_path / "out0" / "pack.xml").read_bytes()
        assert new != old and b"def brand_new():" in new
        assert _temps(tmp_path / "out0", {"pack.xml"}) == []  # a successful run leaves no temporary file
    finally:
        for *_, proc in runs:
            _reap(proc)
        (small / "app/m0.py").write_text(_module(0))


# -- 3. unwritable output and index locations ------------------------------------------------------

def _one_line_error(r: subprocess.CompletedProcess, path: str) -> None:
    assert r.returncode == 1, (r.returncode, r.stderr)
    assert "Traceback" not in r.stderr, r.stderr
    errors = [line for line in r.stderr.splitlines() if line.startswith("repoctx: error:")]
    assert len(errors) == 1 and path in errors[0], r.stderr


def _mount_tmpfs(folder: Path, options: str) -> None:
    if not IS_ROOT:
        pytest.skip("mounting a tmpfs needs root")
    folder.mkdir(parents=True, exist_ok=True)
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(folder)], capture_output=True, text=True)
    if r.returncode:
        pytest.skip(f"cannot mount a tmpfs here: {r.stderr.strip()}")


def _umount(folder: Path) -> None:
    subprocess.run(["umount", "-l", str(folder)], check=False)


def test_output_to_a_full_device(small, tmp_path):
    import stat
    index = tmp_path / "index.sqlite"
    full = tmp_path / "full"  # a private /dev/full: the real one must never be at risk
    try:
        os.mknod(full, 0o666 | stat.S_IFCHR, os.makedev(1, 7))
    except OSError as exc:
        pytest.skip(f"cannot make a device node: {exc}")
    r = run_cli("pack", str(small), "--index", str(index), "-o", str(full))
    _one_line_error(r, str(full))
    assert stat.S_ISCHR(full.stat().st_mode), "the device node was replaced by a file"
    assert _temps(tmp_path, {"index.sqlite", "index.sqlite-wal", "index.sqlite-shm", "full", "graph",
                             "retrieval", "secrets.sealed", "counts.sealed", "scan.memo"}) == []
    if stat.S_ISCHR(os.stat("/dev/full").st_mode):
        r = run_cli("pack", str(small), "--index", str(index), "-o", "/dev/full")
        _one_line_error(r, "/dev/full")
        assert stat.S_ISCHR(os.stat("/dev/full").st_mode)


def test_output_into_a_read_only_folder(small, tmp_path):
    index = tmp_path / "index.sqlite"
    ro = tmp_path / "ro"
    _mount_tmpfs(ro, "size=1m")
    try:
        (ro / "pack.xml").write_text("previous pack\n")
        subprocess.run(["mount", "-o", "remount,ro", str(ro)], check=True)
        r = run_cli("pack", str(small), "--index", str(index), "-o", str(ro / "pack.xml"))
        _one_line_error(r, str(ro / "pack.xml"))
        assert (ro / "pack.xml").read_text() == "previous pack\n"
        assert sorted(p.name for p in ro.iterdir()) == ["pack.xml"]
    finally:
        _umount(ro)


def test_index_location_unusable(small, tmp_path):
    if os.path.exists("/dev/full"):
        r = run_cli("index", str(small), "--index", "/dev/full/x.sqlite")
        _one_line_error(r, "/dev/full")
    ro = tmp_path / "ro"
    _mount_tmpfs(ro, "size=1m,ro")
    try:
        r = run_cli("index", str(small), "--index", str(ro / "index.sqlite"))
        _one_line_error(r, str(ro / "index.sqlite"))
    finally:
        _umount(ro)


def test_index_on_a_full_disk(small, big, tmp_path):
    disk = tmp_path / "disk"
    _mount_tmpfs(disk, "size=300k")
    try:
        index = disk / "index.sqlite"
        r = run_cli("index", str(small), "--index", str(index))
        assert r.returncode == 0, r.stderr
        before = _rows(index)
        r = run_cli("index", str(big), "--index", str(index))  # does not fit in 300k
        _one_line_error(r, str(index))
        _integrity(index)
        assert _rows(index) >= before  # what was there is still there
        r = run_cli("pack", str(small), "--mode", "whole", "--budget", "1m", "--index", str(index))
        assert r.returncode == 0 and "def f_3_5(x):" in r.stdout, r.stderr
    finally:
        _umount(disk)


# -- 4. two indexers at once; a locked index -------------------------------------------------------

def test_two_indexers_on_one_index(big, reference, tmp_path):
    index = tmp_path / "index.sqlite"
    procs = [_start("index", str(big), "--index", str(index)) for _ in range(2)]
    try:
        results = [p.communicate(timeout=120) for p in procs]
    finally:
        for p in procs:
            _reap(p)
    for p, (out, err) in zip(procs, results):
        assert p.returncode == 0 and "Traceback" not in err, err
        assert f"{N_FILES} files" in out
    _integrity(index)
    assert _rows(index) == N_FILES
    assert _pack(big, index) == reference


LOCK_TIMEOUT_1S = "import sys, repoctx.index.store as i; i.LOCK_TIMEOUT_S = 1.0; from repoctx.cli import main; sys.exit(main())"


def test_locked_index_waits_then_succeeds_or_fails_clearly(small, tmp_path):
    index = tmp_path / "index.sqlite"
    (small / "app/late.py").write_text("def late():\n    return 3\n")  # something to write
    holder = sqlite3.connect(index, isolation_level=None, check_same_thread=False)
    try:
        # Create the index, then hold its write lock.
        r = run_cli("index", str(small), "--index", str(index))
        assert r.returncode == 0, r.stderr
        (small / "app/late.py").write_text("def later():\n    return 4\n")
        holder.execute("BEGIN EXCLUSIVE")
        # Released after ~2 s: the indexer waits and succeeds.
        threading.Timer(2.0, lambda: holder.execute("COMMIT")).start()
        start = time.monotonic()
        r = run_cli("index", str(small), "--index", str(index))
        assert r.returncode == 0, r.stderr
        # It did wait (a slower machine only waits longer: this cannot fail for being slow).
        assert time.monotonic() - start >= 1.5
        # Never released (within the bound): a clear error, in bounded time.
        (small / "app/late.py").write_text("def latest():\n    return 5\n")
        holder.execute("BEGIN EXCLUSIVE")
        r = subprocess.run([sys.executable, "-c", LOCK_TIMEOUT_1S, "index", str(small), "--index", str(index)],
                           capture_output=True, text=True, timeout=600)  # a hang guard only
        _one_line_error(r, str(index))
        assert "locked" in r.stderr and "gave up after 1s" in r.stderr, r.stderr  # its bound, not the clock's
        holder.execute("COMMIT")
    finally:
        holder.close()
        (small / "app/late.py").unlink()
    _integrity(index)


# -- 5. corrupt index -------------------------------------------------------------------------------

def _garbage(index: Path) -> None:
    index.write_bytes(os.urandom(64 * 1024))


def _half(index: Path) -> None:
    with open(index, "r+b") as f:
        f.truncate(index.stat().st_size // 2)


def _empty(index: Path) -> None:
    index.write_bytes(b"")


def _garbage_wal(index: Path) -> None:
    Path(str(index) + "-wal").write_bytes(os.urandom(32 * 1024))


def test_corrupt_index_is_rebuilt(small, tmp_path):
    """Garbage, half a file, an empty file, a garbage WAL: `pack` and `index` warn, rebuild, succeed."""
    good = tmp_path / "good" / "index.sqlite"
    expected = _pack(small, good)
    db = sqlite3.connect(good)
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()
    for n, damage in enumerate((_garbage, _half, _empty, _garbage_wal)):
        index = tmp_path / f"d{n}" / "index.sqlite"
        index.parent.mkdir()
        index.write_bytes(good.read_bytes())
        damage(index)
        command = ["index", str(small), "--index", str(index)] if damage is _garbage else \
            ["pack", str(small), "--mode", "whole", "--budget", "10m", "--no-redact", "--index", str(index)]
        r = run_cli(*command)
        assert r.returncode == 0 and "Traceback" not in r.stderr, (damage.__name__, r.stderr)
        if damage in (_garbage, _half):  # an empty file is a valid empty database; a mismatched WAL is ignored
            assert "rebuilt" in r.stderr, (damage.__name__, r.stderr)
        if command[0] == "pack":
            assert r.stdout == expected, damage.__name__
        _integrity(index)
        assert _rows(index) == len(SMALL)


# -- 6. branch switched under a running server -------------------------------------------------------

import pytest_lsp  # noqa: E402
from lsprotocol import types as t  # noqa: E402
from pytest_lsp import ClientServerConfig, LanguageClient  # noqa: E402


@pytest_lsp.fixture(config=ClientServerConfig(server_command=[sys.executable, "-m", "repoctx", "serve"]))
async def lsp(lsp_client: LanguageClient, tmp_path_factory):
    repo = make_repo(tmp_path_factory.mktemp("branches") / "repo", {
        "shop/__init__.py": "",
        "shop/util.py": "def compute_total(items):\n    return sum(items)\n",
        "shop/legacy.py": "def legacy_helper_fn():\n    return 1\n",
        "shop/app.py": "from shop.util import compute_total\n\n\ndef run(orders):\n    return compute_total(orders)\n"})
    git(repo, "checkout", "-q", "-b", "b")
    (repo / "shop/util.py").write_text("def grand_total_sum(items):\n    return sum(items)\n")
    (repo / "shop/app.py").write_text("from shop.util import grand_total_sum\n\n\ndef run(orders):\n"
                                      "    return grand_total_sum(orders)\n")
    git(repo, "rm", "-q", "shop/legacy.py")
    git(repo, "commit", "-q", "-am", "rename, delete")
    git(repo, "checkout", "-q", "main")
    lsp_client.repo = repo
    caps = t.ClientCapabilities(workspace=t.WorkspaceClientCapabilities(
        did_change_watched_files=t.DidChangeWatchedFilesClientCapabilities()))
    await lsp_client.initialize_session(t.InitializeParams(capabilities=caps, root_uri=repo.resolve().as_uri()))
    yield
    await lsp_client.shutdown_session()


async def test_branch_switch_under_the_server(lsp):
    import asyncio
    repo = lsp.repo
    found = await lsp.workspace_symbol_async(t.WorkspaceSymbolParams(query="compute_total"))
    assert [s.name for s in found] == ["compute_total"]
    assert [s.name for s in await lsp.workspace_symbol_async(t.WorkspaceSymbolParams(query="legacy_helper_fn"))]
    git(repo, "checkout", "-q", "b")
    lsp.workspace_did_change_watched_files(t.DidChangeWatchedFilesParams([
        t.FileEvent((repo / "shop/util.py").resolve().as_uri(), t.FileChangeType.Changed),
        t.FileEvent((repo / "shop/app.py").resolve().as_uri(), t.FileChangeType.Changed),
        t.FileEvent((repo / "shop/legacy.py").resolve().as_uri(), t.FileChangeType.Deleted)]))
    deadline = time.monotonic() + 300  # a hang guard: the server reindexes in the background
    while not (found := await lsp.workspace_symbol_async(t.WorkspaceSymbolParams(query="grand_total_sum"))):
        assert time.monotonic() < deadline, "the server never saw the branch switch"
        await asyncio.sleep(0.1)
    assert [s.name for s in found] == ["grand_total_sum"]
    assert await lsp.workspace_symbol_async(t.WorkspaceSymbolParams(query="compute_total")) in ([], None)
    assert await lsp.workspace_symbol_async(t.WorkspaceSymbolParams(query="legacy_helper_fn")) in ([], None)
    r = await lsp.protocol.send_request_async("repoctx/context", {
        "textDocument": {"uri": (repo / "shop/app.py").resolve().as_uri()},
        "range": {"start": {"line": 3, "character": 0}, "end": {"line": 4, "character": 0}}})
    assert "grand_total_sum" in r.text and "compute_total" not in r.text and "legacy" not in r.text
