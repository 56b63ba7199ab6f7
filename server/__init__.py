"""repoctx's protocol front ends: the language server (`repoctx serve`) and the MCP server (`repoctx
mcp`), thin layers over the repoctx library's public API."""
from __future__ import annotations

import argparse


def listen_address(text: str) -> tuple[str, int]:
    """argparse type for '[HOST:]PORT' (HOST may be '[v6]') → (host, port), 127.0.0.1 when no host
    is given; a bad value is a usage error naming the flag."""
    host, sep, port = text.rpartition(":")
    host = host.strip("[]") if sep else "127.0.0.1"
    try:
        number = int(port)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected [HOST:]PORT with a port number, not {text!r}") from None
    if not 0 <= number <= 65535:
        raise argparse.ArgumentTypeError(f"port must be 0-65535, not {number}")
    return host or "127.0.0.1", number
