"""Latency of the language server, driven over stdio as an editor drives it.

    python bench/lsp_latency.py [REPO] [--include GLOB ...] [--requests 200] [--edits 50] [--budget N]

Default repository: Django 5.2.8's source distribution in git (bench/index_speed.py builds it),
restricted to `django/` and `docs/` (about 3,000 packable files). The index is warmed first (one
server run that indexes and exits), then a second server is measured:

* `repoctx/context` at random positions (seeded) in random source files: p50 / p95 / max;
* didChange → context: a new function is appended to an open buffer and its context requested at
  once; the time from sending the change to the reply that contains the new function.

Targets (issue 4): context p95 < 200 ms; didChange → context < 100 ms.
"""
from __future__ import annotations

import argparse
import itertools
import json
import os
import random
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, os.path.dirname(__file__))


class Client:
    """A minimal JSON-RPC client over the server's stdin/stdout."""

    def __init__(self, root: Path, options: dict):
        self.proc = subprocess.Popen([sys.executable, "-m", "repoctx", "serve"], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        self.ids = itertools.count(1)
        self.progress_done = False
        self.request("initialize", {"processId": os.getpid(), "rootUri": root.resolve().as_uri(),
                                    "capabilities": {"window": {"workDoneProgress": True}},
                                    "initializationOptions": options})
        self.notify("initialized", {})

    def _send(self, msg: dict) -> None:
        body = json.dumps({"jsonrpc": "2.0", **msg}).encode()
        self.proc.stdin.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
        self.proc.stdin.flush()

    def _read(self) -> dict:
        length = 0
        while True:
            line = self.proc.stdout.readline()
            if not line:
                raise RuntimeError("the server exited")
            if line in (b"\r\n", b"\n"):
                break
            key, _, value = line.decode().partition(":")
            if key.lower() == "content-length":
                length = int(value)
        return json.loads(self.proc.stdout.read(length))

    def notify(self, method: str, params: dict) -> None:
        self._send({"method": method, "params": params})

    def request(self, method: str, params: dict) -> dict:
        rid = next(self.ids)
        self._send({"id": rid, "method": method, "params": params})
        while True:
            msg = self._read()
            if msg.get("method") == "window/workDoneProgress/create":
                self._send({"id": msg["id"], "result": None})
            elif msg.get("method") == "$/progress" and msg["params"]["value"]["kind"] == "end":
                self.progress_done = True
            elif msg.get("id") == rid and "method" not in msg:
                if "error" in msg:
                    raise RuntimeError(msg["error"]["message"])
                return msg["result"]

    def close(self) -> None:
        try:
            self.request("shutdown", {})
            self.notify("exit", {})
            self.proc.wait(10)
        finally:
            self.proc.kill()


def percentile(xs: list[float], p: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, round(p / 100 * (len(xs) - 1)))]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("repo", nargs="?")
    ap.add_argument("--include", action="append")
    ap.add_argument("--requests", type=int, default=200)
    ap.add_argument("--edits", type=int, default=50)
    ap.add_argument("--budget", type=int, default=None, help="token budget (default: the settings' 32k)")
    args = ap.parse_args()
    if args.repo:
        root, include = Path(args.repo), args.include
    else:
        from index_speed import django_repo
        root, include = django_repo(), args.include or ["django/", "docs/"]
    options = {"include": include} if include else {}
    if args.budget:
        options["budget"] = args.budget

    t0 = time.perf_counter()
    warm = Client(root, options)
    warm.request("repoctx/pack", {"budget": 1_000_000, "mode": "slice", "query": "x"})  # waits for the index
    warm.close()
    print(f"index warmed in {time.perf_counter() - t0:.1f} s")

    client = Client(root, options)
    t0 = time.perf_counter()
    client.request("repoctx/map", {"budget": 100})  # the first answer waits for load (warm index)
    print(f"warm server ready in {time.perf_counter() - t0:.2f} s")

    from repoctx.scan import ScanOptions, scan
    sources = [f.path for f in scan(str(root), ScanOptions(include=tuple(include or ()))).files
               if f.language and f.size > 200]
    rng = random.Random(4)
    times = []
    for _ in range(args.requests):
        path = rng.choice(sources)
        n = (root / path).read_text(errors="replace").count("\n") + 1
        line = rng.randrange(n)
        t = time.perf_counter()
        r = client.request("repoctx/context", {"textDocument": {"uri": (root / path).resolve().as_uri()},
                                               "position": {"line": line, "character": 0}})
        times.append(time.perf_counter() - t)
        assert r["tokens"] <= r["budget"]
    print(f"repoctx/context x{len(times)} (budget {r['budget']:,}, {r['encoding']}): "
          f"p50 {1000 * statistics.median(times):.0f} ms, p95 {1000 * percentile(times, 95):.0f} ms, "
          f"max {1000 * max(times):.0f} ms")

    path = rng.choice(sources)
    uri = (root / path).resolve().as_uri()
    text = (root / path).read_text(errors="replace")
    client.notify("textDocument/didOpen", {"textDocument": {"uri": uri, "languageId": "python", "version": 0, "text": text}})
    client.request("repoctx/context", {"textDocument": {"uri": uri}, "position": {"line": 0, "character": 0}})
    edits = []
    for k in range(1, args.edits + 1):
        text += f"\n\ndef edited_function_{k}(value):\n    return value + {k}\n"
        line = text.count("\n") - 2
        t = time.perf_counter()
        client.notify("textDocument/didChange", {"textDocument": {"uri": uri, "version": k},
                                                 "contentChanges": [{"text": text}]})
        r = client.request("repoctx/context", {"textDocument": {"uri": uri}, "position": {"line": line, "character": 4}})
        edits.append(time.perf_counter() - t)
        assert f"def edited_function_{k}(value):" in r["text"], k
    print(f"didChange -> context x{len(edits)} in {path} ({len(sources)} source files): "
          f"p50 {1000 * statistics.median(edits):.0f} ms, p95 {1000 * percentile(edits, 95):.0f} ms, "
          f"max {1000 * max(edits):.0f} ms")
    client.close()


if __name__ == "__main__":
    main()
