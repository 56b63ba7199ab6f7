"""The `repoctx` command line: a thin layer over the library API."""
from __future__ import annotations

import argparse
import os
import sys
import time

from repoctx import __version__

TYPE_CHECKING = False  # as typing's, without importing typing at start-up
if TYPE_CHECKING:
    from repoctx.index.load import Repository
    from repoctx.settings import Settings

def _started() -> float:
    """When this process started, on the `time.monotonic` clock: from /proc where there is one (the
    interpreter's start-up and imports count: the summary tells the wall time a person waited),
    else the moment this module was imported."""
    try:
        with open("/proc/self/stat", "rb") as f:
            ticks = int(f.read().rsplit(b")", 1)[1].split()[19])  # field 22: start time since boot
        with open("/proc/uptime", "rb") as f:
            ago = float(f.read().split()[0]) - ticks / os.sysconf("SC_CLK_TCK")
        return time.monotonic() - max(0.0, ago)
    except (OSError, ValueError, IndexError):
        return time.monotonic()


STARTED = _started()
#: In a resident process (`repoctx resident`), the kept repository that `pack` packs
#: (resident.Kept); None in a command that works alone.
RESIDENT = None


class NotResident(Exception):
    """A call a resident process does not answer (another repository, index or scan): the caller
    works alone."""


def parse_size(text: str) -> int:
    """argparse type for token and byte counts: '32k' → 32,000, '1m' → 1,000,000."""
    from repoctx.settings import parse_count
    try:
        return parse_count(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def parse_limit(text: str) -> int:
    """argparse type for a number of things (`search --limit`): a count, suggested as one."""
    from repoctx.settings import parse_count
    try:
        return parse_count(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc).replace('(use e.g. 500, "32k", "1m")', "(a whole number, e.g. 50)")) from None


class ArgumentParser(argparse.ArgumentParser):
    """A usage error in one line that names --help: a usage block of ten lines above it hides the one
    line that says what was wrong."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


class ProgressBar:
    """A one-line progress bar on stderr when it is a terminal; silent otherwise."""

    def __init__(self, label: str, on_start=None):
        self.label = label
        self.on_start, self.started = on_start, False
        self.enabled = sys.stderr.isatty()
        self.last = 0.0

    def __call__(self, done: int, total: int) -> None:
        if not self.started:  # files are being indexed: the main process waits for the workers
            self.started = True
            if self.on_start:
                self.on_start()
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


def _repo_args(p: argparse.ArgumentParser, remote: bool = False) -> None:
    local = "repository folder, or a folder inside one: its files only, with the repository's index, settings and paths"
    if remote:
        p.add_argument("path", nargs="?", default=".",
                       help=f"{local} (default: .); or a git URL: https://…, ssh://…, git@HOST:PATH, "
                            "file://…, github:OWNER/REPO (cloned into the cache, see --ref)")
        p.add_argument("--ref", default=None, metavar="BRANCH|TAG|SHA",
                       help="with a URL: the branch, tag or full commit id to fetch (default: the remote's default branch)")
        p.add_argument("--refresh", action="store_true",
                       help="with a URL: fetch the ref again instead of using the cached clone as it is")
    else:
        p.add_argument("path", nargs="?", default=".", help=f"{local} (default: .)")
    p.add_argument("--include", action="append", default=[], metavar="GLOB", help="only files matching (gitignore syntax; repeatable)")
    p.add_argument("--exclude", action="append", default=[], metavar="GLOB", help="leave out files matching (repeatable)")
    p.add_argument("--max-file-size", type=parse_size, default=None, metavar="BYTES",
                   help="skip files larger than this (default 1m)")
    p.add_argument("--encoding", default=None, help="token encoding or model name (default: best available, o200k_base)")
    p.add_argument("--index", default=None, metavar="FILE", help="index file (default: $REPOCTX_INDEX or PATH/.repoctx/index.sqlite)")


def _located(args: argparse.Namespace) -> tuple[str, str]:
    """(repository root, scope) of the command's PATH, found as git finds a repository
    (`scan.locate`): a subfolder narrows the files to itself, but its repository's index, settings
    and paths are used. A change (--diff, --staged) is the whole repository's, wherever it runs."""
    if getattr(args, "root", None) is None:
        from repoctx.scan import locate
        args.root, args.scope = locate(args.path)
        if getattr(args, "diff", None) is not None or getattr(args, "staged", False):
            args.scope = ""
    return args.root, args.scope


