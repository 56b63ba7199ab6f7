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


# -- an attacker's review (issue 27): staleness a stat of the work tree misses, calls the command
# line would never forward, peers that hold the process, and the process's end -----------------

def _age(repo: Path) -> None:
    """Wait until every write is older than the process's "racy" window (a load within it loads again
    at every call, which would hide staleness): the premise of a staleness test, not its outcome."""
    import time

    from repoctx.resident import RACY_NS
    time.sleep(RACY_NS / 1e9 + 0.2)


def _same_as_alone(repo: Path, tmp_path: Path, name: str, env: dict | None = None) -> str:
    served, err = pack(repo, tmp_path / f"{name}-served.xml", env)
    alone = pack(repo, tmp_path / f"{name}-alone.xml", {**(env or {}), **ALONE})[0]
    assert MARK in err
    assert served == alone
    return served


def test_a_change_of_gits_listing_alone_is_seen(repo, resident, tmp_path):
    """`git add -f` of an ignored file (or `git rm --cached` of one) changes what is packed without
    touching the work tree: nothing a stat of the files and folders sees."""
    from conftest import git
    (repo / ".gitignore").write_text("gen/\n")
    (repo / "gen").mkdir()
    (repo / "gen" / "timeout_retry_headers.py").write_text("def generated_retry_timeout_headers(request):\n    return 1\n")
    _age(repo)
    assert "generated_retry" not in _same_as_alone(repo, tmp_path, "a")
    git(repo, "add", "-f", "gen/timeout_retry_headers.py")
    assert "generated_retry" in _same_as_alone(repo, tmp_path, "b")
    git(repo, "rm", "-q", "--cached", "gen/timeout_retry_headers.py")
    assert "generated_retry" not in _same_as_alone(repo, tmp_path, "c")


def test_a_callers_git_index_is_the_one_listed(repo, resident, tmp_path):
    """A caller's GIT_INDEX_FILE (a pre-commit hook's temporary index) names another listing."""
    from conftest import git
    (repo / ".gitignore").write_text("gen/\n")
    (repo / "gen").mkdir()
    (repo / "gen" / "timeout_retry_headers.py").write_text("def generated_retry_timeout_headers(request):\n    return 1\n")
    other = tmp_path / "other-index"
    env = {"GIT_INDEX_FILE": str(other)}
    subprocess.run(["git", "read-tree", "HEAD"], cwd=repo, env={**os.environ, **env}, check=True)
    subprocess.run(["git", "add", "-f", "gen/timeout_retry_headers.py"], cwd=repo, env={**os.environ, **env}, check=True)
    _age(repo)
    assert "generated_retry" not in _same_as_alone(repo, tmp_path, "a")
    assert "generated_retry" in _same_as_alone(repo, tmp_path, "b", env)
    assert "generated_retry" not in _same_as_alone(repo, tmp_path, "c")
    git(repo, "status")  # harmless: git may rewrite its index


