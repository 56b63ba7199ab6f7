"""Shared fixtures: fixture repositories built on disk by the tests, an offline token cache."""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

# No property test is judged by the clock: a busy machine runs examples late, not wrong (hypothesis's
# per-example deadline and its too_slow health check are time limits). A test's own suppress_health_check
# replaces this list: keep HealthCheck.too_slow in it.
settings.register_profile("repoctx", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("repoctx")


# A token-encoding cache of the tests' own, so nothing relies on (or writes to) a shared one. Set when
# this file is imported, before any test module is: some load an encoding at import (test_split's
# ENC), and a process keeps the encoding it loaded first, with the cache folder it was loaded from.
_TOKEN_CACHE = tempfile.mkdtemp(prefix="repoctx-tests-tiktoken-")
os.environ["TIKTOKEN_CACHE_DIR"] = _TOKEN_CACHE


def pytest_unconfigure(config):
    shutil.rmtree(_TOKEN_CACHE, ignore_errors=True)


@pytest.fixture(autouse=True, scope="session")
def _no_index_from_the_environment():
    os.environ.pop("REPOCTX_INDEX", None)


def interruptible() -> None:
    """`preexec_fn` for a child a test interrupts as Ctrl-C would: SIGINT at its default, as in a
    terminal. A suite started with SIGINT ignored (`cmd &` in a script, nohup, some CI runners) passes
    that on to every child, and a Python started so never raises KeyboardInterrupt."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def git(repo: Path, *args: str) -> str:
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.com",
           "GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1"}
    return subprocess.run(["git", *args], cwd=repo, env=env, check=True, capture_output=True, text=True).stdout


def write_files(root: Path, files: dict[str, str | bytes]) -> None:
    for rel, content in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            p.write_bytes(content)
        else:
            p.write_text(content, encoding="utf-8", newline="")


def make_repo(root: Path, files: dict[str, str | bytes], commit: bool = True) -> Path:
    """A git repository holding `files`, committed (or only staged) on branch main."""
    root.mkdir(parents=True, exist_ok=True)
    git(root, "init", "-q", "-b", "main")
    write_files(root, files)
    git(root, "add", "-A")
    if commit:
        git(root, "commit", "-q", "-m", "fixture")
    return root


def run_cli(*args: str, cwd: Path | None = None, env: dict | None = None, input: str | None = None
            ) -> subprocess.CompletedProcess:
    """`repoctx ARGS` as a user runs it: a separate process (`input` on its stdin)."""
    return subprocess.run([sys.executable, "-m", "repoctx", *args], cwd=cwd, capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, timeout=300, input=input)