def _settings(args: argparse.Namespace, root: str | None = None) -> Settings:
    """The repository's settings file, overridden by the flags given on the command line."""
    from repoctx.settings import load_settings
    root = root or _located(args)[0]
    if not os.path.isdir(root):
        raise NotADirectoryError(f"not a folder: {os.path.abspath(root)}")
    settings = load_settings(root)
    for note in settings.notes:
        print(f"repoctx: note: {note}", file=sys.stderr)
    flags = {k: getattr(args, k, None) for k in ("budget", "encoding", "format", "mode", "max_file_size", "line_numbers")}
    flags["line_numbers"] = flags["line_numbers"] or None
    flags["redact"] = False if getattr(args, "no_redact", False) else None
    return settings.merged(**flags, include=getattr(args, "include", None) or None,
                           exclude=getattr(args, "exclude", None) or None)


def _options(args: argparse.Namespace, st: Settings):
    """The scan the settings and this run ask for: its scope, and what it writes never packed."""
    import dataclasses

    from repoctx.scan import ScanOptions
    return dataclasses.replace(ScanOptions.from_settings(st), outputs=_outputs(args), scope=_located(args)[1])


def _warn(st: Settings, warnings: list[str]) -> None:
    if not st.redact:
        from repoctx.secrets import REDACTION_OFF
        print(f"repoctx: WARNING: {REDACTION_OFF}", file=sys.stderr)
    for w in warnings:
        print(f"repoctx: warning: {w}", file=sys.stderr)


def _filters_matched(repo, st: Settings) -> None:
    """A filter that leaves no file is named as the reason the pack would be empty."""
    if not repo.files and (st.include or st.exclude):
        from repoctx.pack.request import RequestError
        given = [f"--include {g!r}" for g in st.include] + [f"--exclude {g!r}" for g in st.exclude]
        raise RequestError(f"no file is left to pack: {', '.join(given)} leave(s) none of the repository's files "
                           f"(`repoctx stats` without the filter lists them)")


def _outputs(args: argparse.Namespace) -> tuple[str, ...]:
    """What this run writes inside the repository (the -o target, an --index folder), as
    repository-relative paths: never packed."""
    root = _located(args)[0]
    out = []
    for target, folder in ((getattr(args, "output", None), False), (args.index, True)):
        if target:
            where = os.path.realpath(os.path.dirname(os.path.abspath(target)) if folder else target)
            rel = os.path.relpath(where, root).replace(os.sep, "/")
            if rel != "." and not rel.startswith("../"):
                out.append(rel + "/" if folder else rel)
    return tuple(out)


def _load(args: argparse.Namespace, counting: bool = False) -> tuple[Repository, Settings]:
    """The repository loaded as the settings say, and those settings; index repairs are warnings.
    `counting`: the command will count tokens, so the tokenizer is built meanwhile (tokens.warm_up)."""
    st = _settings(args)
    if RESIDENT is not None:
        kept = RESIDENT(_located(args)[0], args.index, _options(args, st), st)
        if kept is None:
            raise NotResident
        _warn(st, kept[0].report.warnings if RESIDENT.loaded else [])  # said when loaded, as alone
        return kept[0], st
    from repoctx.index.load import load_repository
    from repoctx.secrets import warm_up
    if counting:
        from repoctx.tokens import warm_up as warm_tokens
        warm_tokens(st.encoding)
    progress = ProgressBar("indexing", on_start=warm_up if st.redact else None)
    repo = load_repository(_located(args)[0], _options(args, st), encoding=st.encoding, index_path=args.index,
                           progress=progress)
    _warn(st, repo.report.warnings)
    # One command, then exit: what was loaded lives to the end, and is acyclic, so the cyclic GC
    # need not walk it again on every later collection (0.3 s of a warm Django pack).
    import gc
    gc.freeze()
    return repo, st


def _ask_resident(args: argparse.Namespace, argv: list[str]) -> int | None:
    """The exit code of this `pack` as a resident process of this repository answered it (its
    output written here), or None: none runs, it declined, or the call needs this process (a
    clipboard, stdin, a URL) — then the command works alone. REPOCTX_RESIDENT=off never asks."""
    if os.environ.get("REPOCTX_RESIDENT") == "off" or args.source is not None:
        return None
    from repoctx import resident
    if not resident.answers(args):
        return None
    path = resident.find_socket(args.path, args.index)
    answer = resident.ask(path, argv, STARTED) if path else None
    if answer is None:
        return None
    code, out, err = answer
    sys.stdout.write(out)
    sys.stdout.flush()
    sys.stderr.write(err)
    return code


def cmd_resident(args: argparse.Namespace) -> int:
    from repoctx import resident
    from repoctx.index.store import default_index_path
    root = _located(args)[0]
    index_path = os.path.abspath(args.index or default_index_path(root))
    kept = resident.Kept(root, index_path)
    st = _settings(args)
    from repoctx.tokens import warm_up
    warm_up(st.encoding)  # the tokenizer too: built while the repository loads
    kept(root, args.index, _options(args, st), st)  # load now: the first call finds it warm
    return resident.serve(root, index_path, args.idle, kept, sys.modules[__name__])


