"""Remote repositories (`repoctx pack URL`): real repositories served from this machine over `file://`
and smart HTTP (`git http-backend` behind a small http.server on 127.0.0.1), cloned into a cache of
the test's own. A server that can cut its answer half-way or hold it (to kill a clone mid-way, or to
make a second repoctx wait for the first) and ask for a password."""
from __future__ import annotations

import base64
import glob
import http.server
import os
import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from conftest import git, make_repo, write_files
from repoctx import remote


class GitServer:
    """Smart HTTP for the repositories under `root` (http://127.0.0.1:PORT/NAME)."""

    def __init__(self, root: Path):
        self.root = root
        self.requests: list[tuple[str, str]] = []
        self.cut = False                 # send half of each packfile answer, then close
        self.hold: threading.Event | None = None  # before finishing a packfile answer, wait for this
        self.reached = threading.Event()  # a packfile answer was started
        self.auth: str | None = None     # "user:password" the server asks for
        owner = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_GET(self):
                owner.serve(self)

            do_POST = do_GET

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()

    def serve(self, h: http.server.BaseHTTPRequestHandler) -> None:
        path, _, query = h.path.partition("?")
        self.requests.append((h.command, path))
        if self.auth and h.headers.get("Authorization") != "Basic " + base64.b64encode(self.auth.encode()).decode():
            h.send_response(401)
            h.send_header("WWW-Authenticate", 'Basic realm="test"')
            h.send_header("Content-Length", "0")
            h.end_headers()
            return
        body = h.rfile.read(int(h.headers.get("Content-Length") or 0))
        if h.headers.get("Transfer-Encoding") == "chunked":
            while True:
                size = int(h.rfile.readline().strip(), 16)
                body += h.rfile.read(size)
                h.rfile.readline()
                if not size:
                    break
        env = {"PATH": os.environ["PATH"], "GIT_PROJECT_ROOT": str(self.root), "GIT_HTTP_EXPORT_ALL": "1",
               "PATH_INFO": path, "QUERY_STRING": query, "REQUEST_METHOD": h.command,
               "CONTENT_TYPE": h.headers.get("Content-Type", ""), "CONTENT_LENGTH": str(len(body)),
               "HTTP_CONTENT_ENCODING": h.headers.get("Content-Encoding", ""), "REMOTE_ADDR": "127.0.0.1",
               "GIT_PROTOCOL": h.headers.get("Git-Protocol", ""), "GIT_CONFIG_NOSYSTEM": "1",
               "GIT_CONFIG_GLOBAL": os.devnull, "HOME": str(self.root)}
        out = subprocess.run(["git", "http-backend"], input=body, env=env, capture_output=True).stdout
        head, _, payload = out.partition(b"\r\n\r\n")
        status, headers = 200, []
        for line in head.split(b"\r\n"):
            key, _, value = line.decode().partition(":")
            if key.lower() == "status":
                status = int(value.split()[0])
            elif key:
                headers.append((key, value.strip()))
        h.send_response(status)
        for key, value in headers:
            h.send_header(key, value)
        h.send_header("Content-Length", str(len(payload)))
        h.end_headers()
        if b"packfile\n" not in payload:
            h.wfile.write(payload)
            return
        self.reached.set()
        half = len(payload) // 2
        h.wfile.write(payload[:half])
        h.wfile.flush()
        if self.hold:
            self.hold.wait(120)
        if self.cut:
            h.close_connection = True
            return
        h.wfile.write(payload[half:])


@pytest.fixture
def env(tmp_path, monkeypatch):
    """A user of our own: HOME, git config and cache under tmp_path."""
    home = tmp_path / "home"
    home.mkdir()
    config = home / ".gitconfig"
    config.write_text("")
    values = {"HOME": str(home), "GIT_CONFIG_GLOBAL": str(config), "GIT_CONFIG_NOSYSTEM": "1",
              "XDG_CACHE_HOME": str(tmp_path / "cache")}
    for k, v in values.items():
        monkeypatch.setenv(k, v)
    return values


