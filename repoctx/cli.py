"""The `repoctx` command line: a thin layer over the library API."""
from __future__ import annotations

import argparse
import json
import sys
import time

from . import __version__
from .index import IndexError_
from .repository import Repository, load_repository
from .scan import DEFAULT_MAX_BYTES, ScanOptions
from .tokens import EncodingUnavailable


class UsageError(Exception):
    pass


def parse_size(text: str) -> int:
    """'1m' → 1,000,000; '32k' → 32,000; '500' → 500."""
    t = text.strip().lower()
    mult = {"k": 1_000, "m": 1_000_000}.get(t[-1:], 1)
    try:
        value = float(t[:-1] if mult > 1 else t) * mult
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a size: {text!r} (use e.g. 500, 32k, 1m)") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be positive: {text!r}")
    return int(value)


class ProgressBar:
    """A one-line progress bar on stderr when it is a terminal; silent otherwise."""

    def __init__(self, label: str):
        self.label = label
        self.enabled = sys.stderr.isatty()
        self.last = 0.0

    def __call__(self, done: int, total: int) -> None:
        now = time.monotonic()
        if not self.enabled or (now - self.last < 0.1 and done < total):
            return
        self.last = now
        width = 30
        filled = width * done // max(total, 1)
        sys.stderr.write(f"\r{self.label} [{'#' * filled}{'.' * (width - filled)}] {done}/{total}")
        if done >= total:
            sys.stderr.write("\r\033[K")
        sys.stderr.flush()


def _repo_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("path", nargs="?", default=".", help="repository folder (default: .)")
    p.add_argument("--include", action="append", default=[], metavar="GLOB", help="only files matching (gitignore syntax; repeatable)")
    p.add_argument("--exclude", action="append", default=[], metavar="GLOB", help="leave out files matching (repeatable)")
    p.add_argument("--max-file-size", type=parse_size, default=DEFAULT_MAX_BYTES, metavar="BYTES",
                   help="skip files larger than this (default 1m)")
    p.add_argument("--encoding", default=None, help="token encoding or model name (default: best available, o200k_base)")
    p.add_argument("--index", default=None, metavar="FILE", help="index file (default: $REPOCTX_INDEX or PATH/.repoctx/index.sqlite)")


def _load(args: argparse.Namespace, label: str = "indexing") -> Repository:
    options = ScanOptions(include=tuple(args.include), exclude=tuple(args.exclude), max_bytes=args.max_file_size)
    repo = load_repository(args.path, options, encoding=args.encoding, index_path=args.index,
                           progress=ProgressBar(label))
    for w in repo.report.warnings:
        print(f"repoctx: warning: {w}", file=sys.stderr)
    return repo


def cmd_index(args: argparse.Namespace) -> int:
    repo = _load(args)
    print(repo.report.summary())
    return 0


def cmd_stats(args: argparse.Namespace) -> int:
    from .stats import format_stats, repo_stats
    s = repo_stats(_load(args))
    print(json.dumps(s, indent=2) if args.json else format_stats(s))
    return 0


def cmd_graph(args: argparse.Namespace) -> int:
    from .graph_export import graph_dot, graph_json
    repo = _load(args)
    if args.format == "json":
        print(json.dumps(graph_json(repo), indent=1))
    else:
        print(graph_dot(repo))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="repoctx", description="Give language models the right code from a repository.")
    parser.add_argument("--version", action="version", version=f"repoctx {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("index", help="build or update the index")
    _repo_args(p)
    p.set_defaults(func=cmd_index)

    p = sub.add_parser("stats", help="files, lines and tokens; what was skipped; which windows it fits")
    _repo_args(p)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_stats)

    p = sub.add_parser("graph", help="the import and symbol graph as JSON or Graphviz DOT")
    _repo_args(p)
    p.add_argument("--format", choices=("json", "dot"), default="json")
    p.set_defaults(func=cmd_graph)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except KeyboardInterrupt:
        print("\nrepoctx: interrupted; the index keeps everything stored so far", file=sys.stderr)
        return 130
    except (IndexError_, EncodingUnavailable, UsageError, NotADirectoryError) as exc:
        print(f"repoctx: error: {exc}", file=sys.stderr)
        return 1
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    sys.exit(main())
