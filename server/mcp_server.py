"""`repoctx mcp`: the agent server — the official MCP SDK's low-level `Server` over the same
`Workspace` the language server uses (incremental index, confinement, redaction, settings).

Each repository given is a `Workspace`, indexed in a background thread at start; a tool call waits
for its first index (reporting progress), then runs in a worker thread. Agents write files
themselves and tell nobody, so every call first `Workspace.refresh()`es: a stat of each file, and a
reload of what changed. A cancelled call is answered with nothing; its worker finishes in the
background and its answer is dropped.

Tools live in `TOOLS` (name → definition and handler, added with `@tool`): a new tool is one
decorated function. Bad arguments, unknown symbols, paths outside the repository and budgets too
small are tool errors (`isError`) the model can read and correct, never a crashed server.
`apply_edit`, the one tool that writes, runs alone on its repository and reloads it afterwards; an
edit with a refused hunk is a tool error too, carrying the per-hunk report.
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import re
import socket
import sys
import threading
from dataclasses import dataclass
from typing import Callable

import anyio
import mcp_types as types
from mcp.server.lowlevel import Server

from repoctx_server import exposure_error, listen_address, same_token
from repoctx import (REDACTION_OFF, ChangedOnDisk, ConfigError, GitError, NoChange, NoEdit, OutsideWorkspace, PackError,
                     RequestError, SplitError, Workspace, WriteFailed, Written, __version__, count_tokens, format_plan,
                     get_encoding, parse_focus, plan_edit, result_dict, shown_path, skipped_note, split_pack, write_edit)
from repoctx import change_impact as impact, fit_impact

log = logging.getLogger("repoctx.mcp")

#: How long a call waits for the first index of its repository before it fails.
WAIT_SECONDS = 600.0
#: The most tokens one answer holds unless the client says (`max_tokens`). Claude Code refuses tool
#: output above 25,000 tokens (MAX_MCP_OUTPUT_TOKENS) as Claude's tokenizer counts them, and Claude's
#: published tokenizer counts packs at 1.06-1.22x o200k (24k packs of repoctx, requests, gin and express;
#: chars per token 3.1-4.1 against o200k's 3.8-4.3). 16,000 x 1.22 = 19.5k leaves a further 28% for
#: newer Claude tokenizers (Anthropic cites up to 1.35x for its latest) and the structured content.
ANSWER_TOKENS = 16_000
#: Matches find_symbol lists, and references symbol_references shows (the rest are counted).
SYMBOLS_SHOWN = 20
REFERENCES_SHOWN = 50
_WORD = re.compile(r"[A-Za-z_$][\w$]*")


class ToolError(Exception):
    """A call that cannot be answered as asked: its message goes back to the model as a tool error
    (with `structured` content when there is a report to read, such as an edit's refused hunks)."""

    def __init__(self, message: str, structured: dict | None = None):
        super().__init__(message)
        self.structured = structured


# -- repositories --------------------------------------------------------------------------------

class _Repo:
    """One served repository: its Workspace, first-index state and progress."""

    def __init__(self, name: str, root: str):
        self.name = name
        self.ws = Workspace(root)
        self.ready = threading.Event()
        self.error: str | None = None
        self.progress = (0, 0)
        self.loading = threading.Lock()
        self.writing = threading.Lock()   # one writing tool at a time: plan, write, reload

    def load(self) -> None:
        try:
            self.ws.load(lambda done, total: setattr(self, "progress", (done, total)))
        except Exception as exc:  # a broken repository must not take the server down
            log.exception("indexing %s failed", self.ws.root)
            self.error = f"indexing {self.ws.root} failed: {exc}"
        finally:
            self.ready.set()

    def fresh(self) -> Workspace:
        """The workspace with what changed on disk since the last call loaded."""
        with self.loading:
            self.ws.refresh()
        return self.ws


def _names(roots: list[str]) -> dict[str, str]:
    """name → root: each folder's base name, or its path where two share one."""
    roots = [os.path.realpath(r) for r in roots]
    base = [os.path.basename(r) or r for r in roots]
    return {(b if base.count(b) == 1 else r): r for b, r in zip(base, roots)}


# -- tools ---------------------------------------------------------------------------------------

@dataclass
class Tool:
    definition: types.Tool
    handler: Callable[[Workspace, dict], tuple[str, dict]]
    writes: bool = False


TOOLS: dict[str, Tool] = {}


def tool(name: str, description: str, properties: dict, required: tuple[str, ...] = (), writes: bool = False):
    """Register a tool: `handler(ws, args) -> (text, structured content)`; with several repositories
    `repo` is added to every tool's parameters. A tool that `writes` files is announced as such (clients ask the user before
    calling it), runs alone on its repository, and the repository is reloaded after it."""
    def register(fn):
        schema = {"type": "object", "properties": properties, "additionalProperties": False}
        if required:
            schema["required"] = list(required)
        hints = types.ToolAnnotations(read_only_hint=not writes, destructive_hint=writes if writes else None,
                                      idempotent_hint=False if writes else None, open_world_hint=False)
        TOOLS[name] = Tool(types.Tool(name=name, description=description, input_schema=schema, annotations=hints),
                           fn, writes)
        return fn
    return register


_STR, _INT = {"type": "string"}, {"type": "integer", "minimum": 1}
_BUDGET = {"type": "integer", "minimum": 1, "description": "total tokens (default max_tokens)"}
_PAGING = {"max_tokens": {"type": "integer", "minimum": 1, "description": f"most tokens per answer (default {ANSWER_TOKENS})"},
           "part": {"type": "integer", "minimum": 1, "description": "default 1"}}


_KIND_NAMES = {str: "a string", int: "a whole number", list: "a list of strings", bool: "true or false"}


def _arg(args: dict, key: str, kind: type, default=None):
    value = args.get(key)
    if value is None:
        return default
    ok = isinstance(value, kind) and (kind is not int or not isinstance(value, bool))
    if kind is list:
        ok = ok and all(isinstance(v, str) for v in value)
    if not ok:
        raise ToolError(f"{key} must be {_KIND_NAMES[kind]}, got {value!r}"[:300])
    if kind is int and value < 1:
        raise ToolError(f"{key} must be at least 1")
    return value


def _path(ws: Workspace, path: str) -> str:
    """A repository path of a file the repository indexes, confined as the language server's are."""
    try:
        rel = ws.relpath(path)
    except OutsideWorkspace:
        raise ToolError(f"{path} is outside the repository {ws.root}") from None
    if rel not in ws.repo.files:
        reason = next((s.reason for s in ws.repo.skipped if s.path == rel), None)
        raise ToolError(f"{path}: not a file of the repository" + (f" (skipped: {reason})" if reason else ""))
    return rel


def _paging(args: dict) -> tuple[int, int]:
    """(max_tokens, part) of a call: how much one answer may hold, and which part of a larger pack."""
    return _arg(args, "max_tokens", int, ANSWER_TOKENS), _arg(args, "part", int, 1)


def _page(count: int, part: int) -> None:
    if part > count:
        raise ToolError(f"part {part} asked, but this answer has {count} part(s); ask part 1 to {count}")


def _skips(ws: Workspace) -> list[str]:
    note = skipped_note(ws.repo.skipped)
    return [note] if note else []


@tool("pack_context",
      "Code for a task, exact to a token budget: the whole repo if it fits, else a ranked map and "
      "dependency-closed slices (code, callees, callers). Past max_tokens it comes in parts: same arguments, next part.",
      {"query": {"type": "string", "description": "the task, issue text or error"},
       "paths": {"type": "array", "items": _STR, "description": "focus: 'file' or 'file:start-end'"},
       "diff": {"type": "string", "description": "pack a change: 'staged', 'worktree' or a revision"},
       "budget": _BUDGET, **_PAGING})
def pack_context(ws: Workspace, args: dict) -> tuple[str, dict]:
    limit, part = _paging(args)
    focus = []
    for text in _arg(args, "paths", list, []):
        path, sep, lines = text.partition(":")
        focus.append(parse_focus(_path(ws, path) + sep + lines, ws.root, label="paths", cwd=False))
    diff = _arg(args, "diff", str)
    budget = _arg(args, "budget", int) or min(ws.settings.budget, limit)
    request = ws.request(query=_arg(args, "query", str, ""), focus=focus, diff=diff, budget=budget, origin="")
    try:
        result = ws.pack(request)
    except NoChange as exc:  # said, not a general pack in its place
        _page(1, part)
        return str(exc), {"mode": "none", "tokens": 0, "budget": budget, "files": [],
                                     "warnings": [str(exc)] + _skips(ws)}
    if result.tokens > limit:
        try:
            pieces = split_pack(result, limit, ws.repo)
        except SplitError as exc:
            raise ToolError(str(exc).replace("--split", "max_tokens")) from None
        _page(len(pieces), part)
        result = pieces[part - 1].result
    else:
        _page(1, part)
    out = result_dict(result)
    out["warnings"] += _skips(ws)
    text = out.pop("text")
    if out.get("parts", 0) > out.get("part", 0):
        out["next_part"] = out["part"] + 1
        text += f"\n[part {out['part']} of {out['parts']}: ask part={out['part'] + 1} with the same arguments]"
    return text, out


@tool("repo_map", "Signature map of the repo, one line per definition, most central first; paged like pack_context.",
      {"budget": _BUDGET, "focus": {"type": "string", "description": "file to centre on"}, "query": _STR,
       **_PAGING})
def repo_map(ws: Workspace, args: dict) -> tuple[str, dict]:
    limit, part = _paging(args)
    focus = _arg(args, "focus", str)
    budget = ws.request(map_budget=_arg(args, "budget", int) or min(ws.settings.map_budget, limit), origin="").map_budget
    text, tokens = ws.map(budget, _path(ws, focus) if focus else None, _arg(args, "query", str, ""))
    enc = get_encoding(ws.repo.encoding)
    pages = _map_pages(text, limit, enc) if tokens > limit else [text]
    _page(len(pages), part)
    warnings = _skips(ws) + ([] if text else [f"the map is empty: a budget of {budget:,} tokens holds no line of it"])
    out = {"tokens": count_tokens(pages[part - 1], enc) if len(pages) > 1 else tokens, "budget": budget,
           "encoding": ws.repo.encoding, "warnings": warnings}
    text = pages[part - 1]
    if len(pages) > 1:
        out.update(part=part, parts=len(pages))
        if part < len(pages):
            out["next_part"] = part + 1
            text += f"\n[part {part} of {len(pages)}: ask part={part + 1} with the same arguments]"
    return text, out


@tool("change_impact", "A change's definitions, their callers (transitive, ranked, path:line) and the tests "
      "reaching them.",
      {"diff": {"type": "string", "description": "'worktree' (default), 'staged' or a revision"},
       "max_tokens": _PAGING["max_tokens"]})
def change_impact(ws: Workspace, args: dict) -> tuple[str, dict]:
    diff = _arg(args, "diff", str, "worktree")
    limit = _arg(args, "max_tokens", int, ANSWER_TOKENS)
    ws.request(diff=diff, origin="")  # the request's own check of the value
    try:
        found = impact(ws.repo, diff)
    except NoChange as exc:
        return str(exc), {"diff": diff, "changed": [], "callers": [], "tests": [], "test_files": [], "other": [],
                          "warnings": [str(exc)]}
    try:
        out = json.loads(fit_impact(found, limit, ws.repo.encoding, True))
        text = fit_impact(found, limit, ws.repo.encoding, False)
    except ValueError as exc:
        raise ToolError(str(exc).replace("the limit", "max_tokens")) from None
    out["warnings"] = [f"cut to max_tokens={limit:,}: {', '.join(f'{n:,} {k}' for k, n in out['omitted'].items())} left out"] \
        if out["omitted"] else []
    return text, out


def _map_pages(text: str, limit: int, enc) -> list[str]:
    """A map cut into pages of at most `limit` tokens each, between files where one fits (a file's
    entry starts at an unindented line), else between lines; each page counted exactly."""
    blocks: list[list[str]] = []
    for line in text.split("\n"):
        if not blocks or not line.startswith((" ", "\t")):
            blocks.append([])
        blocks[-1].append(line)
    units = [ln for b in blocks for ln in (["\n".join(b)] if count_tokens("\n".join(b), enc) <= limit else b)]
    pages: list[str] = []
    for unit in units:
        if count_tokens(unit, enc) > limit:
            raise ToolError(f"a line of the map takes more than max_tokens={limit:,}; raise max_tokens")
        joined = pages[-1] + "\n" + unit if pages else None
        if joined is not None and count_tokens(joined, enc) <= limit:
            pages[-1] = joined
        else:
            pages.append(unit)
    return pages


@tool("find_symbol", "Find definitions by name (exact, prefix, substring): path, lines, signature, doc.",
      {"name": {"type": "string", "description": "name or Class.method"},
       "kind": {"type": "string", "description": "function, class, method, …"}}, ("name",))
def find_symbol(ws: Workspace, args: dict) -> tuple[str, dict]:
    name = _arg(args, "name", str, "").strip()
    if not name:
        raise ToolError("name is required")
    kind = _arg(args, "kind", str)
    hits = ws.find_symbols(name, SYMBOLS_SHOWN, kind)
    if not hits:
        raise ToolError(f"no symbol matches {name!r}" + (f" of kind {kind!r}" if kind else ""))
    found, lines = [], []
    for sid, path, s in hits:
        signature = s.signature.strip().split("\n", 1)[0][:200]
        doc = s.doc.strip().split("\n", 1)[0][:200]
        qual = sid.split(":", 1)[1]
        found.append({"path": path, "start_line": s.start_line, "end_line": s.end_line, "kind": s.kind,
                      "name": qual, "signature": signature, "doc": doc})
        lines += [f"{shown_path(path)}:{s.start_line}-{s.end_line} {s.kind} {qual}", f"  {signature}"] + ([f"  {doc}"] if doc else [])
    return "\n".join(lines), {"matches": found}


@tool("symbol_references", "A symbol's definition and every line using it (path:line: text), by name or by "
      "path+line of a definition or use.",
      {"name": _STR, "path": _STR, "line": _INT})
def symbol_references(ws: Workspace, args: dict) -> tuple[str, dict]:
    name = (_arg(args, "name", str) or "").strip()
    path, line = _arg(args, "path", str), _arg(args, "line", int)
    others = []
    if path is not None or line is not None:
        if path is None or line is None:
            raise ToolError("give path and line together")
        rel = _path(ws, path)
        text = ws.view().packer.lines(rel)
        if line > len(text):
            raise ToolError(f"{path} has {len(text)} lines; line {line} is past its end")
        sid = None
        words = [name] if name else _WORD.findall(text[line - 1])
        for word in words:
            col = text[line - 1].find(word)
            sid = ws.symbol_at(rel, line, col) if col >= 0 else None
            if sid:
                break
        if not sid:
            raise ToolError(f"no known symbol {'named ' + repr(name) + ' ' if name else ''}at {rel}:{line}")
    elif name:
        # exact names only: neither substrings nor letters in order (a needless scan of every name)
        hits = [h for h in ws.find_symbols(name, 50, fuzzy=0) if h[2].name == name.rpartition(".")[2]]
        if not hits:
            raise ToolError(f"unknown symbol {name!r}")
        sid = hits[0][0]
        others = [f"{shown_path(p)}:{s.start_line}" for _, p, s in hits[1:]]
    else:
        raise ToolError("give name, or path and line")
    g = ws.repo.graph
    dpath, d = g.symbols[sid]
    refs = [loc for loc in ws.references_of(sid, include_declaration=False)]
    shown = refs[:REFERENCES_SHOWN]
    signature = ws.view().packer.snippet(dpath, d.signature).strip().split("\n", 1)[0][:200]
    out = [f"definition {shown_path(dpath)}:{d.start_line}-{d.end_line}: {signature}"]
    items = []
    for loc in shown:
        text = ws.view().packer.lines(loc.path)[loc.start_line - 1].strip()[:200]
        items.append({"path": loc.path, "line": loc.start_line, "text": text})
        out.append(f"{shown_path(loc.path)}:{loc.start_line}: {text}")
    if not refs:
        out.append("no references found")
    if len(refs) > len(shown):
        rest = refs[len(shown):]
        out.append(f"… and {len(rest)} more in {len({r.path for r in rest})} files")
    if others:
        out.append(f"other definitions of {d.name}: {', '.join(others[:10])} (pass path+line to pick one)")
    return "\n".join(out), {"definition": {"path": dpath, "start_line": d.start_line, "end_line": d.end_line,
                                           "signature": signature},
                            "references": items, "total": len(refs)}


@tool("apply_edit",
      "Apply an edit (unified diff, SEARCH/REPLACE or *** Begin Patch; prose ignored), all or nothing. Hunks are "
      "placed by content despite wrong line numbers, indentation or trimmed context, never guessed. Per hunk: "
      "line and relaxation, or why refused and the closest lines.",
      {"text": {"type": "string", "description": "the edit"},
       "dry_run": {"type": "boolean", "description": "check only, write nothing"}},
      ("text",), writes=True)
def apply_edit(ws: Workspace, args: dict) -> tuple[str, dict]:
    text = _arg(args, "text", str)
    if not text or not text.strip():
        raise ToolError("text is required: a unified diff, SEARCH/REPLACE blocks or a *** Begin Patch envelope")
    dry_run = _arg(args, "dry_run", bool, False)
    try:
        p = plan_edit(text, ws.root)
    except NoEdit as exc:
        raise ToolError(str(exc)) from None
    # plan_edit quotes file lines (refusals' closest lines) only through the one Redactor, and never
    # from a file packs leave out
    written, error = Written(), None
    if p.ok and not dry_run:
        try:
            written = write_edit(p)
        except ChangedOnDisk as exc:
            error = f"{exc}; send the edit again to place it against the files as they are now"
        except WriteFailed as exc:   # a full disk midway: what was written before it is restored
            error, written = str(exc), exc.left
    report = format_plan(p, written, check=dry_run).rstrip("\n")
    out = {**p.as_dict(), "dry_run": dry_run, **written.as_dict(), "error": error}
    if dry_run:
        out["would"] = p.changes().as_dict()
    if error:
        raise ToolError(f"{report}\nrepoctx: {error}", out)
    if not p.ok:
        raise ToolError(f"{report}\nNothing was written: fix the refused hunks and send the whole edit again.", out)
    return report, out


# -- the server ----------------------------------------------------------------------------------

def build_server(roots: list[str]) -> tuple[Server, dict[str, _Repo]]:
    """The MCP server for these repositories (indexing starts now, in the background)."""
    repos = {name: _Repo(name, root) for name, root in _names(roots).items()}
    for r in repos.values():
        threading.Thread(target=r.load, daemon=True, name=f"index {r.name}").start()
    names = list(repos)
    # `repo` only where there is a choice (one repository: every call is about it, a `repo` naming it is
    # still accepted): each tool's definition is sent to the model on every turn
    repo_param = {"type": "string", "enum": names, "description": f"default {names[0]}"}
    definitions = []
    for t in TOOLS.values():
        d = t.definition.model_copy(deep=True)
        if len(names) > 1:
            d.input_schema["properties"]["repo"] = repo_param
        definitions.append(d)

    async def list_tools(ctx, params) -> types.ListToolsResult:
        return types.ListToolsResult(tools=definitions)

    async def call_tool(ctx, params: types.CallToolRequestParams) -> types.CallToolResult:
        entry = TOOLS.get(params.name)
        if entry is None:
            return _error(f"unknown tool {params.name!r}; tools: {', '.join(TOOLS)}")
        args = dict(params.arguments or {})
        try:
            allowed = set(entry.definition.input_schema["properties"]) | {"repo"}
            unknown = sorted(set(args) - allowed)
            if unknown:
                raise ToolError(f"unknown argument(s) {', '.join(unknown)}; {params.name} takes {', '.join(sorted(allowed))}")
            name = _arg(args, "repo", str, names[0])
            if name not in repos:
                raise ToolError(f"unknown repo {name!r}; served: {', '.join(names)}")
            repo = repos[name]
            await _wait(ctx, repo)
            await ctx.session.report_progress(0, None, f"{params.name} on {name}")

            def work():
                if not entry.writes or args.get("dry_run") is True:   # a check writes nothing: no lock
                    return entry.handler(repo.fresh(), args)
                with repo.writing:
                    try:
                        return entry.handler(repo.fresh(), args)
                    finally:
                        repo.fresh()   # what was written is in the index for the next call

            text, structured = await anyio.to_thread.run_sync(work, abandon_on_cancel=True)
        except ToolError as exc:
            return _error(str(exc), exc.structured)
        except (PackError, GitError, ConfigError, RequestError, OutsideWorkspace) as exc:
            return _error(str(exc))
        except anyio.get_cancelled_exc_class():
            raise
        except Exception as exc:  # a bug answers this call with an error; the server keeps serving
            log.exception("%s failed", params.name)
            return _error(f"internal error in {params.name}: {type(exc).__name__}: {exc}")
        if not repo.ws.settings.redact and isinstance(structured, dict):  # every answer made without redaction says so
            said = structured.setdefault("warnings", [])
            if REDACTION_OFF not in said:
                said.append(REDACTION_OFF)
        return types.CallToolResult(content=[types.TextContent(type="text", text=text)],
                                    structured_content=structured)

    server = Server("repoctx", version=__version__, on_list_tools=list_tools, on_call_tool=call_tool,
                    instructions="repoctx: code context for this repository. Prefer pack_context over reading "
                                 "many files; find_symbol and symbol_references to navigate; apply_edit to apply a diff.")
    return server, repos


def _error(message: str, structured: dict | None = None) -> types.CallToolResult:
    return types.CallToolResult(content=[types.TextContent(type="text", text=message)], structured_content=structured,
                                is_error=True)


async def _wait(ctx, repo: _Repo) -> None:
    """Wait for the repository's first index, reporting its progress."""
    waited = 0.0
    while not repo.ready.is_set():
        if waited >= WAIT_SECONDS:
            raise ToolError(f"still indexing {repo.ws.root}; try again shortly")
        done, total = repo.progress
        await ctx.session.report_progress(done, total or None, f"indexing {repo.name}")
        await anyio.sleep(0.25)
        waited += 0.25
    if repo.error:
        raise ToolError(repo.error)


# -- transports ----------------------------------------------------------------------------------

async def serve_stdio(server: Server) -> None:
    from mcp.server.stdio import stdio_server
    async with stdio_server() as (read, write):
        await server.run(read, write, server.create_initialization_options())


class _StaticToken:
    """The one bearer token given with --token (compared in constant time)."""

    def __init__(self, token: str):
        self.token = token

    async def verify_token(self, token: str):
        from mcp.server.auth.provider import AccessToken
        if same_token(token, self.token):
            return AccessToken(token=token, client_id="repoctx", scopes=[])
        return None


def http_app(server: Server, host: str, port: int, token: str | None, allow_hosts: list[str] = ()):
    """The Streamable HTTP app at /mcp: Host/Origin (DNS-rebinding) checks always on, for loopback,
    the bound host and any --allow-host; a bearer token required when one is given."""
    from mcp.server.auth.settings import AuthSettings
    from mcp.server.transport_security import TransportSecuritySettings
    names = {"127.0.0.1", "localhost", "[::1]"} | set(allow_hosts)
    if host not in ("0.0.0.0", "::"):
        names.add(f"[{host}]" if ":" in host else host)
    security = TransportSecuritySettings(
        enable_dns_rebinding_protection=True, allowed_hosts=sorted(f"{n}:*" for n in names),
        allowed_origins=sorted(f"{s}://{n}:*" for n in names for s in ("http", "https")))
    auth = {}
    if token:
        auth = {"token_verifier": _StaticToken(token),
                "auth": AuthSettings(issuer_url=f"http://127.0.0.1:{port}", resource_server_url=None)}
    return server.streamable_http_app(host=host, transport_security=security, **auth)


def serve_http(server: Server, host: str, port: int, token: str | None, allow_hosts: list[str] = ()) -> None:
    import uvicorn
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(128)  # connections queue from now on, so the address printed below is ready
    port = sock.getsockname()[1]
    shown = f"[{host}]" if ":" in host else host
    print(f"repoctx mcp: serving http://{shown}:{port}/mcp" + (" (bearer token required)" if token else ""),
          file=sys.stderr, flush=True)
    app = http_app(server, host, port, token, allow_hosts)
    uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on")).run(sockets=[sock])


def build_parser() -> argparse.ArgumentParser:
    """`repoctx mcp`'s flags (the README's command table lists them: tests/test_help.py)."""
    ap = argparse.ArgumentParser(prog="repoctx mcp", description="run the repoctx MCP server for coding agents")
    ap.add_argument("paths", nargs="*", default=["."], metavar="PATH", help="repositories (or folders inside one, narrowed to them) to serve (default: .)")
    ap.add_argument("--http", metavar="[HOST:]PORT", type=listen_address, help="serve Streamable HTTP at /mcp instead of stdio "
                                                         "(host 127.0.0.1 unless given)")
    ap.add_argument("--token", default=os.environ.get("REPOCTX_MCP_TOKEN"),
                    help="bearer token HTTP clients must send (default $REPOCTX_MCP_TOKEN); required off loopback")
    ap.add_argument("--allow-host", action="append", default=[], metavar="NAME",
                    help="another Host/Origin name clients reach the server by (DNS-rebinding check)")
    ap.add_argument("--log", metavar="FILE", help="write a debug log to FILE")
    return ap


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(filename=args.log, level=logging.DEBUG if args.log else logging.WARNING)
    for p in args.paths:
        if not os.path.isdir(p):
            print(f"repoctx: error: not a folder: {os.path.abspath(p)}", file=sys.stderr)
            return 1
    if args.http:
        host, port = args.http
        problem = exposure_error("--http", host, port, args.token, "REPOCTX_MCP_TOKEN",
                                 "clients send 'Authorization: Bearer TOKEN'")
        if problem:
            print(problem, file=sys.stderr)
            return 2
        server, _ = build_server(args.paths)
        serve_http(server, host, port, args.token, args.allow_host)
        return 0
    server, _ = build_server(args.paths)
    anyio.run(serve_stdio, server)
    return 0