@pytest.fixture
def served(tmp_path):
    """A repository with a branch, a tag and two commits, served by file:// and smart HTTP."""
    root = tmp_path / "srv"
    src = make_repo(root / "lib.git", {
        "lib/core.py": "def helper(x):\n    return x + 1\n",
        "lib/api.py": "from lib.core import helper\n\n\ndef run():\n    return helper(1)\n",
        # enough text that a pack is cut in the middle of something
        "data/words.txt": "".join(f"word{i} {i * 7919 % 10007}\n" for i in range(4000)),
    })
    first = git(src, "rev-parse", "HEAD").strip()
    git(src, "tag", "v1")
    git(src, "checkout", "-q", "-b", "dev")
    write_files(src, {"lib/dev_only.py": "def dev_feature():\n    return 'dev'\n"})
    git(src, "add", "-A")
    git(src, "commit", "-q", "-m", "dev")
    git(src, "checkout", "-q", "main")
    write_files(src, {"lib/second.py": "def second():\n    return 2\n"})
    git(src, "add", "-A")
    git(src, "commit", "-q", "-m", "second")
    server = GitServer(root)
    yield {"src": src, "first": first, "head": git(src, "rev-parse", "HEAD").strip(),
           "file": src.as_uri(), "http": f"{server.url}/lib.git", "server": server}
    if server.hold:
        server.hold.set()
    server.stop()


def cli(*args, env, **kw) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "repoctx", *args], capture_output=True, text=True,
                          env={**os.environ, **env}, stdin=subprocess.DEVNULL, timeout=300, **kw)


def entry(url: str, ref: str | None = None) -> str:
    return remote.entry_path(remote.parse_remote(url), ref)


def leftovers(url: str, ref: str | None = None) -> list[str]:
    """Folders of this entry's clone: the entry, and temporary folders beside it."""
    e = entry(url, ref)
    return sorted(p for p in glob.glob(glob.escape(e) + "*") if not p.endswith(".lock"))


def error_line(proc: subprocess.CompletedProcess) -> str:
    errors = [ln for ln in proc.stderr.splitlines() if ln.startswith("repoctx: error:")]
    assert len(errors) == 1 and "Traceback" not in proc.stderr, proc.stderr
    return errors[0]


# -- URLs --------------------------------------------------------------------------------------------

def test_urls_name_host_and_path(tmp_path, env):
    gh = remote.parse_remote("github:psf/requests")
    assert gh.url == "https://github.com/psf/requests.git" and (gh.host, gh.path) == ("github.com", "psf/requests")
    assert remote.parse_remote("https://github.com/psf/requests.git") == gh
    scp = remote.parse_remote("git@gitlab.example.com:group/sub/proj.git")
    assert (scp.url, scp.host, scp.path) == ("git@gitlab.example.com:group/sub/proj.git", "gitlab.example.com", "group/sub/proj")
    ssh = remote.parse_remote("ssh://git@host.example:2222/o/r")
    assert (ssh.host, ssh.path) == ("host.example_2222", "o/r")
    assert remote.parse_remote("file:///srv/git/x.git").path == "srv/git/x"
    assert remote.parse_remote("https://h.example/../../etc").path == "etc"  # never outside the cache
    # same host and path, different URLs: different entries; same URL and ref: the same one
    assert entry("https://github.com/psf/requests") != entry("github:psf/requests")
    assert entry("github:psf/requests", "main") == entry("https://github.com/psf/requests.git", "main")
    assert entry("github:psf/requests", "main") != entry("github:psf/requests", "v2")
    assert entry("github:psf/requests").startswith(os.path.join(env["XDG_CACHE_HOME"], "repoctx", "repos", "github.com", "psf", "requests@HEAD-"))
    # a password never reaches a folder name or a message
    assert "secret" not in entry("https://u:secret@h.example/o/r") and remote.shown("https://u:secret@h/x") == "https://u@h/x"
    # local paths stay local, even with a colon in them
    odd = tmp_path / "a:b"
    odd.mkdir()
    assert remote.parse_remote(str(odd)) is None and remote.parse_remote(".") is None
    for bad in ("ftp://h/x", "ext::sh -c touch% /tmp/x", "github:onlyowner", "https://", "https://h.example/",
                "file://otherhost/x", "https://h.example/a b"):
        with pytest.raises(remote.BadRemote):
            remote.parse_remote(bad)