def cmd_index(args: argparse.Namespace) -> int:
    from repoctx.index.prepare import prepare_repository
    st = _settings(args)
    report = prepare_repository(_located(args)[0], _options(args, st), encoding=st.encoding, index_path=args.index,
                                progress=ProgressBar("indexing"))
    _warn(st, report.warnings)
    print(report.summary())
    return 0


def cmd_stats(args: argparse.Namespace) -> int:
    import json

    from repoctx.stats import format_stats, repo_stats
    s = repo_stats(_load(args)[0])
    print(json.dumps(s, indent=2) if args.json else format_stats(s))
    return 0


def cmd_graph(args: argparse.Namespace) -> int:
    import json

    from repoctx.graph.export import graph_dot, graph_json
    from repoctx.secrets import Redactor
    repo, st = _load(args)
    if args.graph_format == "json":
        print(json.dumps(graph_json(repo, Redactor(enabled=st.redact)), indent=1))
    else:
        print(graph_dot(repo))
    return 0


def _resolve_remote(args: argparse.Namespace) -> None:
    """A URL in PATH becomes the folder of its cached clone (`remote.resolve`) before the command
    runs; `args.source` keeps where it came from."""
    args.source = None
    path = getattr(args, "path", None)
    _check_diff(args)
    if isinstance(path, str) and os.path.exists(path) and getattr(args, "ref", None) is None \
            and not getattr(args, "refresh", False):
        return  # a local path, as remote.parse_remote says first: its module is not needed
    from repoctx.remote import BadRemote, parse_remote, resolve
    if not hasattr(args, "ref"):
        if isinstance(path, str) and not os.path.exists(path) and parse_remote(path) is not None:
            raise BadRemote(f"{path} is a repository URL, and `repoctx {args.command}` works on a local folder "
                            "(pack, map, stats, search and graph take a URL: they clone it and index the clone)")
        return
    checkout = resolve(args.path, ref=args.ref, refresh=args.refresh)
    if checkout is None:
        if args.ref is not None or args.refresh:
            raise BadRemote(f"--ref and --refresh are for a repository URL; {args.path!r} is a local folder "
                            "(check out the ref there with git instead)" if os.path.isdir(args.path) else
                            f"--ref and --refresh are for a repository URL, and {args.path!r} is neither a URL nor a folder")
        return
    args.path, args.source = checkout.path, checkout
    if args.command != "pack":  # pack names it in its summary line
        print(f"repoctx: {checkout.describe()}", file=sys.stderr)


def _check_diff(args: argparse.Namespace) -> None:
    """`pack --diff requests` with no PATH: a folder given where a revision goes is said to be one
    (unless it also names a revision), instead of a git error about the current folder."""
    rev = getattr(args, "diff", None)
    if rev and args.path == "." and os.path.isdir(rev):
        from repoctx.git import GitError, run
        try:
            run(".", "rev-parse", "--verify", "--quiet", rev + "^{commit}")
        except GitError:
            from repoctx.remote import BadRemote
            raise BadRemote(f"--diff {rev}: {rev!r} is a folder, not a revision; --diff takes a revision (default "
                            f"HEAD). For the change in that folder's repository: repoctx {args.command} {rev}"
                            + (" --diff" if args.command == "pack" else "")) from None


def write_output(text: str, target: str | None) -> None:
    """To stdout, or atomically to a file (see `files.write_atomic`)."""
    if target:
        from repoctx.files import write_atomic
        write_atomic(target, text, parents=True)
    else:
        sys.stdout.write(text)


