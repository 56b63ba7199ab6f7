"""`repoctx resident`: a repository kept loaded that `repoctx pack` asks first (issue 27). Its packs
are the packs the command makes alone, after any edit; its socket is this user's alone, and every
other door — another user's socket or call, a file or link in the socket's place, a malformed
frame, a call for another repository — leaves the caller working alone and the process serving."""
from __future__ import annotations

import json
import os
import socket
import stat
import struct
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import make_repo, run_cli

QUERY = "parse the request headers and retry on timeout"
MARK = "(resident process)"
ALONE = {"REPOCTX_RESIDENT": "off"}
root_only = pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0,
                               reason="acting as another user needs root")
NOBODY = 65534


def fixture_files(n: int = 6) -> dict[str, str]:
    files = {f"pkg/mod{i}.py": "".join(f"def handler_{i}_{j}(request, timeout):\n    headers = request.headers\n"
                                       f"    return retry(headers, timeout + {j})\n\n\n" for j in range(20))
             for i in range(n)}
    files["pkg/retry.py"] = "def retry(headers, timeout):\n    '''Retry on timeout.'''\n    return headers, timeout\n"
    return files


@pytest.fixture
def repo(tmp_path):
    root = make_repo(tmp_path / "r", fixture_files())
    assert run_cli("index", str(root)).returncode == 0
    return root


class Resident:
    """`repoctx resident ROOT` in a process of its own, ready once it has said where it listens."""

    def __init__(self, root: Path, *args: str):
        self.proc = subprocess.Popen([sys.executable, "-m", "repoctx", "resident", str(root), "--idle", "600", *args],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.ready = self.proc.stdout.readline()
        self.socket = root / ".repoctx" / "resident.sock"

    def stop(self) -> str:
        self.proc.terminate()
        _, err = self.proc.communicate(timeout=60)
        return err


@pytest.fixture
def resident(repo):
    r = Resident(repo)
    assert "repoctx: resident for" in r.ready, r.proc.stderr.read()
    yield r
    r.stop()


def pack(repo: Path, out: Path, env: dict | None = None, *extra: str):
    r = run_cli("pack", str(repo), "--query", QUERY, "--budget", "2k", "-o", str(out), *extra, env=env)
    assert r.returncode == 0, r.stderr
    return out.read_text(encoding="utf-8"), r.stderr


def test_a_pack_through_the_resident_process_is_the_pack_alone_and_follows_every_edit(repo, resident, tmp_path):
    served, err = pack(repo, tmp_path / "a.xml")
    assert MARK in err
    assert served == pack(repo, tmp_path / "b.xml", ALONE)[0]
    # An edit on disk (no editor tells anyone): the next answer has it, as a pack alone would.
    with open(repo / "pkg" / "retry.py", "a", encoding="utf-8") as f:
        f.write("\n\ndef retry_headers_after_timeout(request, timeout):\n    return retry(request.headers, timeout)\n")
    served, err = pack(repo, tmp_path / "c.xml")
    alone = pack(repo, tmp_path / "d.xml", ALONE)[0]
    assert MARK in err and "retry_headers_after_timeout" in alone
    assert served == alone
    (repo / "pkg" / "mod0.py").unlink()  # a file removed: reloaded, not patched
    served, err = pack(repo, tmp_path / "e.xml")
    assert MARK in err and "handler_0_" not in served
    assert served == pack(repo, tmp_path / "f.xml", ALONE)[0]


def test_the_socket_is_this_users_alone_and_removed_on_stop(repo, resident):
    st = os.lstat(resident.socket)
    assert stat.S_ISSOCK(st.st_mode) and stat.S_IMODE(st.st_mode) == 0o600 and st.st_uid == os.geteuid()
    resident.stop()
    assert not os.path.lexists(resident.socket)


def test_a_stale_socket_is_replaced(repo, tmp_path):
    (repo / ".repoctx").mkdir(exist_ok=True)
    stale = socket.socket(socket.AF_UNIX)
    stale.bind(str(repo / ".repoctx" / "resident.sock"))
    stale.close()  # no one listens: a process that was killed
    r = Resident(repo)
    try:
        assert "repoctx: resident for" in r.ready
        assert MARK in pack(repo, tmp_path / "a.xml")[1]
    finally:
        r.stop()


@pytest.mark.parametrize("planted", ["file", "link"])
def test_a_file_or_link_in_the_sockets_place_is_never_used_nor_replaced(repo, tmp_path, planted):
    other = make_repo(tmp_path / "other", fixture_files(2))
    assert run_cli("index", str(other)).returncode == 0
    place = repo / ".repoctx" / "resident.sock"
    if planted == "file":
        place.write_text("not a socket")
    else:  # a link to a live resident process of another repository
        theirs = Resident(other)
        place.symlink_to(theirs.socket)
    try:
        r = Resident(repo)
        err = r.proc.communicate(timeout=300)[1]
        assert r.proc.returncode == 1 and "is not a socket of yours" in err and len(err.strip().splitlines()) == 1
        assert os.path.lexists(place) and (place.is_symlink() if planted == "link" else place.read_text() == "not a socket")
        served, err = pack(repo, tmp_path / "a.xml")
        assert MARK not in err and served == pack(repo, tmp_path / "b.xml", ALONE)[0]
    finally:
        if planted == "link":
            theirs.stop()


def _frame(value) -> bytes:
    data = json.dumps(value).encode()
    return struct.pack(">Q", len(data)) + data


def _answered(conn: socket.socket) -> bool:
    """Whether the process answered (False: it closed the connection, or reset it unread)."""
    try:
        return conn.recv(1) != b""
    except ConnectionResetError:
        return False


def _as_nobody(work) -> int:
    """Run `work()` in a child process as the user nobody; its exit status."""
    pid = os.fork()
    if pid == 0:  # pragma: no cover (the child)
        code = 1
        try:
            code = work() or 0
        except BaseException:  # noqa: BLE001 — the child says what failed, then exits
            import traceback
            traceback.print_exc()
        finally:
            os._exit(code)
    return os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])


