"""The VS Code extension in editors/vscode.

`npm ci` (from the registry or npm's cache), the TypeScript typecheck, the esbuild bundle, `vsce package`,
and the Node test that drives `python -m repoctx serve` (this interpreter) over stdio with the
extension's own request builders. The end-to-end test in a real VS Code (code-server + Chromium) runs
only with REPOCTX_E2E=1, after `editors/vscode/e2e/setup.sh`.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest

EXT = Path(__file__).resolve().parent.parent / "editors" / "vscode"
NPM = shutil.which("npm")

pytestmark = pytest.mark.skipif(
    NPM is None, reason="npm is not on PATH: the VS Code extension is built and tested with Node.js/npm")


def _env(**extra: str) -> dict[str, str]:
    env = {**os.environ, "npm_config_update_notifier": "false", "npm_config_fund": "false",
           "npm_config_audit": "false", "NO_COLOR": "1"}
    env.update(extra)
    return env


def _run(cmd: list[str], timeout: float, **extra_env: str) -> subprocess.CompletedProcess[str]:
    start = time.monotonic()
    try:
        p = subprocess.run(cmd, cwd=EXT, env=_env(**extra_env), capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired as e:
        pytest.fail(f"`{' '.join(cmd)}` timed out after {timeout:.0f} s\n{(e.stdout or '')[-3000:]}\n{(e.stderr or '')[-3000:]}")
    took = time.monotonic() - start
    assert p.returncode == 0, (
        f"`{' '.join(cmd)}` failed with {p.returncode} after {took:.1f} s\n"
        f"--- stdout ---\n{p.stdout[-6000:]}\n--- stderr ---\n{p.stderr[-6000:]}")
    return p


@pytest.fixture(scope="module")
def npm_ci() -> None:
    """node_modules exactly as package-lock.json says; npm's cache first, the registry only if needed."""
    _run([NPM, "ci", "--prefer-offline", "--no-audit", "--no-fund"], timeout=240)
    assert (EXT / "node_modules" / "vscode-languageclient").is_dir()


def test_typecheck_bundle_and_package(npm_ci, tmp_path):
    _run([NPM, "run", "-s", "typecheck"], timeout=120)
    _run([NPM, "run", "-s", "bundle"], timeout=60)
    assert (EXT / "dist" / "extension.js").stat().st_size > 10_000
    vsix = tmp_path / "repoctx-vscode.vsix"
    _run([str(EXT / "node_modules" / ".bin" / "vsce"), "package", "--no-dependencies", "-o", str(vsix)], timeout=120)
    assert vsix.is_file()
    with zipfile.ZipFile(vsix) as z:
        names = set(z.namelist())
    assert {"extension/package.json", "extension/dist/extension.js", "extension/LICENSE.txt"} <= names, names
    assert not any(n.startswith(("extension/src/", "extension/node_modules/", "extension/test/", "extension/e2e/"))
                   for n in names), names


def test_node_test_drives_the_server_with_the_extensions_requests(npm_ci):
    p = _run([NPM, "test"], timeout=600, REPOCTX_PYTHON=sys.executable)  # a hang guard
    out = p.stdout + p.stderr
    assert "# fail 0" in out, out[-4000:]
    assert "# pass" in out


@pytest.mark.skipif(os.environ.get("REPOCTX_E2E") != "1",
                    reason="end-to-end test in code-server + Chromium: set REPOCTX_E2E=1 (after editors/vscode/e2e/setup.sh)")
def test_end_to_end_in_code_server(npm_ci, tmp_path):
    artifacts = tmp_path / "artifacts"
    p = _run(["node", "e2e/run.mjs"], timeout=1200, REPOCTX_PYTHON=sys.executable,
             REPOCTX_E2E_ARTIFACTS=str(artifacts))
    assert "e2e: passed" in p.stdout, f"{p.stdout[-4000:]}\nartifacts: {artifacts}"
