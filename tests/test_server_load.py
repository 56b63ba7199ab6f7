"""Load on `repoctx serve` from one client over a raw stdio pipe: 1,000 edits (`textDocument/didChange`,
each appending a uniquely named function) interleaved with 1,000 `repoctx/context` requests for the
function just added, a few in flight at a time. Every reply must hold the function its request asked
for (so it reflects every edit sent before it), every request gets exactly one reply, and the server's
memory stays bounded: its peak RSS (VmHWM) is reported with the total time (run with -s to see them)."""
from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from conftest import make_repo
from test_rpc_frames import RawServer

EDITS = 1000
IN_FLIGHT = 4
APP = '''from shop.util import compute_total


def run_report(orders):
    return [compute_total(o.items, 0.2) for o in orders]
'''
UTIL = '''def compute_total(items, tax_rate):
    return round(sum(i.price for i in items) * (1 + tax_rate), 2)
'''
# Unrelated code, so that packs are slices of a repository larger than their budget.
FILLER = {f"shop/extra/mod{i}.py": "".join(
    f"def helper_{i}_{k}(value):\n    \"\"\"Unrelated helper number {k}.\"\"\"\n    return value * {k} + {i}\n\n\n"
    for k in range(12)) for i in range(25)}


def _cpu_seconds(pid: int) -> float:
    """CPU seconds the server has used (user + system, its own and its ended children's): work done,
    which a busy machine does not inflate the way it stretches the wall clock."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return sum(int(v) for v in fields[11:15]) / os.sysconf("SC_CLK_TCK")


def _status(pid: int) -> dict[str, int]:
    """VmRSS / VmHWM of a process, in MB."""
    out = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            out[key] = int(value.split()[0]) // 1024
    return out


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads the server's memory from /proc")
@pytest.mark.slow
def test_a_thousand_edits_each_followed_by_a_context_request(tmp_path):
    root = make_repo(tmp_path / "repo", {"shop/__init__.py": "", "shop/app.py": APP, "shop/util.py": UTIL, **FILLER})
    s = RawServer(root, log=tmp_path / "server.log")
    uri = (root / "shop/app.py").resolve().as_uri()
    try:
        s.initialize(root, {"budget": 2000, "format": "plain"})
        assert s.call("repoctx/context", {"textDocument": {"uri": uri}, "position": {"line": 3, "character": 4}},
                      120) is not None
        s.notify("textDocument/didOpen", {"textDocument": {"uri": uri, "languageId": "python", "version": 1, "text": APP}})
        base = _status(s.pid)
        lines = APP.count("\n")
        pending: dict[int, int] = {}  # request id -> edit number
        checked = 0
        latencies: list[float] = []
        sent_at: dict[int, float] = {}
        ids: list[int] = []
        memory: dict[int, dict[str, int]] = {}
        start = time.monotonic()

        def collect(msg_id: int) -> None:
            nonlocal checked
            reply = s.response(msg_id)  # waits HANG seconds: a hang guard, not a speed check
            n = pending.pop(msg_id)
            assert reply is not None, f"request {msg_id} (edit {n}) got no reply"
            assert "result" in reply, reply
            text = reply["result"]["text"]
            assert f"def added_{n}(value):" in text and f"return value * {n}  # edit {n}" in text, (n, text[-800:])
            assert reply["result"]["tokens"] <= 2000
            latencies.append(time.monotonic() - sent_at.pop(msg_id))
            checked += 1

        for n in range(EDITS):
            added = f"\n\ndef added_{n}(value):\n    return value * {n}  # edit {n}\n"
            s.notify("textDocument/didChange", {
                "textDocument": {"uri": uri, "version": n + 2},
                "contentChanges": [{"range": {"start": {"line": lines, "character": 0},
                                              "end": {"line": lines, "character": 0}}, "text": added}]})
            first = lines + 2  # 0-based line of the new `def`
            lines += added.count("\n")
            msg_id = s.request("repoctx/context", {"textDocument": {"uri": uri},
                                                   "range": {"start": {"line": first, "character": 0},
                                                             "end": {"line": first + 1, "character": 40}}})
            pending[msg_id], sent_at[msg_id] = n, time.monotonic()
            ids.append(msg_id)
            if len(pending) >= IN_FLIGHT:
                collect(min(pending))
            if n + 1 in (100, 500, EDITS):
                memory[n + 1] = _status(s.pid)
        while pending:
            collect(min(pending))
        total = time.monotonic() - start
        end, cpu = _status(s.pid), _cpu_seconds(s.pid)

        assert checked == EDITS
        assert len(set(ids)) == EDITS and all(len(s.responses_to(i)) == 1 for i in ids)  # one reply each
        latencies.sort()
        print(f"\n{EDITS} edits + {EDITS} context requests ({IN_FLIGHT} in flight): {total:.1f} s, "
              f"median {1000 * latencies[len(latencies) // 2]:.0f} ms, p99 {1000 * latencies[int(len(latencies) * 0.99)]:.0f} ms "
              f"per request; server RSS before {base['VmRSS']} MB, after 100/500/1000 edits "
              f"{memory[100]['VmRSS']}/{memory[500]['VmRSS']}/{memory[EDITS]['VmRSS']} MB, peak (VmHWM) {end['VmHWM']} MB, "
              f"server CPU {cpu:.1f} s")
        # Bounded: the buffer grows by ~4,000 lines, so some growth is fair; a leak of a view per edit is not.
        assert end["VmHWM"] < 1500, end
        assert memory[EDITS]["VmRSS"] - memory[100]["VmRSS"] < 200, memory
        # Work, not the clock: the server's CPU seconds (45 s measured on a loaded 2-core machine, where the
        # wall time was 119 s); a quadratic slowdown shows here, a busy machine does not.
        assert cpu < 150, cpu
    finally:
        assert s.close() == 0