def cmd_pack(args: argparse.Namespace) -> int:
    from repoctx.pack.packer import Packer
    from repoctx.pack.request import STAGED, WORKTREE, PackRequest, parse_focus
    from repoctx.render import written
    if args.split and not args.output:
        print("repoctx: error: --split needs -o NAME.xml: the parts are written as NAME.1.xml ... NAME.n.xml",
              file=sys.stderr)
        return 2
    if args.split and args.copy:
        print("repoctx: error: --copy takes one text and --split makes several: copy a part from its file, "
              "or leave out --split", file=sys.stderr)
        return 2
    query = args.query or ""
    if args.query_file:
        try:
            with open(args.query_file, encoding="utf-8", errors="replace") as f:
                query = f.read()
        except OSError as exc:  # exits 2 with the usage, as a bad argument does
            args.usage_error(f"argument --query-file: cannot read {args.query_file}: {exc.strerror or exc}")
    # A query, focus or diff makes a slice pack, which counts what it renders (a whole pack's counts
    # are mostly remembered: counts_cache); a repository small enough to go whole only wastes the build.
    repo, st = _load(args, counting=bool(query.strip() or args.focus or args.diff is not None or args.staged))
    _filters_matched(repo, st)
    diff = STAGED if args.staged else (args.diff or WORKTREE) if args.diff is not None else None
    request = PackRequest.from_settings(st, query=query, focus=[parse_focus(f, repo.root) for f in args.focus],
                                        diff=diff, origin="--", tree=False if args.no_tree else None)
    packer = RESIDENT.packer(repo) if RESIDENT is not None else Packer(repo, redact=st.redact)
    result = packer.pack(request)
    whole = sum(f.whole for f in result.files)
    tokens = result.tokens  # of the file as written: a json object counts whole
    if st.format == "json" and not args.split:
        from repoctx.tokens import count, get_encoding
        tokens = count(written(result, "json"), get_encoding(result.encoding))
    summary = (f"repoctx: {result.mode}: {tokens:,}/{result.budget:,} tokens, {whole} files whole, "
               f"{len(result.files) - whole} files sliced, {result.encoding}, {time.monotonic() - STARTED:.2f}s"
               + (" (resident process)" if RESIDENT is not None else "")
               + (f"; {args.source.describe()}" if getattr(args, "source", None) else ""))
    from repoctx.stats import skipped_note
    if skipped_note(repo.skipped):
        summary += f"; {skipped_note(repo.skipped)}"
    after = []  # lines that follow the summary
    if args.split:
        from repoctx.pack.split import split_pack, write_parts
        parts = split_pack(result, args.split, repo)
        paths, removed, kept = write_parts(parts, args.output)
        summary += (f"; {len(parts)} part(s) of at most {args.split:,} tokens: "
                    + ", ".join(f"{p} {part.tokens:,}" for p, part in zip(paths, parts)))
        if removed:
            after.append(f"repoctx: removed {len(removed)} part(s) an earlier run left beyond this one's: {', '.join(removed)}")
        if kept:
            after.append(f"repoctx: warning: kept {', '.join(kept)}: named like a part but not a repoctx pack")
    else:
        out = written(result, st.format)
        if args.output or not args.copy:
            write_output(out, args.output)
        if args.copy:
            from repoctx.clipboard import copy
            summary += f"; copied to the clipboard ({copy(out)})"
    print("\n".join([summary, *after]), file=sys.stderr)
    report_secrets(result.redactions, result.secret_files)
    outputs = [s.path for s in repo.skipped if s.reason == "repoctx-output"]
    if outputs:
        from repoctx.render import shown_path
        print(f"repoctx: left out {len(outputs)} file(s) repoctx wrote (packs, the index): {', '.join(map(shown_path, outputs[:10]))}"
              + (f", and {len(outputs) - 10} more" if len(outputs) > 10 else ""), file=sys.stderr)
    for w in result.warnings:
        if st.redact or "redaction is off" not in w:  # said once, loudly, when loading
            print(f"repoctx: warning: {w}", file=sys.stderr)
    return 0


def report_secrets(redactions: list[tuple[str, int, str]], secret_files: list[str], limit: int = 20) -> None:
    """What was redacted (file, line, type — never the value) and which secret files were left out;
    names shown as every output shows them (render.shown_path: no raw control or newline)."""
    from repoctx.render import shown_path
    def listing(items: list[str]) -> str:
        more = f", and {len(items) - limit} more" if len(items) > limit else ""
        return ", ".join(items[:limit]) + more
    if redactions:
        print(f"repoctx: redacted {len(redactions)} secret(s): "
              f"{listing([f'{shown_path(p)}:{n} ({k})' for p, n, k in redactions])}", file=sys.stderr)
    if secret_files:
        print(f"repoctx: left out {len(secret_files)} secret file(s): {listing([shown_path(p) for p in secret_files])}", file=sys.stderr)


def cmd_map(args: argparse.Namespace) -> int:
    from repoctx.pack.packer import Packer
    from repoctx.pack.request import parse_focus
    from repoctx.retrieve.rank import query_signals
    repo, st = _load(args, counting=True)  # the map counts what it fits
    focus = [parse_focus(f, repo.root) for f in args.focus]
    packer = Packer(repo, redact=st.redact)
    seeds = query_signals(packer.index, args.query or "", focus).seeds if (args.query or focus) else None
    text = packer.map(args.budget or st.map_budget, seeds)
    report_secrets([("<map>", f.line, f.kind) for f in packer.redactor.findings.get("<map>", ())], [])
    packer.redactor.save()
    sys.stdout.write(text + "\n" if text else "")
    return 0


