"""Split output (`pack --split TOKENS -o NAME.xml`) and `pack --copy`, on fixture repositories in
Python, Go and JavaScript that the tests build: every part within its limit by exact count as written,
the parts together holding exactly the unsplit pack's files and spans, large files cut between
definitions, the errors, stale parts, and the clipboard through fake tools on PATH."""
from __future__ import annotations

import json
import os
import re
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from conftest import make_repo, run_cli

from repoctx.index.load import load_repository
from repoctx.pack.packer import Packer
from repoctx.pack.request import PackRequest
from repoctx.pack.split import SplitError, part_path, split_pack
from repoctx.scan import is_pack
from repoctx.tokens import count, get_encoding


def py_module(n: int, body: int = 6) -> str:
    out = ['"""Orders: totals, taxes and refunds."""', "import math", ""]
    for i in range(n):
        out += ["", f"def order_total_{i}(items, rate):", f'    """Total of order kind {i}."""']
        out += [f"    value_{k} = sum(x * {k + 1} for x in items) + rate * {i}" for k in range(body)]
        out += [""]  # a blank line inside a function is no place to cut
        out += [f"    return math.floor(value_0 + value_{body - 1})", ""]
    out += ["", "class Ledger:", '    """A ledger of orders."""', ""]
    for i in range(n):
        out += [f"    def entry_{i}(self, amount):", f"        total = amount * {i} + {i}",
                "        self.rows.append(total)", f"        return order_total_{i}([total], 0.2)", ""]
    return "\n".join(out) + "\n"


def go_file(n: int) -> str:
    out = ["package shop", "", 'import "fmt"', ""]
    for i in range(n):
        out += [f"// Price{i} prices order kind {i}.", f"func Price{i}(qty int, unit float64) float64 {{",
                f"\ttotal := float64(qty) * unit * {i + 1}", f'\tfmt.Println("price", {i}, total)', "",
                f"\tif total > {i * 10} {{", f"\t\ttotal -= {i}", "\t}", "\treturn total", "}", ""]
    return "\n".join(out)


def js_file(n: int) -> str:
    out = ["import { format } from './format.js';", ""]
    for i in range(n):
        out += [f"/** Renders row kind {i}. */", f"export function renderRow{i}(row) {{",
                f"  const cells = row.cells.map((c) => format(c, {i}));", "", f"  if (cells.length > {i}) {{",
                f"    return cells.slice(0, {i}).join(' | ');", "  }", "  return cells.join(' | ');", "}", ""]
    return "\n".join(out)


FILES = {
    "shop/__init__.py": "",
    "shop/orders.py": py_module(40),
    "shop/util.py": "def clamp(x, lo, hi):\n    return max(lo, min(hi, x))\n",
    "shop/tax.py": "from shop.util import clamp\n\n\ndef tax(amount):\n    return clamp(amount * 0.2, 0, 100)\n",
    "go/go.mod": "module example.com/shop\n\ngo 1.21\n",
    "go/price.go": go_file(50),
    "go/main.go": 'package shop\n\nfunc Main() float64 {\n\treturn Price1(2, 3.5)\n}\n',
    "web/format.js": "export function format(c, i) {\n  return `${c}:${i}`;\n}\n",
    "web/rows.js": js_file(50),
    "web/index.js": "import { renderRow1 } from './rows.js';\n\nexport const first = renderRow1({ cells: [] });\n",
    "README.md": "# shop\n\nOrders, prices and rows.\n",
}
BIG = ("shop/orders.py", "go/price.go", "web/rows.js")
ENC = get_encoding("o200k_base")


@pytest.fixture(scope="module")
def repo(tmp_path_factory):
    root = make_repo(tmp_path_factory.mktemp("split") / "shop", FILES)
    return load_repository(str(root))


def spans_of(files) -> dict[str, set[int]]:
    out: dict[str, set[int]] = {}
    for f in files:
        out.setdefault(f.path, set()).update(n for a, b in f.spans for n in range(a, b + 1))
    return out


def parts_of(repo, mode: str, fmt: str, limit: int, budget: int = 1_000_000, query: str = ""):
    result = Packer(repo).pack(PackRequest(budget=budget, mode=mode, format=fmt, query=query))
    return result, split_pack(result, limit, repo)


def file_pieces(part_text: str) -> list[tuple[str, str | None, str]]:
    """(path, lines attribute, code) of each file in an xml part."""
    return [(f.get("path"), f.get("lines"), f.text[1:-1]) for f in ET.fromstring(part_text).iter("file")]