@root_only
def test_a_socket_another_user_listens_on_is_never_asked(repo, tmp_path):
    """The socket file is this user's (bound before the switch), the listener another user's: the
    caller checks who listens (SO_PEERCRED), not only who owns the file, and works alone."""
    place = repo / ".repoctx" / "resident.sock"
    server = socket.socket(socket.AF_UNIX)
    server.bind(str(place))
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover (the child: listens as nobody, answers every call with a forged pack)
        try:
            os.setgid(NOBODY)
            os.setuid(NOBODY)
            server.listen(4)
            os.write(write_end, b"r")
            while True:
                conn, _ = server.accept()
                forged = json.dumps({"code": 0, "out": "FORGED", "err": ""}).encode()
                conn.sendall(struct.pack(">Q", len(forged)) + forged)
                conn.close()
        finally:
            os._exit(0)
    try:
        assert os.read(read_end, 1) == b"r"
        served, err = pack(repo, tmp_path / "a.xml")
        assert "FORGED" not in served and "served by another user" in err
        assert served == pack(repo, tmp_path / "b.xml", ALONE)[0]
    finally:
        os.kill(pid, 9)
        os.waitpid(pid, 0)
        server.close()


@root_only
def test_another_users_call_is_dropped(repo, tmp_path):
    """Even with every folder and the socket left open to everyone, a call from another user is not
    run (it would write its -o file as this user) and the process goes on serving this one."""
    import tempfile
    shared = Path(tempfile.mkdtemp(prefix="repoctx-open-", dir="/tmp"))
    try:
        shared.chmod(0o777)
        index = ["--index", str(shared / "index.sqlite")]
        assert run_cli("index", str(repo), *index).returncode == 0
        r = Resident(repo, *index)
        assert "repoctx: resident for" in r.ready
        place = shared / "resident.sock"
        os.chmod(place, 0o666)
        stolen = shared / "stolen.xml"

        def as_nobody():
            os.setgid(NOBODY)
            os.setuid(NOBODY)
            with socket.socket(socket.AF_UNIX) as conn:
                conn.connect(str(place))
                request = json.dumps({"argv": ["pack", str(repo), *index, "--query", QUERY, "-o", str(stolen)],
                                      "cwd": str(shared), "env": {}, "started": 0.0}).encode()
                try:
                    conn.sendall(struct.pack(">Q", len(request)) + request)
                except (BrokenPipeError, ConnectionResetError):
                    return 0  # closed before the call was read
                return 3 if _answered(conn) else 0
        try:
            assert _as_nobody(as_nobody) == 0
            assert not stolen.exists()
            assert MARK in pack(repo, tmp_path / "a.xml", None, *index)[1]
        finally:
            r.stop()
    finally:
        import shutil
        shutil.rmtree(shared, ignore_errors=True)


@pytest.mark.parametrize("frame", [struct.pack(">Q", 1 << 40), struct.pack(">Q", 5) + b"{]x!}",
                                   _frame({"argv": "pack .", "cwd": "/", "env": {}, "started": 0}), b"\x00\x00"],
                         ids=["huge", "not-json", "not-a-call", "short"])
def test_a_malformed_frame_is_dropped_and_the_process_keeps_serving(repo, resident, tmp_path, frame):
    with socket.socket(socket.AF_UNIX) as conn:
        conn.connect(str(resident.socket))
        conn.sendall(frame)
        conn.shutdown(socket.SHUT_WR)
        assert not _answered(conn)
    assert MARK in pack(repo, tmp_path / "a.xml")[1]


def test_a_call_for_another_repository_or_scan_is_declined_and_works_alone(repo, resident, tmp_path):
    other = make_repo(tmp_path / "other", fixture_files(2))
    assert run_cli("index", str(other), "--index", str(repo / ".repoctx" / "other.sqlite")).returncode == 0
    # Another repository with an index beside this one's: the socket found is this process's.
    index = ["--index", str(repo / ".repoctx" / "other.sqlite")]
    served, err = pack(other, tmp_path / "a.xml", None, *index)
    assert MARK not in err and served == pack(other, tmp_path / "b.xml", ALONE, *index)[0]
    # This repository, but an output inside it (a scan that leaves that file out): declined too.
    served, err = pack(repo, repo / "out.xml")
    assert MARK not in err
    assert MARK in pack(repo, tmp_path / "c.xml")[1]