def cmd_search(args: argparse.Namespace) -> int:
    import json
    from dataclasses import asdict

    from repoctx.retrieve.rank import RetrievalIndex
    from repoctx.retrieve.search import search
    if not args.query.strip():
        print("repoctx: error: the query is empty: give a symbol name or words to search for", file=sys.stderr)
        return 1
    hits = search(RetrievalIndex.load(_load(args)[0]), args.query, args.limit)
    if not hits:
        print(f"repoctx: no match for {args.query!r}", file=sys.stderr)
        if args.json:
            print("[]")
        return 1
    if args.json:
        print(json.dumps([asdict(h) for h in hits], indent=1))
    else:
        from repoctx.render import shown_path
        for h in hits:
            print(f"{h.score:7.3f}  {shown_path(h.path)}:{h.start_line}-{h.end_line}  {h.symbol or ''}")
    return 0


def cmd_impact(args: argparse.Namespace) -> int:
    from repoctx.impact import change_impact, fit
    from repoctx.pack.request import STAGED, WORKTREE
    repo = _load(args)[0]
    impact = change_impact(repo, STAGED if args.staged else args.diff or WORKTREE)
    sys.stdout.write(fit(impact, args.budget, repo.encoding, args.json))
    return 0


def cmd_snapshot(args: argparse.Namespace) -> int:
    from repoctx import snapshot as snap
    from repoctx.tokens import count, get_encoding
    if args.action == "take":
        return _take_snapshot(args)
    root = snap.repository_root(args.repo)  # snapshots are the repository's, whichever folder asks
    if args.action == "show":
        with open(snap.find_snapshot(root, args.commit or "HEAD"), encoding="utf-8") as f:
            sys.stdout.write(f.read())
        return 0
    if args.action == "list":
        enc = get_encoding(None)
        entries = snap.list_snapshots(root)
        if not entries:
            print(f"repoctx: no snapshots in {os.path.relpath(snap.snapshot_dir(root), root)} yet: `repoctx hook install` "
                  "takes one at every commit, `repoctx snapshot take` takes one of the staged change now", file=sys.stderr)
        for e in entries:
            with open(e.path, encoding="utf-8") as f:
                tokens = count(f.read(), enc)
            print(f"{e.commit[:12] if e.commit else '(not committed)':<15} {e.date or '-':<25} {tokens:>9,} tokens  {os.path.relpath(e.path, root)}")
        return 0
    snap.attach_note(root, args.commit or "HEAD")
    return 0


def _take_snapshot(args: argparse.Namespace) -> int:
    from repoctx import snapshot as snap
    from repoctx.pack.packer import NoChange
    # Outside git there is no commit to block (a hook always runs in a repository): a person ran it,
    # and is told, exit 1.
    root = snap.repository_root(args.repo)
    try:  # the pre-commit step, which must never block a commit because of its own failure
        st = _settings(args, root)
        path, result, repo = snap.take(root, st, args.index, progress=ProgressBar("indexing"))
        _warn(st, repo.report.warnings)
        print(f"repoctx: snapshot {os.path.relpath(path, root)} ({result.tokens:,} tokens)", file=sys.stderr)
        return 0
    except NoChange as exc:  # a commit of nothing staged (--allow-empty, --amend): the hook stays quiet
        if "GIT_INDEX_FILE" in os.environ and not args.strict:  # git sets it for the hooks of a commit
            return 0
        print(f"repoctx: no snapshot taken: {exc}", file=sys.stderr)
        return 1
    except Exception as exc:
        if args.strict:
            raise
        print(f"repoctx: warning: no snapshot taken ({type(exc).__name__}: {exc}); the commit goes on", file=sys.stderr)
        return 0


def cmd_hook(args: argparse.Namespace) -> int:
    from repoctx import snapshot as snap
    root = snap.repository_root(args.repo)
    paths = snap.install_hooks(root, notes=args.notes) if args.action == "install" else snap.uninstall_hooks(root)
    for p in paths:
        print(f"repoctx: {'installed' if args.action == 'install' else 'removed'} {p}")
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    import json

    from repoctx.eval.report import format_eval
    from repoctx.eval.run import run_eval, run_task_file
    from repoctx.eval.tasks import EvalError
    budgets = tuple(parse_size(b) for b in args.budgets.split(",") if b.strip())
    if args.tasks:
        repos = {}
        for spec in args.repo:
            name, sep, where = spec.partition("=")
            if not sep or not name or not where:
                raise EvalError(f"--repo wants NAME=PATH, not {spec!r}")
            repos[name] = where
        result = run_task_file(args.tasks, args.path, repos, budgets=budgets, encoding=args.encoding,
                               progress=ProgressBar("evaluating"), index_path=args.index)
    else:
        result = run_eval(args.path or ".", commits=args.commits, budgets=budgets, encoding=args.encoding,
                          progress=ProgressBar("evaluating"), index_path=args.index)
    if args.json:
        print(json.dumps(result, indent=1))
    else:
        sys.stdout.write(format_eval(result))
    return 0


