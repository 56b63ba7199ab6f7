"""How Claude's tokenizer counts packs against o200k: the margin behind the MCP server's default answer
size (`ANSWER_TOKENS` in server/mcp_server.py).

Claude Code refuses a tool answer above 25,000 tokens as Claude counts them. The one Claude tokenizer
published is Claude 2's (the `tokenizer.json` shipped in the `anthropic` Python package up to 0.38.0,
read with the `tokenizers` package); neither is a repoctx dependency, so give the file's path:

    pip download anthropic==0.38.0 --no-deps -d /tmp/a && unzip -o /tmp/a/*.whl anthropic/tokenizer.json -d /tmp/a
    pip install tokenizers
    repoctx pack REPO --budget 24k -o /tmp/packs/REPO.xml --query "..."   (a few repositories)
    python bench/claude_token_ratio.py /tmp/a/anthropic/tokenizer.json /tmp/packs/*.xml

Measured (24k packs, with and without a query, of repoctx, psf/requests, gin-gonic/gin, expressjs/express):
Claude 2 / o200k 1.058-1.216; characters per token 3.13-4.06 (Claude 2) against 3.80-4.30 (o200k).
"""
from __future__ import annotations

import sys

from repoctx.tokens import count, get_encoding


def main() -> int:
    if len(sys.argv) < 3:
        print(__doc__)
        return 2
    from tokenizers import Tokenizer
    claude = Tokenizer.from_file(sys.argv[1])
    o200k = get_encoding("o200k_base")
    worst = 0.0
    for path in sorted(sys.argv[2:]):
        with open(path, encoding="utf-8") as f:
            text = f.read()
        a, b = count(text, o200k), len(claude.encode(text).ids)
        worst = max(worst, b / a)
        print(f"{path}: {len(text):,} chars, o200k {a:,}, claude2 {b:,}, ratio {b / a:.3f}, "
              f"chars/token {len(text) / a:.2f} vs {len(text) / b:.2f}")
    print(f"worst ratio {worst:.3f}: 25,000 / {worst:.3f} = {25_000 / worst:,.0f} o200k tokens at most")
    return 0


if __name__ == "__main__":
    sys.exit(main())
