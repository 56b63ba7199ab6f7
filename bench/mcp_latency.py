"""Latency of each `repoctx mcp` tool on a warm Django source tree, driven over stdio by the MCP SDK's
client as an agent drives it, and the token cost of the tool definitions.

    pip download django==5.2.8 --no-deps --no-binary :all: -d /tmp/mcpbench && tar xzf ... -C /tmp/mcpbench
    nice -n 19 python bench/mcp_latency.py [/tmp/mcpbench/django-5.2.8] [--calls 50] [--budget 16000]

The first call waits for the index (built once, then warm); each tool is then called `--calls`
times with varied (seeded) arguments: p50 / p95 per tool, in milliseconds, client-side round trip.
Targets (issue 14): find_symbol and symbol_references p95 <= 50 ms, pack_context at 16k p95 <= 300 ms.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time

import anyio
from mcp import Client, StdioServerParameters

from repoctx import count_tokens, get_encoding

NAMES = ["QuerySet", "filter", "Model", "save", "get_queryset", "HttpResponse", "reverse", "render",
         "Field", "clean", "validate", "Form", "as_sql", "compile", "get_or_create", "redirect"]
QUERIES = ["queryset filter ignores ordering", "password reset token expires", "migration autodetector renamed field",
           "csrf cookie samesite", "template engine caching loader", "admin list_display sorting"]


def p(values, q):
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))] * 1000


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("repo", nargs="?", default="/tmp/mcpbench/django-5.2.8")
    ap.add_argument("--calls", type=int, default=50)
    ap.add_argument("--budget", type=int, default=16000)
    a = ap.parse_args()
    rnd = random.Random(14)
    params = StdioServerParameters(command=sys.executable, args=["-m", "repoctx", "mcp", a.repo], env=dict(os.environ))
    async with Client(params, read_timeout_seconds=900) as c:
        tools = (await c.list_tools()).tools
        wire = json.dumps({"tools": [t.model_dump(by_alias=True, exclude_none=True, mode="json") for t in tools]})
        print(f"tools/list: {len(tools)} tools, {count_tokens(wire, get_encoding('o200k_base'))} o200k tokens")
        t = time.perf_counter()
        await c.call_tool("find_symbol", {"name": "QuerySet"})
        print(f"first call (waits for the index): {time.perf_counter() - t:.1f}s")
        cases = {
            "find_symbol": lambda: {"name": rnd.choice(NAMES)},
            "symbol_references": lambda: {"name": rnd.choice(NAMES)},
            "repo_map": lambda: {"query": rnd.choice(QUERIES)},
            "pack_context": lambda: {"query": rnd.choice(QUERIES), "budget": a.budget},
        }
        for name, make in cases.items():
            await c.call_tool(name, make())  # warm this tool's caches
            times = []
            for _ in range(a.calls):
                args = make()
                t = time.perf_counter()
                r = await c.call_tool(name, args)
                times.append(time.perf_counter() - t)
                assert not r.is_error, (name, args, r.content)
            print(f"{name:18} p50 {p(times, 0.5):7.1f} ms   p95 {p(times, 0.95):7.1f} ms   ({a.calls} calls)")


if __name__ == "__main__":
    anyio.run(main)