@pytest.mark.parametrize("fmt", ["xml", "markdown", "plain", "json"])
@pytest.mark.parametrize("mode", ["whole", "slice"])
def test_every_part_fits_and_the_parts_hold_exactly_the_pack(repo, mode, fmt):
    limit = 1500
    result, parts = parts_of(repo, mode, fmt, limit, budget=1_000_000 if mode == "whole" else 9000,
                             query="order totals and row prices")
    assert len(parts) >= 3
    seen: dict[str, list[int]] = {}
    for i, p in enumerate(parts, 1):
        assert p.tokens == count(p.written, ENC) <= limit, (i, p.tokens)  # exact, on the text as written
        assert (p.result.part, p.result.parts) == (i, len(parts))
        assert p.result.tokens == count(p.result.text, ENC)
        assert is_pack(p.written.encode())  # never packed again
        for f in p.result.files:
            seen.setdefault(f.path, [])
            for a, b in f.spans:
                for n in range(a, b + 1):
                    seen.setdefault(f.path, []).append(n)
        header = {"xml": f'<context part="{i}" of="{len(parts)}">', "json": f'<context part="{i}" of="{len(parts)}">',
                  "markdown": f"# repoctx pack, part {i} of {len(parts)}\n",
                  "plain": f"=== repoctx pack, part {i} of {len(parts)} ===\n"}[fmt]
        assert p.result.text.startswith(header)
        if fmt == "json":
            doc = json.loads(p.written)
            assert (doc["part"], doc["parts"], doc["text"]) == (i, len(parts), p.result.text)
        if fmt in ("xml", "json"):
            ET.fromstring(p.result.text)  # each part well-formed on its own
        has_map = "<map>" in p.result.text or "Repository map" in p.result.text or "=== repository map ===" in p.result.text
        assert has_map == (i == 1)  # the map, or the file tree a whole pack opens with: the first part only
    # Every line of the unsplit pack in exactly one part, and nothing else.
    assert {p: sorted(ns) for p, ns in seen.items()} == {p: sorted(ns) for p, ns in spans_of(result.files).items()}
    assert all(len(ns) == len(set(ns)) for ns in seen.values())


def test_the_parts_put_together_are_the_files_as_packed(repo):
    result, parts = parts_of(repo, "whole", "xml", 1200)
    code: dict[str, list[str]] = {}
    for p in parts:
        for path, lines, text in file_pieces(p.result.text):
            code.setdefault(path, []).append(text)
    root = Path(repo.root)
    for path in FILES:
        if FILES[path]:
            assert "\n".join(code.pop(path)) == (root / path).read_text()[:-1], path
    assert not {p for p, t in code.items() if any(t)}


@pytest.mark.parametrize("path", BIG)
def test_a_file_larger_than_a_part_is_cut_between_definitions(repo, path):
    limit = 700
    whole_file = count((Path(repo.root) / path).read_text(), ENC)
    assert whole_file > 2 * limit
    result, parts = parts_of(repo, "whole", "xml", limit)
    pieces = [(p, f) for p in parts for f in p.result.files if f.path == path]
    assert len(pieces) >= 3 and all(p.tokens <= limit for p, _ in pieces)
    facts = repo.facts[path]
    for _, f in pieces[1:]:
        first = f.spans[0][0]
        inside = [s for s in facts.symbols if s.start_line < first <= s.end_line]
        if path.endswith(".py"):  # methods inside a class may be cut between, never a function
            assert all(s.kind == "class" for s in inside), (first, inside)
        else:
            assert not inside, (first, inside)
    assert sorted(n for _, f in pieces for a, b in f.spans for n in range(a, b + 1)) == list(range(1, facts.lines + 1))


def test_a_definition_larger_than_a_part_is_cut_between_lines(tmp_path):
    body = "\n".join(f"    step_{k} = compute({k}) + offset * {k}" for k in range(300))
    root = make_repo(tmp_path / "r", {"one.py": f"def huge(offset):\n{body}\n    return step_0\n",
                                      "small.py": "X = 1\n"})
    repo = load_repository(str(root))
    result, parts = parts_of(repo, "whole", "plain", 800)
    assert len(parts) >= 4 and all(p.tokens <= 800 for p in parts)
    assert spans_of(f for p in parts for f in p.result.files) == spans_of(result.files)


def test_a_part_too_small_for_one_line_or_for_its_frame_is_an_error(tmp_path):
    root = make_repo(tmp_path / "r", {"wide.py": "X = [" + ", ".join(str(i) for i in range(400)) + "]\n"})
    repo = load_repository(str(root))
    result = Packer(repo).pack(PackRequest(budget=100_000, mode="whole"))
    with pytest.raises(SplitError, match=r"line 1 of wide.py alone takes more than a part of 300 tokens; raise --split"):
        split_pack(result, 300, repo)
    with pytest.raises(SplitError, match=r"--split 5 is below the \d+ tokens a part takes with nothing in it"):
        split_pack(result, 5, repo)