@pytest.mark.parametrize("args", [["ftp://h.example/x"], ["github:onlyowner"], ["https://"],
                                  ["github:o/r", "--ref=--upload-pack=touch /tmp/x"],
                                  ["github:o/r", "--ref", "a..b"], [".", "--ref", "main"], [".", "--refresh"]])
def test_bad_url_or_ref_is_a_usage_error_before_any_network(args, env):
    proc = cli("map", *args, env=env)
    assert proc.returncode == 2, proc.stderr
    assert error_line(proc) and "fetching" not in proc.stderr
    assert not os.path.exists(os.path.join(env["XDG_CACHE_HOME"], "repoctx", "repos", "github.com"))


@pytest.mark.parametrize("url", ["-oProxyCommand=touch${IFS}MARK@h.example:o/r", "--upload-pack=touch${IFS}MARK",
                                 "-u@h.example:o/r", "ssh://-oProxyCommand=touch%20MARK/o/r",
                                 "ssh://-x@h.example/o/r", "https://h.example/o/r\n", "git@h.example:o/r\x1b[2J"])
def test_option_or_control_character_url_refused_before_git_runs(url, env, tmp_path):
    """A URL git or ssh would read as an option (or one hiding text in control characters) is refused
    with one line before any git command, and leaves no cache folder."""
    url = url.replace("MARK", str(tmp_path / "mark"))
    proc = cli("map", "--", url, env=env)
    assert proc.returncode == 2, proc.stderr
    assert "not a repository URL" in error_line(proc) or "starts with '-'" in error_line(proc)
    assert "fetching" not in proc.stderr and not (tmp_path / "mark").exists()
    assert not os.path.exists(os.path.join(env["XDG_CACHE_HOME"], "repoctx")), os.listdir(env["XDG_CACHE_HOME"])


# -- cloning, reuse, refresh -------------------------------------------------------------------------

def test_clone_pack_reuse_without_server_and_refresh(served, env):
    url, server = served["http"], served["server"]
    proc = cli("pack", url, env=env)
    assert proc.returncode == 0, proc.stderr
    assert '<file path="lib/api.py">' in proc.stdout and '<file path="lib/second.py">' in proc.stdout
    assert str(served["src"]) not in proc.stdout and env["XDG_CACHE_HOME"] not in proc.stdout
    summary = [ln for ln in proc.stderr.splitlines() if "tokens" in ln][0]
    assert url in summary and served["head"][:12] in summary and "(cloned)" in summary
    clone = entry(url)
    assert os.path.isfile(os.path.join(clone, ".repoctx", "index.sqlite"))  # the index lives in the entry
    assert leftovers(url) == [clone]

    server.stop()  # no network: the cached clone is used as it is
    for command in (["pack", url], ["map", url], ["stats", url], ["search", "helper", url], ["graph", url]):
        again = cli(*command, env=env)
        assert again.returncode == 0, again.stderr
        assert "(cached)" in again.stderr and "fetching" not in again.stderr
        if command[0] == "pack":
            assert again.stdout == proc.stdout
    assert "lib/core.py" in cli("search", "helper", url, env=env).stdout

    refused = cli("pack", url, "--refresh", env=env)  # the server is gone: a clear error, the entry kept
    assert refused.returncode == 1 and "cannot reach" in error_line(refused)
    assert cli("pack", url, env=env).returncode == 0

    file_url = served["file"]  # a new commit on the remote: picked up with --refresh only
    assert cli("pack", file_url, env=env).returncode == 0
    write_files(served["src"], {"lib/third.py": "def third():\n    return 3\n"})
    git(served["src"], "add", "-A")
    git(served["src"], "commit", "-q", "-m", "third")
    stale = cli("pack", file_url, env=env)
    assert "lib/third.py" not in stale.stdout and "(cached)" in stale.stderr
    fresh = cli("pack", file_url, "--refresh", env=env)
    assert fresh.returncode == 0, fresh.stderr
    assert '<file path="lib/third.py">' in fresh.stdout and "(refreshed)" in fresh.stderr
    assert git(served["src"], "rev-parse", "HEAD").strip()[:12] in fresh.stderr
    assert "lib/third.py" in cli("pack", file_url, env=env).stdout