def cmd_apply(args: argparse.Namespace) -> int:
    import json

    from repoctx.apply.apply import ChangedOnDisk, WriteFailed, Written, plan, write
    from repoctx.apply.parse import NoEdit
    from repoctx.apply.report import format_plan
    try:
        if args.patch == "-":
            text = sys.stdin.buffer.read().decode("utf-8", "surrogateescape")
        else:
            with open(args.patch, "rb") as f:
                text = f.read().decode("utf-8", "surrogateescape")
        from repoctx.scan import locate
        p = plan(text, locate(args.repo)[0])  # an edit's paths are repository-relative, as git's are
    except NoEdit as exc:
        print(f"repoctx: {exc}", file=sys.stderr)
        return 2
    written, error = Written(), None
    if (p.ok or args.partial) and not args.check:
        if not p.ok:
            p = p.applied_only()
        try:
            written = write(p)
        except ChangedOnDisk as exc:
            error = str(exc)
        except WriteFailed as exc:   # what is still changed (nothing, unless restoring failed too)
            error, written = str(exc), exc.left
    if args.json:
        out = {**p.as_dict(), "check": args.check, **written.as_dict(), "error": error}
        if args.check:
            out["would"] = p.changes().as_dict()
        print(json.dumps(out, indent=1))
    else:
        sys.stdout.write(format_plan(p, written, check=args.check))
        if error:
            print(f"repoctx: {error}", file=sys.stderr)
    return 0 if p.ok and not error and not p.partial else 1