def test_the_budget_stays_the_total_and_split_is_the_part_size(repo):
    result, parts = parts_of(repo, "slice", "xml", 1000, budget=5000, query="row prices")
    assert result.tokens <= 5000 and len(parts) >= 5
    assert all(p.tokens <= 1000 for p in parts) and sum(p.tokens for p in parts) > result.tokens
    result, parts = parts_of(repo, "auto", "xml", 100_000, budget=5000)  # a part larger than the budget: one part
    assert len(parts) == 1 and parts[0].result.files == result.files


# -- the command line ------------------------------------------------------------------------------

@pytest.fixture
def cli_repo(tmp_path):
    return make_repo(tmp_path / "shop", FILES)


def test_cli_writes_the_parts_and_lists_them(cli_repo, tmp_path):
    out = tmp_path / "out" / "ctx.xml"  # a folder that does not exist yet: made, as for -o alone
    r = run_cli("pack", str(cli_repo), "--mode", "whole", "--budget", "1m", "--split", "2k", "-o", str(out))
    assert r.returncode == 0, r.stderr
    written = sorted(out.parent.iterdir())
    n = len(written)
    assert n >= 3 and [p.name for p in written] == sorted(f"ctx.{i}.xml" for i in range(1, n + 1))
    listed = dict(re.findall(r"(\S+ctx\.\d+\.xml) ([\d,]+)", r.stderr))
    for i in range(1, n + 1):
        text = Path(part_path(str(out), i)).read_text()
        assert text.startswith(f'<context part="{i}" of="{n}">')
        assert int(listed[part_path(str(out), i)].replace(",", "")) == count(text, ENC) <= 2000
    assert not out.exists()
    # A second run with larger parts removes the earlier run's extra parts — only those that are packs.
    (out.parent / f"ctx.{n + 5}.xml").write_text("my own notes\n")
    r = run_cli("pack", str(cli_repo), "--mode", "whole", "--budget", "1m", "--split", "100k", "-o", str(out))
    assert r.returncode == 0, r.stderr
    assert sorted(p.name for p in out.parent.iterdir()) == ["ctx.1.xml", f"ctx.{n + 5}.xml"]
    assert "removed" in r.stderr and f"kept {out.parent / f'ctx.{n + 5}.xml'}: named like a part but not a repoctx pack" in r.stderr


@pytest.mark.parametrize("fmt", ["xml", "markdown", "plain", "json"])
def test_cli_parts_inside_the_repository_are_never_packed_again(cli_repo, fmt):
    target = cli_repo / f"ctx.{fmt}"
    args = ("pack", str(cli_repo), "--mode", "whole", "--budget", "1m", "--format", fmt, "--split", "3k", "-o", str(target))
    first = run_cli(*args)
    assert first.returncode == 0, first.stderr
    again = run_cli(*args)
    assert again.returncode == 0, again.stderr
    assert re.search(r"left out \d+ file\(s\) repoctx wrote", again.stderr)
    assert f"ctx.1.{fmt}" not in Path(part_path(str(target), 1)).read_text()


def test_cli_usage_errors(cli_repo, tmp_path):
    r = run_cli("pack", str(cli_repo), "--split", "10k")
    assert r.returncode == 2 and r.stderr.strip() == (
        "repoctx: error: --split needs -o NAME.xml: the parts are written as NAME.1.xml ... NAME.n.xml")
    r = run_cli("pack", str(cli_repo), "--split", "10k", "--copy", "-o", str(tmp_path / "x.xml"))
    assert r.returncode == 2 and "--copy takes one text and --split makes several" in r.stderr
    r = run_cli("pack", str(cli_repo), "--split", "3", "-o", str(tmp_path / "x.xml"))
    assert r.returncode == 2 and re.fullmatch(r"repoctx: error: --split 3 is below the \d+ tokens a part takes with "
                                              r"nothing in it; raise --split\n", r.stderr.split("\n", 1)[-1] if
                                              r.stderr.count("\n") > 1 else r.stderr)
    assert not list(tmp_path.glob("x*.xml"))
    r = run_cli("pack", str(cli_repo), "--mode", "whole", "--budget", "2k", "--split", "1k", "-o", str(tmp_path / "x.xml"))
    assert r.returncode == 3 and "raise --budget" in r.stderr  # the budget is the total, --split does not raise it


# -- --copy ----------------------------------------------------------------------------------------

