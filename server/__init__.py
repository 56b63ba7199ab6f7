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


#: Host names that reach only this machine: a server bound to one needs no token.
LOOPBACK = ("127.0.0.1", "localhost", "::1")


def exposure_error(flag: str, host: str, port: int, token: str | None, env: str, how: str) -> str | None:
    """The one-line error for a server asked to listen beyond this machine without a token (None when
    it may start): `repoctx mcp --http` and `repoctx serve --tcp` hold the same rule. `how` says how a
    client presents the token."""
    if host in LOOPBACK or token:
        return None
    return f"repoctx: error: {flag} {host}:{port} listens beyond this machine; give --token TOKEN (or set {env}), and {how}"


def same_token(given, token: str) -> bool:
    """Whether a client's token is the server's (compared in constant time; anything but a string is not)."""
    import hmac
    return isinstance(given, str) and hmac.compare_digest(given.encode("utf-8", "surrogatepass"), token.encode())