def cmd_init(args: argparse.Namespace) -> int:
    from repoctx.scan import locate
    from repoctx.settings import write_default_config
    print(f"repoctx: wrote {write_default_config(locate(args.path)[0], force=args.force)}")
    return 0


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The command line's parser. With `only`, the command about to run, the other commands get
    their names and help lines but not their arguments: `repoctx --help` and `--version` then
    import nothing the commands' options need (settings, and what it imports), and start in
    about the time of a bare interpreter. None defines every command's arguments."""
    parser = ArgumentParser(prog="repoctx", description="Give language models the right code from a repository.")
    parser.add_argument("--version", action="version", version=f"repoctx {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    def command(name: str, **kwargs) -> argparse.ArgumentParser | None:
        """Add the command `name`; its parser, to define its arguments on, if it is wanted."""
        p = sub.add_parser(name, **kwargs)
        return p if only is None or only == name else None

    if p := command("index", help="build or update the index"):
        _repo_args(p)
        p.set_defaults(func=cmd_index)

    if p := command("stats", help="files, lines and tokens; what was skipped; which windows it fits"):
        _repo_args(p, remote=True)
        p.add_argument("--json", action="store_true", help="the figures as JSON")
        p.set_defaults(func=cmd_stats)

    if p := command("graph", help="the import and symbol graph as JSON or Graphviz DOT"):
        _repo_args(p, remote=True)
        p.add_argument("--format", choices=("json", "dot"), default="json", dest="graph_format",
                       help="json (default): files, imports, symbols and references; dot: the file graph for Graphviz")
        p.set_defaults(func=cmd_graph)

    if p := command("pack", help="pack the repository (or the slices a query needs) into a prompt"):
        from repoctx.settings import FORMATS, MODES, Settings
        _repo_args(p, remote=True)
        q = p.add_mutually_exclusive_group()
        q.add_argument("--query", help="what the change is about: an issue text, a commit message")
        q.add_argument("--query-file", metavar="FILE", help="read the query from a file")
        p.add_argument("--focus", action="append", default=[], metavar="FILE[:LINE[-LINE]]",
                       help="code the change is about (repeatable); FILE is repository-relative (a path from the "
                            "current folder works too), LINE 1-based")
        change = p.add_mutually_exclusive_group()
        change.add_argument("--diff", nargs="?", const="", default=None, metavar="REV",
                            help="pack a change: the work tree's diff against REV (default HEAD), with the code it touches")
        change.add_argument("--staged", action="store_true", help="pack the staged change (the diff of the index against HEAD)")
        p.add_argument("--budget", type=parse_size, default=None, help=f"token budget, e.g. 8k, 128k (default {Settings.budget:,})")
        p.add_argument("--mode", choices=MODES, default=None,
                       help="auto (default): the whole repository if it fits the budget, else map + slices; whole: the "
                            "whole repository or exit 3 with the size it needs; slice: map + slices")
        p.add_argument("--format", choices=FORMATS, default=None, help="output format (default xml)")
        p.add_argument("--line-numbers", action="store_true", default=None, help="prefix each code line with its number")
        p.add_argument("--no-tree", action="store_true",
                       help="leave out the file tree a whole-repository pack opens with")
        p.add_argument("-o", "--output", metavar="FILE", help="write the pack here (atomically) instead of stdout")
        p.add_argument("--split", type=parse_size, default=None, metavar="TOKENS",
                       help="write the pack in parts of at most TOKENS each (e.g. 100k), cut between files (a larger "
                            "file between definitions): -o NAME.xml gives NAME.1.xml ... NAME.n.xml, the map in the "
                            "first; --budget stays the total")
        p.add_argument("--copy", action="store_true",
                       help="put the pack on the clipboard (wl-copy, xclip, xsel or pbcopy, as the session has); "
                            "with -o, write the file too")
        p.add_argument("--no-redact", action="store_true",
                       help="pack secrets as they are (no redaction) and include secret files (.env, keys): use with care")
        p.set_defaults(func=cmd_pack, usage_error=p.error)

    if p := command("map", help="the signatures-only map of the repository, most central first"):
        from repoctx.settings import Settings
        _repo_args(p, remote=True)
        p.add_argument("--budget", type=parse_size, default=None, help=f"token budget (default: the map_budget setting, {Settings.map_budget:,})")
        p.add_argument("--focus", action="append", default=[], metavar="FILE[:LINE[-LINE]]",
                       help="put the files and symbols around this code first (repeatable; FILE repository-relative)")
        p.add_argument("--query", help="put what this text names first (an issue text, a commit message)")
        p.set_defaults(func=cmd_map)

    if p := command("search", help="ranked symbols for a query"):
        p.add_argument("query", help="a symbol name (exact, qualified as Class.method, or a prefix) or words to rank by")
        _repo_args(p, remote=True)
        p.add_argument("--limit", type=parse_limit, default=20, help="at most this many symbols (default 20)")
        p.add_argument("--json", action="store_true", help="the hits as JSON: path, symbol, start_line, end_line, score")
        p.set_defaults(func=cmd_search)

    if p := command("impact", help="what a change touches: its definitions, their callers (transitively) "
                                   "and the tests that reach them"):
        _repo_args(p)
        change = p.add_mutually_exclusive_group()
        change.add_argument("--diff", default=None, metavar="REV",
                            help="the work tree's change against REV (default: against HEAD)")
        change.add_argument("--staged", action="store_true", help="the staged change (the index against HEAD)")
        p.add_argument("--budget", type=parse_size, default=4000, help="token limit of the answer (default 4,000)")
        p.add_argument("--json", action="store_true", help="as JSON: changed, callers, tests, test_files, omitted")
        p.set_defaults(func=cmd_impact)

    if p := command("snapshot", help="pre-commit context snapshots: take (default), show [COMMIT], list, note [COMMIT]"):
        from repoctx.settings import FORMATS
        p.add_argument("action", nargs="?", choices=("take", "show", "list", "note"), default="take",
                       help="take (default): the pack of the staged change; show: a commit's snapshot; list: the "
                            "snapshots there are; note: attach a commit's snapshot as a git note")
        p.add_argument("commit", nargs="?", help="for show / note: the commit (default HEAD)")
        p.add_argument("-C", "--repo", default=".", help="repository folder (default: .)")
        p.add_argument("--strict", action="store_true", help="fail (and so block the commit) when the snapshot fails")
        p.add_argument("--budget", type=parse_size, default=None,
                       help="for take: token budget of the snapshot (default: the budget setting)")
        p.add_argument("--format", choices=FORMATS, default=None, help="for take: output format (default xml)")
        p.add_argument("--encoding", default=None, help="for take: token encoding or model name (default o200k_base)")
        p.add_argument("--index", default=None, metavar="FILE",
                       help="for take: index file (default: $REPOCTX_INDEX or .repoctx/index.sqlite)")
        p.set_defaults(func=cmd_snapshot, mode=None, max_file_size=None, line_numbers=None)

    if p := command("hook", help="install or uninstall repoctx's git hooks (an existing hook is kept and chained)"):
        p.add_argument("action", choices=("install", "uninstall"), help="install or uninstall the hooks")
        p.add_argument("-C", "--repo", default=".", help="repository folder (default: .)")
        p.add_argument("--notes", action="store_true", help="also attach each snapshot to its commit as a git note")
        p.set_defaults(func=cmd_hook)

    if p := command("eval", help="measure retrieval on the repository's own history (commit message -> changed lines)"):
        p.add_argument("path", nargs="?", default=None, help="git repository (default: .)")
        p.add_argument("--commits", type=int, default=40, help="tasks to mine, newest first (default 40)")
        p.add_argument("--tasks", metavar="FILE.jsonl", help="measure the tasks of a task file instead of mining commits")
        p.add_argument("--repo", action="append", default=[], metavar="NAME=PATH",
                       help="with --tasks: the clone of the repository that tasks name NAME (github or repo field)")
        p.add_argument("--budgets", default="8k,32k,128k", help="comma-separated token budgets")
        p.add_argument("--encoding", default="cl100k_base", help="token encoding of the budgets (default cl100k_base)")
        p.add_argument("--index", default=None, metavar="FILE", help="index shared by all states (default: a temporary file)")
        p.add_argument("--json", action="store_true", help="figures and per-task detail as JSON")
        p.set_defaults(func=cmd_eval)

    if p := command("apply", help="check and apply a model's edit (unified diff, SEARCH/REPLACE, *** Begin Patch)"):
        p.add_argument("patch", nargs="?", default="-", help="file holding the edit, or - for stdin (default)")
        p.add_argument("-C", "--repo", default=".", help="repository folder (default: .)")
        p.add_argument("--check", action="store_true", help="place every hunk and report; write nothing")
        p.add_argument("--json", action="store_true", help="the per-hunk report as JSON")
        p.add_argument("--partial", action="store_true", help="write the files whose hunks all applied even if others were refused")
        p.set_defaults(func=cmd_apply)

    if p := command("init", help="write a commented .repoctx.toml holding the default settings"):
        p.add_argument("path", nargs="?", default=".", help="repository folder (default: .)")
        p.add_argument("--force", action="store_true", help="replace an existing .repoctx.toml")
        p.set_defaults(func=cmd_init)

    if p := command("resident", help="keep the repository loaded in this process and answer `repoctx pack` "
                                     "calls from it (a unix socket beside the index; exits when idle)"):
        p.add_argument("path", nargs="?", default=".", help="repository folder (default: .)")
        p.add_argument("--index", default=None, metavar="FILE", help="index file (default: $REPOCTX_INDEX or PATH/.repoctx/index.sqlite)")
        p.add_argument("--idle", type=float, default=600.0, metavar="SECONDS",
                       help="exit after this long without a call (default 600)")
        p.set_defaults(func=cmd_resident)

    sub.add_parser("serve", add_help=False, help="run the language server (stdio; --tcp HOST:PORT for debugging)")
    sub.add_parser("mcp", add_help=False, help="run the MCP server for coding agents (stdio; --http [HOST:]PORT)")
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["serve"]:  # the server parses its own flags
        from repoctx_server.language_server import main as serve
        return serve(argv[1:])
    if argv[:1] == ["mcp"]:
        from repoctx_server.mcp_server import main as mcp
        return mcp(argv[1:])
    parser = build_parser(only=next((a for a in argv if not a.startswith("-")), ""))
    args, extra = parser.parse_known_args(argv)
    if extra:  # said by the command's own parser, which names its --help
        sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
        sub.choices[args.command].error(f"unrecognized arguments: {' '.join(extra)}")
    try:
        if RESIDENT is not None and not RESIDENT.answers(args):  # checked before a URL is cloned
            raise NotResident
        _resolve_remote(args)
        if args.command == "pack" and RESIDENT is None:
            answered = _ask_resident(args, argv)
            if answered is not None:
                return answered
        return args.func(args)
    except KeyboardInterrupt:
        print("\nrepoctx: interrupted; the index keeps everything stored so far", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
    except Exception as exc:
        code = _exit_code(exc)
        if code is None:
            raise
        print(f"repoctx: error: {_message(exc)}", file=sys.stderr)
        return code


#: Errors the user can act on, by class, and their exit codes (3: the pack cannot fit the budget).
#: Named, not imported: a command that never loaded a module cannot have raised its error.
_ERRORS = {"repoctx.pack.packer.PackError": 3, "repoctx.pack.packer.NoChange": 1, "repoctx.impact.ImpactError": 1,
           "repoctx.eval.tasks.EvalError": 1, "repoctx.git.GitError": 1,
           "repoctx.index.store.IndexError_": 1, "repoctx.pack.request.RequestError": 1,
           "repoctx.tokens.EncodingUnavailable": 1, "repoctx.settings.ConfigError": 1,
           "repoctx.pack.split.SplitError": 2, "repoctx.clipboard.ClipboardError": 1,
           "repoctx.remote.RemoteError": 1, "repoctx.remote.BadRemote": 2}


def _message(exc: Exception) -> str:
    """An error's one line: a system error as `FILE: reason`, never with its `[Errno N]`."""
    if isinstance(exc, OSError) and exc.strerror:
        return f"{exc.filename}: {exc.strerror}" if exc.filename else exc.strerror
    return str(exc)


def _exit_code(exc: Exception) -> int | None:
    """The exit code of an error the user can act on; None for a bug (its traceback is shown)."""
    for cls in type(exc).__mro__:
        code = _ERRORS.get(f"{cls.__module__}.{cls.__qualname__}")
        if code:
            return code
    return 1 if isinstance(exc, (NotADirectoryError, OSError)) else None


if __name__ == "__main__":
    sys.exit(main())