@pytest.mark.parametrize("transport", ["file", "http"])
def test_ref_branch_tag_and_sha(served, env, transport):
    url = served[transport]
    dev = cli("pack", url, "--ref", "dev", env=env)
    assert dev.returncode == 0, dev.stderr
    assert "lib/dev_only.py" in dev.stdout and "lib/second.py" not in dev.stdout
    tag = cli("pack", url, "--ref", "v1", env=env)
    assert tag.returncode == 0, tag.stderr
    assert "lib/api.py" in tag.stdout and "lib/second.py" not in tag.stdout and "lib/dev_only.py" not in tag.stdout
    assert f"v1 = {served['first'][:12]}" in tag.stderr
    sha = cli("map", url, "--ref", served["first"], env=env)
    assert sha.returncode == 0, sha.stderr
    assert "helper" in sha.stdout and "second" not in sha.stdout
    assert len({entry(url, "dev"), entry(url, "v1"), entry(url, served["first"]), entry(url)}) == 4


def test_filter_capable_server(served, env):
    """A server that does blob filtering (uploadpack.allowFilter) gives the same checkout."""
    git(served["src"], "config", "uploadpack.allowFilter", "true")
    proc = cli("pack", served["http"], env=env)
    assert proc.returncode == 0, proc.stderr
    assert "lib/second.py" in proc.stdout and "word3999" in proc.stdout
    assert git(Path(entry(served["http"])), "config", "remote.origin.partialclonefilter").strip() == "blob:none"


def test_unknown_ref_unknown_commit_and_no_repository(served, env):
    url = served["http"]
    proc = cli("pack", url, "--ref", "nosuch", env=env)
    assert proc.returncode == 1 and "has no branch or tag 'nosuch'" in error_line(proc)
    short = cli("pack", url, "--ref", served["first"][:10], env=env)
    assert short.returncode == 1 and "in full" in error_line(short)
    missing = cli("pack", url, "--ref", "1" * 40, env=env)
    assert missing.returncode == 1 and "does not give out commit" in error_line(missing)
    gone = cli("pack", f"{served['server'].url}/nosuch.git", env=env)
    assert gone.returncode == 1 and "no git repository at" in error_line(gone)
    for ref in ("nosuch", served["first"][:10], "1" * 40):
        assert leftovers(url, ref) == []
    assert cli("pack", url, env=env).returncode == 0  # and the good ref still works


def test_unreachable_host(env):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()  # nothing listens there now
    url = f"http://127.0.0.1:{port}/lib.git"
    proc = cli("stats", url, env=env)
    assert proc.returncode == 1 and "cannot reach" in error_line(proc) and url in error_line(proc)
    assert leftovers(url) == []


def test_authentication_uses_the_users_credentials(served, env):
    server, url = served["server"], served["http"]
    server.auth = "alice:s3cret"
    proc = cli("pack", url, env=env)  # stdin is not a terminal: git may not prompt, and fails at once
    assert proc.returncode == 1 and "authentication failed" in error_line(proc), proc.stderr
    assert leftovers(url) == []
    with open(env["GIT_CONFIG_GLOBAL"], "a") as f:  # the user's credential helper answers
        f.write('[credential]\n\thelper = "!f() { echo username=alice; echo password=s3cret; }; f"\n')
    ok = cli("pack", url, env=env)
    assert ok.returncode == 0, ok.stderr
    assert "s3cret" not in ok.stderr + ok.stdout


# -- never half-written, never run -------------------------------------------------------------------

def test_server_failing_half_way_leaves_no_entry(served, env):
    server, url = served["server"], served["http"]
    server.cut = True
    proc = cli("pack", url, env=env)
    assert server.reached.is_set()
    assert proc.returncode == 1 and error_line(proc).startswith(f"repoctx: error: cannot fetch {url}: ")
    assert leftovers(url) == []
    server.cut = False
    again = cli("pack", url, env=env)
    assert again.returncode == 0 and "lib/second.py" in again.stdout and "(cloned)" in again.stderr