def test_an_edit_that_keeps_the_files_time_and_size_is_seen(repo, resident, tmp_path):
    """A same-size edit whose mtime is put back (cp -p, rsync, a tool that restores times): git's
    stat check (ctime) sees it, so a pack alone has it; the process must too."""
    _age(repo)
    _same_as_alone(repo, tmp_path, "a")
    target = repo / "pkg" / "mod0.py"
    before = os.stat(target)
    text = target.read_text()
    target.write_text(text.replace("def handler_0_0(", "def handlex_0_0("))
    os.utime(target, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert os.stat(target).st_size == before.st_size
    assert "def handlex_0_0(" in _same_as_alone(repo, tmp_path, "b")


def test_staleness_after_ignore_rules_checkout_links_and_deletions(repo, resident, tmp_path):
    from conftest import git
    _same_as_alone(repo, tmp_path, "a")
    (repo / "pkg" / "mod1.py").write_text("def retry_timeout_headers_edited(request):\n    return 2\n")
    (repo / ".repoctxignore").write_text("pkg/mod1.py\n")  # edited while ignored
    assert "retry_timeout_headers_edited" not in _same_as_alone(repo, tmp_path, "b")
    (repo / ".repoctxignore").write_text("")  # un-ignored: its edit is packed
    assert "retry_timeout_headers_edited" in _same_as_alone(repo, tmp_path, "c")
    (repo / ".repoctx.toml").write_text("exclude = [\"pkg/mod2.py\"]\n")
    assert "handler_2_" not in _same_as_alone(repo, tmp_path, "d")
    (repo / ".repoctx.toml").unlink()
    git(repo, "checkout", "-q", "-b", "other")
    (repo / "pkg" / "extra.py").write_text("def branch_only_retry_timeout(request):\n    return 3\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "other")
    assert "branch_only_retry_timeout" in _same_as_alone(repo, tmp_path, "e")
    git(repo, "checkout", "-q", "main")
    assert "branch_only_retry_timeout" not in _same_as_alone(repo, tmp_path, "f")
    (repo / "pkg" / "mod3.py").unlink()
    (repo / "pkg" / "mod3.py").symlink_to("retry.py")  # a file replaced by a link
    _same_as_alone(repo, tmp_path, "g")
    import shutil
    shutil.rmtree(repo / "pkg")  # a whole folder deleted
    (repo / "top.py").write_text("def only_retry_timeout_left(request):\n    return 4\n")
    assert "handler_" not in _same_as_alone(repo, tmp_path, "h")


def test_a_staged_secret_added_after_the_load_is_left_out_as_alone(repo, resident, tmp_path):
    from conftest import git
    (repo / ".env").write_text("RETRY_TIMEOUT_TOKEN=hunter2-retry-timeout-secret\n")
    _age(repo)
    _same_as_alone(repo, tmp_path, "a")
    (repo / ".env").write_text("RETRY_TIMEOUT_TOKEN=hunter2-retry-timeout-secret\n")
    git(repo, "add", "-f", ".env")
    served = _same_as_alone(repo, tmp_path, "b")
    assert "hunter2" not in served


def _call(resident: Resident, request: dict):
    with socket.socket(socket.AF_UNIX) as conn:
        conn.connect(str(resident.socket))
        conn.sendall(_frame(request))
        head = conn.recv(8, socket.MSG_WAITALL)
        size = struct.unpack(">Q", head)[0]
        data = b""
        while len(data) < size:
            data += conn.recv(size - len(data))
    return json.loads(data)


@pytest.mark.parametrize("argv", [["index", "{repo}"], ["init", "{repo}", "--force"], ["stats", "{repo}"],
                                  ["pack", "{repo}", "--copy"], ["pack", "{repo}", "--query-file", "-"],
                                  ["pack", "https://example.invalid/a/b.git"], ["pack", "{repo}", "--ref", "main"],
                                  ["serve"], ["resident", "{repo}"]],
                         ids=["index", "init", "stats", "copy", "stdin", "url", "ref", "serve", "resident"])
def test_a_call_the_command_line_never_forwards_is_declined(repo, resident, argv):
    """The process runs `pack` of a local folder only: anything else a peer sends (another command,
    a clipboard, the process's own stdin, a URL to clone) is declined, and nothing of it runs."""
    before = sorted(p.name for p in (repo / ".repoctx").iterdir())
    answer = _call(resident, {"argv": [a.format(repo=repo) for a in argv], "cwd": str(repo), "env": dict(os.environ),
                              "started": 0.0})
    assert answer == {"declined": True}
    assert not (repo / ".repoctx.toml").exists()
    assert sorted(p.name for p in (repo / ".repoctx").iterdir()) == before
    assert resident.proc.poll() is None


def test_a_peer_that_trickles_its_request_is_dropped_at_a_deadline(repo, resident, tmp_path):
    """One byte now and then (each within the per-read timeout), never a whole request, must not hold
    the process, which answers one call at a time: the whole request has a deadline
    (REQUEST_DEADLINE). The trickle goes on until the other caller is answered, so no clock decides:
    without the deadline that caller is never served by the resident."""
    import threading
    frame = _frame({"argv": ["pack", str(repo)], "cwd": str(repo), "env": {}, "started": 0.0})
    done, connected = threading.Event(), threading.Event()

    def trickle():
        with socket.socket(socket.AF_UNIX) as conn:
            conn.connect(str(resident.socket))
            connected.set()
            try:
                for sent in range(len(frame) - 1):  # never the last byte
                    conn.sendall(frame[sent:sent + 1])
                    if done.wait(0.5):
                        return
                done.wait()
            except (BrokenPipeError, ConnectionResetError):
                pass
    peer = threading.Thread(target=trickle, daemon=True)
    peer.start()
    connected.wait()
    try:
        assert MARK in pack(repo, tmp_path / "a.xml")[1]
    finally:
        done.set()
        peer.join()


def test_silent_peers_do_not_keep_the_process_past_its_idle_limit(repo):
    """A peer that connects again and again and never sends a request is no call: the process still
    exits after --idle seconds without one, and removes its socket."""
    r = Resident(repo, "--idle", "2")
    assert "repoctx: resident for" in r.ready
    held = 0
    try:
        while r.proc.poll() is None and held < 30:
            try:
                with socket.socket(socket.AF_UNIX) as conn:
                    conn.connect(str(r.socket))
                    held += 1
                    conn.recv(1)  # until the process drops it
            except (FileNotFoundError, ConnectionRefusedError, ConnectionResetError):
                break
        assert r.proc.wait(timeout=120) == 0
        assert not os.path.lexists(r.socket)
    finally:
        if r.proc.poll() is None:
            r.stop()


def test_a_resident_killed_mid_call_leaves_the_caller_working_alone(repo, resident, tmp_path):
    """kill -9 while a call is in flight (the process stopped, then killed): the caller gets the pack
    alone, exit 0, and no more than one line about it."""
    import signal
    os.kill(resident.proc.pid, signal.SIGSTOP)
    caller = subprocess.Popen([sys.executable, "-m", "repoctx", "pack", str(repo), "--query", QUERY, "--budget", "2k",
                               "-o", str(tmp_path / "a.xml")], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    # The call is in the stopped process's queue (its socket accepts it) when the process dies.
    for _ in range(600):
        if subprocess.run(["ss", "-x", "-p"], check=False, capture_output=True, text=True).stdout.count(str(resident.socket)) >= 2:
            break
        import time
        time.sleep(0.05)
    os.kill(resident.proc.pid, signal.SIGKILL)
    resident.proc.wait()
    _, err = caller.communicate(timeout=300)
    assert caller.returncode == 0, err
    assert MARK not in err and "Traceback" not in err
    assert (tmp_path / "a.xml").read_text() == pack(repo, tmp_path / "b.xml", ALONE)[0]
    # A killed process's socket stays behind: the next call works alone, silently.
    assert os.path.lexists(resident.socket)
    served, err = pack(repo, tmp_path / "c.xml")
    assert MARK not in err and served == (tmp_path / "a.xml").read_text()


def test_a_second_resident_for_the_same_index_is_refused_in_one_line(repo, resident, tmp_path):
    second = Resident(repo)
    err = second.proc.communicate(timeout=300)[1]
    assert second.proc.returncode == 1 and "already listens" in err and len(err.strip().splitlines()) == 1
    assert MARK in pack(repo, tmp_path / "a.xml")[1]


def test_a_socket_path_too_long_is_a_one_line_error(repo, tmp_path):
    deep = tmp_path / ("d" * 60) / ("e" * 60)
    deep.mkdir(parents=True)
    r = subprocess.run([sys.executable, "-m", "repoctx", "resident", str(repo), "--index", str(deep / "index.sqlite")],
                       check=False, capture_output=True, text=True, timeout=300)
    assert r.returncode == 1 and "too long" in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr


def test_the_index_deleted_under_a_running_resident(repo, resident, tmp_path):
    import shutil
    _same_as_alone(repo, tmp_path, "a")
    shutil.rmtree(repo / ".repoctx")  # the socket with it: callers work alone
    served, err = pack(repo, tmp_path / "b.xml")
    assert MARK not in err and served == pack(repo, tmp_path / "c.xml", ALONE)[0]


def test_a_repository_whose_state_folder_is_not_its_own_is_served_from_the_cache(repo, tmp_path, monkeypatch):
    """A `.repoctx` folder git tracks (a clone brought it) is never used: the index and the socket
    live in the user's cache (store.state_folder), and the caller finds the socket there."""
    import tempfile

    from conftest import git
    cache = Path(tempfile.mkdtemp(prefix="rc-", dir="/tmp"))  # short: a socket's path is at most ~100 bytes
    monkeypatch.setenv("XDG_CACHE_HOME", str(cache))
    (repo / ".repoctx" / "resident.sock.txt").write_text("committed\n")
    git(repo, "add", "-f", ".repoctx/resident.sock.txt")
    git(repo, "commit", "-q", "-m", "a committed state folder")
    assert run_cli("index", str(repo)).returncode == 0
    r = Resident(repo)
    try:
        assert str(cache) in r.ready, r.proc.stderr.read()
        assert MARK in pack(repo, tmp_path / "a.xml")[1]
    finally:
        r.stop()
        import shutil
        shutil.rmtree(cache, ignore_errors=True)