def fake_tool(bin_dir: Path, name: str, record: Path, code: int = 0) -> None:
    bin_dir.mkdir(exist_ok=True)
    tool = bin_dir / name
    tool.write_text(f"#!/bin/sh\necho \"$@\" > '{record}.args'\n{shutil.which('cat')} > '{record}'\n"
                    + (f"echo 'Error: cannot open display' >&2\nexit {code}\n" if code else ""))
    tool.chmod(0o755)


def only_git(bin_dir: Path) -> str:
    """A PATH holding `bin_dir` and git (none of the machine's clipboard tools)."""
    bin_dir.mkdir(exist_ok=True)
    os.symlink(shutil.which("git"), bin_dir / "git")
    return str(bin_dir)


def test_copy_uses_xclip_under_x11_and_writes_the_file_too(cli_repo, tmp_path):
    bin_dir = tmp_path / "bin"
    fake_tool(bin_dir, "xclip", tmp_path / "xclip.in")
    fake_tool(bin_dir, "wl-copy", tmp_path / "wl.in")
    env = {"PATH": only_git(bin_dir), "DISPLAY": ":7", "WAYLAND_DISPLAY": ""}
    r = run_cli("pack", str(cli_repo), "--copy", env=env)
    assert r.returncode == 0, r.stderr
    assert r.stdout == "" and "copied to the clipboard (xclip)" in r.stderr
    copied = (tmp_path / "xclip.in").read_text()
    assert copied.startswith("<context>") and "def order_total_3" in copied
    assert (tmp_path / "xclip.in.args").read_text().split() == ["-selection", "clipboard"]
    assert not (tmp_path / "wl.in").exists()
    out = tmp_path / "ctx.xml"
    r = run_cli("pack", str(cli_repo), "--copy", "-o", str(out), env=env)
    assert r.returncode == 0, r.stderr
    assert out.read_text() == (tmp_path / "xclip.in").read_text() == copied


def test_copy_prefers_wl_copy_under_wayland_and_falls_back_when_a_tool_fails(cli_repo, tmp_path):
    bin_dir = tmp_path / "bin"
    fake_tool(bin_dir, "wl-copy", tmp_path / "wl.in", code=1)
    fake_tool(bin_dir, "xsel", tmp_path / "xsel.in")
    env = {"PATH": only_git(bin_dir), "DISPLAY": ":0", "WAYLAND_DISPLAY": "wayland-0"}
    r = run_cli("pack", str(cli_repo), "--format", "markdown", "--copy", env=env)
    assert r.returncode == 0, r.stderr
    assert "copied to the clipboard (xsel)" in r.stderr
    assert (tmp_path / "wl.in").read_text() == (tmp_path / "xsel.in").read_text()  # wl-copy was tried first
    assert (tmp_path / "xsel.in").read_text().startswith("## ")


def test_copy_says_what_to_do_when_no_clipboard_works(cli_repo, tmp_path):
    bin_dir = tmp_path / "bin"
    path = only_git(bin_dir)
    r = run_cli("pack", str(cli_repo), "--copy", env={"PATH": path, "DISPLAY": ":0", "WAYLAND_DISPLAY": ""})
    assert r.returncode == 1 and r.stderr.strip().splitlines()[-1] == (
        "repoctx: error: --copy: no clipboard tool found on PATH (looked for xclip, xsel); install one "
        "(wl-clipboard under Wayland, xclip or xsel under X11) or write the pack with -o FILE")
    fake_tool(bin_dir, "xclip", tmp_path / "xclip.in", code=1)
    r = run_cli("pack", str(cli_repo), "--copy", env={"PATH": path, "DISPLAY": ":0", "WAYLAND_DISPLAY": ""})
    assert r.returncode == 1 and "no clipboard tool worked (xclip exited with 1: Error: cannot open display)" in r.stderr
    r = run_cli("pack", str(cli_repo), "--copy", env={"PATH": path, "DISPLAY": "", "WAYLAND_DISPLAY": ""})
    assert r.returncode == 1 and "this session has no clipboard (neither WAYLAND_DISPLAY nor DISPLAY is set)" in r.stderr
    assert "Traceback" not in r.stderr and r.stdout == ""


def test_parts_carry_no_secret_and_say_where_redactions_are(tmp_path):
    key = "AKIA" + "Z7VRSQ5TJNQ3KXPB"  # not a keyboard run: detect-secrets drops those
    files = {"conf.py": f'AWS_ACCESS_KEY_ID = "{key}"\n', **{f"m{i}.py": py_module(6) for i in range(4)}}
    repo = load_repository(str(make_repo(tmp_path / "r", files)))
    result, parts = parts_of(repo, "whole", "xml", 1500)
    assert len(parts) >= 3 and result.redactions
    assert not any(key in p.written for p in parts)
    assert [r for p in parts for r in p.result.redactions] == result.redactions