def test_clone_killed_mid_way_leaves_no_entry(served, env):
    server, url = served["server"], served["http"]
    server.hold, server.cut = threading.Event(), True
    proc = subprocess.Popen([sys.executable, "-m", "repoctx", "pack", url], env={**os.environ, **env},
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    try:
        assert server.reached.wait(120), "the clone never started fetching"
        partial = leftovers(url)
        assert len(partial) == 1 and ".tmp-" in partial[0]  # mid-way: only the temporary folder
    finally:
        os.killpg(proc.pid, signal.SIGKILL)  # repoctx and its git
        proc.wait()
        server.hold.set()
    assert not os.path.exists(entry(url))
    server.hold, server.cut = None, False
    again = cli("pack", url, env=env)
    assert again.returncode == 0, again.stderr
    assert "lib/second.py" in again.stdout and leftovers(url) == [entry(url)]  # the stale folder is gone


def test_concurrent_calls_clone_once(served, env):
    server, url = served["server"], served["http"]
    server.hold = threading.Event()
    first = subprocess.Popen([sys.executable, "-m", "repoctx", "stats", url], env={**os.environ, **env},
                             stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert server.reached.wait(120)
    second = subprocess.Popen([sys.executable, "-m", "repoctx", "stats", url], env={**os.environ, **env},
                              stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    line = second.stderr.readline()
    assert "waiting for another repoctx" in line, line
    server.hold.set()
    out1, err1 = first.communicate(timeout=300)
    out2, err2 = second.communicate(timeout=300)
    assert first.returncode == 0 and second.returncode == 0, err1 + err2
    assert "(cloned)" in err1 and "(cached)" in err2 and out1 == out2
    assert [r for r in server.requests if r[1].endswith("/info/refs")] == [("GET", "/lib.git/info/refs")]


def test_nothing_from_the_clone_runs(served, env, tmp_path):
    """A .gitattributes naming filter drivers the user has configured, and hooks of the user's: none run,
    neither while cloning and checking out nor when later commands look at the work tree."""
    marker = tmp_path / "markers"
    marker.mkdir()
    hooks = tmp_path / "hooks"
    hooks.mkdir()
    for name in ("post-checkout", "reference-transaction", "post-merge", "pre-auto-gc"):
        (hooks / name).write_text(f"#!/bin/sh\ntouch {marker}/hook-{name}\n")
        (hooks / name).chmod(0o755)
    with open(env["GIT_CONFIG_GLOBAL"], "a") as f:
        f.write(f"[core]\n\thooksPath = {hooks}\n"
                f"[filter \"mark\"]\n\tsmudge = \"touch {marker}/smudge; cat\"\n\tclean = \"touch {marker}/clean; cat\"\n"
                f"[filter \"markp\"]\n\tprocess = \"touch {marker}/process\"\n"
                f"[diff \"mark\"]\n\ttextconv = \"touch {marker}/textconv; cat\"\n")
    src = served["src"]
    write_files(src, {".gitattributes": "*.py filter=mark diff=mark\nzz.txt filter=markp\n", "zz.txt": "last\n"})
    git(src, "add", "-A")
    git(src, "commit", "-q", "-m", "attributes")
    url = served["file"]
    proc = cli("pack", url, env=env)
    assert proc.returncode == 0, proc.stderr
    clone = Path(entry(url))
    for p in clone.rglob("*.py"):  # make every file racily clean, so git must look at the content again
        p.write_text(p.read_text() + "# edited\n")
    assert cli("pack", url, "--diff", env=env).returncode == 0
    assert cli("pack", url, "--refresh", env=env).returncode == 0
    assert sorted(os.listdir(marker)) == []
    # the same checkout by plain git does run them: the test would see it
    plain = tmp_path / "plain"
    subprocess.run(["git", "clone", "-q", url, str(plain)], env={**os.environ, **env}, capture_output=True)
    assert {"smudge", "process", "hook-reference-transaction"} <= set(os.listdir(marker))
