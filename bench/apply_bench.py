"""How often an applier puts a model-style patch in the right place, in the wrong place, or refuses it.

    nice -n 10 .venv/bin/python bench/apply_bench.py /tmp/bench-repos/requests /tmp/bench-repos/gin \
        /tmp/bench-repos/express --hunks 300 --file-ops 60 [--aider /tmp/aider-venv/bin/python] [--json out.json]
    nice -n 10 .venv/bin/python bench/apply_bench.py --refusal-cost x   # ms to refuse on a 40,000-line file

From real commits (modified text files, newest first) it takes each file change (parent -> child),
makes the patches a model would write, applies each to the parent text and compares the result with
the child: correct (equal), wrong (applied, differs), refused. Perturbations: exact; line numbers off
by 1-50; line numbers missing; 1-3 context lines dropped; 1-3 context lines invented; indentation and
trailing whitespace drifted; CRLF file; `...` elision inside a hunk; the target edited elsewhere
since; `@@` counts wrong or missing (miscounted); zero-context hunks as `git diff -U0` writes them
(u0; `git apply` gets `--unidiff-zero` there); the edit fenced inside a model's prose (a fence
indented in a list item, bullets around it; the other tools get the fence's content, as a person
would copy it). File operations, as `git diff -M` writes them: delete, delete_stale (the file is not
what the patch deletes: must be refused), rename, rename_edit, rename_onto (onto an existing file:
must be refused), symlink_delete (the link goes, its target stays), mode, mode_edit; the whole tree
is compared. Formats: unified diff, SEARCH/REPLACE, apply_patch. Appliers: repoctx, `git apply`,
`git apply --recount -C1`, GNU `patch --fuzz=3` (unified diffs only), and Aider's own functions
(`editblock_coder.do_replace` for SEARCH/REPLACE, `udiff_coder.do_replace` per hunk for unified
diffs) run in a separate interpreter when `--aider` names one.
"""
from __future__ import annotations

import argparse
import difflib
import json
import os
import random
import subprocess
import sys
import tempfile
from collections import defaultdict

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from repoctx import git  # noqa: E402
from repoctx.apply.apply import plan, write  # noqa: E402
from repoctx.apply.parse import NoEdit  # noqa: E402

TEXT_EXT = (".py", ".go", ".js", ".md", ".txt", ".json", ".yml", ".yaml", ".rst", ".cfg", ".toml", ".ts", ".html", ".css")
PERTURBATIONS = ("exact", "lines_off", "no_numbers", "ctx_dropped", "ctx_invented", "indent_drift",
                 "crlf", "elision", "edited_since", "miscounted", "u0", "fenced_prose")
NUMBERED = {"lines_off", "no_numbers", "miscounted", "u0"}   # only a unified diff states line numbers
FILE_OPS = ("delete", "delete_stale", "rename", "rename_edit", "rename_onto", "symlink_delete", "mode", "mode_edit")


def mine(repo: str, want_hunks: int, max_size: int = 150_000):
    """(path, parent text, child text) of modified files, newest commits first, until want_hunks."""
    out, hunks = [], 0
    log = git.run(repo, "log", "--no-merges", "--format=%H", "-n", "3000").split()
    for sha in log:
        try:
            names = git.run(repo, "diff-tree", "--no-commit-id", "-r", "--name-status", f"{sha}^", sha).splitlines()
        except git.GitError:
            continue
        for row in names:
            st, _, path = row.partition("\t")
            if st != "M" or not path.endswith(TEXT_EXT):
                continue
            try:
                a = git.run(repo, "show", f"{sha}^:{path}")
                b = git.run(repo, "show", f"{sha}:{path}")
            except (git.GitError, UnicodeDecodeError):
                continue
            if len(a) > max_size or "\r" in a or "\r" in b or a == b or "\0" in a:
                continue
            n = len(_hunks(a.split("\n"), b.split("\n"), 3))
            if not 1 <= n <= 6:
                continue
            out.append((os.path.basename(repo), sha[:10], path, a, b))
            hunks += n
            if hunks >= want_hunks:
                return out, hunks
    return out, hunks


def _hunks(a: list[str], b: list[str], ctx: int):
    """Hunks as (old_start0, [(tag, line)]) with tag in ' -+'."""
    res = []
    for group in difflib.SequenceMatcher(None, a, b, autojunk=False).get_grouped_opcodes(ctx):
        body = []
        for tag, i1, i2, j1, j2 in group:
            if tag == "equal":
                body += [(" ", x) for x in a[i1:i2]]
            else:
                body += [("-", x) for x in a[i1:i2]] + [("+", x) for x in b[j1:j2]]
        res.append((group[0][1], body))
    return res


def _lines(text: str) -> tuple[list[str], bool]:
    ls = text.split("\n")
    if ls[-1] == "":
        return ls[:-1], True
    return ls, False


def perturb(kind: str, a: str, b: str, rng: random.Random):
    """(parent text, expected text, hunks, numbers) for one perturbation."""
    al, _ = _lines(a)
    bl, _ = _lines(b)
    if kind == "edited_since":
        sm = difflib.SequenceMatcher(None, al, bl, autojunk=False)
        blocks = [blk for blk in sm.get_matching_blocks() if blk.size >= 14]
        if not blocks:
            return None
        blk = rng.choice(blocks)
        off = blk.size // 2
        extra = ["# edited since the model saw it", "x_since = 1"]
        a2 = al[:blk.a + off] + extra + al[blk.a + off:]
        b2 = bl[:blk.b + off] + extra + bl[blk.b + off:]
        hunks = _hunks(al, bl, 3)      # the patch was written against the old text
        return "\n".join(a2) + "\n", "\n".join(b2) + "\n", hunks, "lines"
    ctx = 8 if kind == "elision" else 0 if kind == "u0" else 3
    hunks = _hunks(al, bl, ctx)
    numbers = "git" if kind == "u0" else "lines"
    if kind == "miscounted":
        numbers = rng.choice(["one", "none", "off"])     # `-s,1 +s,1`, `-s +s`, counts off by 1-3
    if kind == "lines_off":
        hunks = [(max(0, s + rng.choice([-1, 1]) * rng.randint(1, 50)), body) for s, body in hunks]
    elif kind == "no_numbers":
        numbers = None
    elif kind in ("ctx_dropped", "ctx_invented"):
        new = []
        for s, body in hunks:
            k = rng.randint(1, 3)
            if kind == "ctx_dropped":
                lead = 0
                while lead < len(body) and body[lead][0] == " ":
                    lead += 1
                d = min(k, lead)
                body = body[d:]
                s += d
                trail = 0
                while trail < len(body) and body[-1 - trail][0] == " ":
                    trail += 1
                body = body[:len(body) - min(k, trail)] if min(k, trail) else body
            else:
                inv = [(" ", f"    # context the model invented {j}") for j in range(k)]
                if rng.random() < 0.5:
                    body = inv + body
                    s -= 0
                else:
                    body = body + inv
            new.append((s, body))
        hunks = new
    elif kind == "indent_drift":
        shift = rng.choice(["  ", "\t", "DROP"])
        deep = all(x.startswith("    ") for _s, body in hunks for _t, x in body if x.strip())
        shift = "  " if shift == "DROP" and not deep else shift

        def drift(x):
            if not x.strip():
                return x
            if shift == "DROP":
                y = x[4:]
            else:
                y = shift + x
            return y + (" " if rng.random() < 0.3 else "")
        hunks = [(s, [(t, drift(x)) for t, x in body]) for s, body in hunks]
    elif kind == "elision":
        new = []
        for s, body in hunks:
            lead = 0
            while lead < len(body) and body[lead][0] == " ":
                lead += 1
            if lead >= 6:
                indent = body[lead - 1][1][:len(body[lead - 1][1]) - len(body[lead - 1][1].lstrip())]
                body = body[:1] + [(" ", indent + "...")] + body[lead - 2:]
            new.append((s, body))
        hunks = new
        if all(len([1 for t, _ in b_ if t == " " and _.strip().endswith("...")]) == 0 for _s, b_ in hunks):
            return None
    if kind == "crlf":
        return a.replace("\n", "\r\n"), b.replace("\n", "\r\n"), hunks, numbers
    return a, b, hunks, numbers


def _unique(parent: list[str], old: list[str]) -> bool:
    n = len(old)
    return sum(parent[i:i + n] == old for i in range(len(parent) - n + 1)) <= 1


def _anchor(parent: list[str], s: int) -> str | None:
    """The nearest line above `s` at column 0 that is unique in the file (apply_patch's `@@ def f`)."""
    for j in range(min(s, len(parent)) - 1, -1, -1):
        ln = parent[j]
        if ln.strip() and not ln[0].isspace() and len(ln.strip()) > 3 and parent.count(ln) == 1:
            return ln.strip()
    return None


def render(fmt: str, path: str, hunks, numbers, parent: list[str] | None = None) -> str:
    """The patch text. As each format's instructions tell a model: SEARCH text is grown by context
    until it is unique in the file; an apply_patch hunk whose text is not unique gets a `@@ line`
    anchor (the nearest unique top-level line above it)."""
    if fmt == "udiff":
        out = [f"--- a/{path}", f"+++ b/{path}"]
        shift = 0
        for s, body in hunks:
            no = sum(t != "+" for t, _ in body)
            nn = sum(t != "-" for t, _ in body)
            if numbers == "git":            # as git writes it: `-N,0` is after line N; ",1" left out
                def rng_(start, n):
                    return f"{start + 1 if n else start}" + ("" if n == 1 else f",{n}")
                out.append(f"@@ -{rng_(s, no)} +{rng_(s + shift, nn)} @@")
            elif numbers == "one":
                out.append(f"@@ -{s + 1},1 +{s + 1},1 @@")
            elif numbers == "none":
                out.append(f"@@ -{s + 1} +{s + 1} @@")
            elif numbers == "off":
                d = 1 + (s + no) % 3
                out.append(f"@@ -{s + 1},{max(1, no - d)} +{s + 1},{nn + d} @@")
            else:   # an empty side starts at the line before it (after line N), as diff and git write it
                out.append(f"@@ -{s + 1 if no else s},{no} +{s + 1 if nn else s},{nn} @@" if numbers else "@@ ... @@")
            shift += nn - no
            out += [t + x for t, x in body]
        return "Here is the change:\n\n```diff\n" + "\n".join(out) + "\n```\n"
    if fmt == "search-replace":
        out = []
        for s, body in hunks:
            if parent is not None:
                a, b = s, s + sum(t != "+" for t, _ in body)
                while not _unique(parent, [x for t, x in body if t != "+"]) and (a > 0 or b < len(parent)) and b - a < 40:
                    if a > 0:
                        a -= 1
                        body = [(" ", parent[a])] + body
                    if b < len(parent):
                        body = body + [(" ", parent[b])]
                        b += 1
            out += [path, "```", "<<<<<<< SEARCH", *[x for t, x in body if t != "+"], "=======",
                    *[x for t, x in body if t != "-"], ">>>>>>> REPLACE", "```", ""]
        return "I will make these edits:\n\n" + "\n".join(out)
    out = ["*** Begin Patch", f"*** Update File: {path}"]
    for s, body in hunks:
        anchor = None
        if parent is not None and not _unique(parent, [x for t, x in body if t != "+"]):
            anchor = _anchor(parent, s)
        out.append(f"@@ {anchor}" if anchor else "@@")
        out += [t + x for t, x in body]
    return "\n".join(out + ["*** End Patch"]) + "\n"


PROSE_BEFORE = ["I read the code. Two things:\n- the loop ran once too often\n+ and the guard was missing\n\n",
                "Here is what I would change.\n\n```python\nx = compute()  # for context\n```\n\n"]
PROSE_AFTER = ["\n- Let me know if the tests pass.\n- I did not touch anything else.\n", "\nThat's all.\n"]


def in_prose(fmt: str, patch: str, rng: random.Random) -> str:
    """The patch inside a model's prose: half the time in a list item, its fences indented."""
    if fmt == "udiff":
        core = "```diff\n" + patch.split("```diff\n", 1)[-1].rsplit("```", 1)[0] + "```\n"
    elif fmt == "apply_patch":
        core = "```\n" + patch + "```\n"
    else:
        core = patch                        # SEARCH/REPLACE blocks come in their own fences
    if rng.random() < 0.5:
        core = "1. Make this change:\n" + "".join("   " + x + "\n" if x else "\n" for x in core.rstrip("\n").split("\n")) \
            + "2. Run the tests.\n"
    return rng.choice(PROSE_BEFORE) + core + rng.choice(PROSE_AFTER)


def fenced_body(patch: str) -> str:
    """What a person copies out of the answer for `git apply` or `patch`: the fence's content."""
    lines = patch.split("\n")
    for i, ln in enumerate(lines):
        if ln.strip().startswith("```diff"):
            ind = ln[:len(ln) - len(ln.lstrip())]
            out = []
            for x in lines[i + 1:]:
                if x.strip().startswith("```"):
                    break
                out.append(x[len(ind):] if x.startswith(ind) else x)
            return "\n".join(out) + "\n"
    return patch


def _planned(patch: str, root: str):
    """repoctx's plan of `patch` in `root`, or None when it refuses (or reads no edit)."""
    try:
        p = plan(patch, root)
    except NoEdit:
        return None
    return p if p.ok else None


def run_repoctx(path, a, patch):
    with tempfile.TemporaryDirectory() as d:
        full = os.path.join(d, path)
        os.makedirs(os.path.dirname(full), exist_ok=True)
        with open(full, "w", newline="") as f:
            f.write(a)
        p = _planned(patch, d)
        return None if p is None else next((f.new_text for f in p.files if f.path == path), a)


def run_tool(cmd, path, a, patch):
    with tempfile.TemporaryDirectory() as d:
        full = os.path.join(d, path)
        os.makedirs(os.path.dirname(full), exist_ok=True)
        with open(full, "w", newline="") as f:
            f.write(a)
        body = fenced_body(patch)
        if cmd[0] == "git":
            subprocess.run(["git", "init", "-q"], cwd=d)
            cmd = cmd + ["--unidiff-zero"] if KIND == "u0" else cmd     # how git is told about -U0 hunks
        r = subprocess.run(cmd, cwd=d, input=body.encode(), capture_output=True)
        if r.returncode != 0:
            return None
        with open(full, newline="") as f:
            return f.read()


KIND = None   # the perturbation being run (run_tool passes --unidiff-zero to git for u0)


# -- file operations ---------------------------------------------------------------------------------

def _make(d: str, tree: dict) -> None:
    for rel, v in tree.items():
        full = os.path.join(d, rel)
        os.makedirs(os.path.dirname(full), exist_ok=True)
        if v[0] == "link":
            os.symlink(v[1], full)
        else:
            with open(full, "wb") as f:
                f.write(v[1])
            os.chmod(full, 0o755 if v[2] else 0o644)


def _tree(d: str) -> dict:
    out = {}
    for base, dirs, files in os.walk(d):
        dirs[:] = [x for x in dirs if x != ".git"]
        for name in files + [x for x in dirs if os.path.islink(os.path.join(base, x))]:
            full = os.path.join(base, name)
            rel = os.path.relpath(full, d)
            if os.path.islink(full):
                out[rel] = ("link", os.readlink(full))
            else:
                with open(full, "rb") as f:
                    out[rel] = ("file", f.read(), bool(os.stat(full).st_mode & 0o100))
    return out


def _git_patch(start: dict, end: dict) -> str:
    """The patch `git diff -M` writes from one tree to the other."""
    with tempfile.TemporaryDirectory() as d:
        env = {**os.environ, "GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1"}
        run = lambda *a: subprocess.run(["git", "-c", "user.name=b", "-c", "user.email=b@b", *a], cwd=d, env=env,
                                        capture_output=True, check=True).stdout.decode()
        run("init", "-q")
        _make(d, start)
        run("add", "-A")
        run("commit", "-qm", "start")
        for rel in start:
            os.unlink(os.path.join(d, rel))
        _make(d, end)
        run("add", "-A")
        return run("diff", "--cached", "-M", "HEAD")


def file_op(op: str, path: str, a: str, b: str):
    """(tree before, patch, tree expected after — None when the patch must be refused)."""
    A, B = ("file", a.encode(), False), ("file", b.encode(), False)
    head, tail = os.path.split(path)
    moved = os.path.join(head, "moved_" + tail)
    if op == "delete":
        return {path: A}, _git_patch({path: A}, {}), {}
    if op == "delete_stale":                        # the patch deletes b; the file holds a
        return {path: A}, _git_patch({path: B}, {}), None
    if op == "rename":
        return {path: A}, _git_patch({path: A}, {moved: A}), {moved: A}
    if op == "rename_edit":
        return {path: A}, _git_patch({path: A}, {moved: B}), {moved: B}
    if op == "rename_onto":                         # a file is where the rename goes
        return {path: A, moved: ("file", b"other\n", False)}, _git_patch({path: A}, {moved: A}), None
    if op == "symlink_delete":
        link = ("link", os.path.relpath(path, head or "."))
        before = {path: A, os.path.join(head, "link_" + tail): link}
        return before, _git_patch(before, {path: A}), {path: A}
    if op == "mode":
        return {path: A}, _git_patch({path: A}, {path: ("file", a.encode(), True)}), {path: ("file", a.encode(), True)}
    if op == "mode_edit":
        return {path: A}, _git_patch({path: A}, {path: ("file", b.encode(), True)}), {path: ("file", b.encode(), True)}
    raise ValueError(op)


def run_tree(name: str, before: dict, patch: str):
    """The tree after `name` applied `patch` to `before`, or None when it refused."""
    with tempfile.TemporaryDirectory() as d:
        subprocess.run(["git", "init", "-q"], cwd=d)
        _make(d, before)
        if name == "repoctx":
            p = _planned(patch, d)
            if p is None:
                return None
            write(p)
        else:
            cmd = {"git apply": ["git", "apply"], "git apply --recount -C1": ["git", "apply", "--recount", "-C1"],
                   "patch --fuzz=3": ["patch", "-p1", "--fuzz=3", "-s", "--no-backup-if-mismatch", "-r", "-"]}[name]
            if subprocess.run(cmd, cwd=d, input=patch.encode(), capture_output=True).returncode != 0:
                return None
        return _tree(d)


AIDER_SHIM = r'''
import json, sys
from aider.coders.editblock_coder import do_replace as sr_replace, find_original_update_blocks
from aider.coders.udiff_coder import do_replace as ud_replace, find_diffs
import tempfile, os
for line in sys.stdin:
    job = json.loads(line)
    try:
        text = job["a"]
        if job["fmt"] == "search-replace":
            blocks = list(find_original_update_blocks(job["patch"]))
            for b in blocks:
                if len(b) != 3 or b[0] is None: raise ValueError("no block")
                new = sr_replace(job["path"], text, b[1], b[2], ("```", "```"))
                if new is None: raise ValueError("refused")
                text = new
        else:
            edits = find_diffs(job["patch"])
            if not edits: raise ValueError("no diff")
            for _p, hunk in edits:
                new = ud_replace(job["path"], text, hunk)
                if new is None: raise ValueError("refused")
                text = new
        print(json.dumps({"out": text}), flush=True)
    except Exception as e:
        print(json.dumps({"out": None, "err": repr(e)[:200]}), flush=True)
'''


class Aider:
    def __init__(self, python):
        self.proc = subprocess.Popen([python, "-c", AIDER_SHIM], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     text=True, cwd=tempfile.mkdtemp(prefix="aider-shim-"))

    def __call__(self, fmt, path, a, patch):
        self.proc.stdin.write(json.dumps({"fmt": fmt, "path": path, "a": a, "patch": patch}) + "\n")
        self.proc.stdin.flush()
        return json.loads(self.proc.stdout.readline())["out"]


def refusal_cost(lines_n: int = 40_000, hunk_n: int = 150, runs: int = 5) -> None:
    """ms to refuse a near-miss hunk (one line in ten altered) in a file of alike functions, and
    whether the quoted closest place is the right one."""
    import time
    from repoctx.apply.match import place_file
    from repoctx.apply.parse import parse
    lines = []
    for i in range(lines_n // 20):
        lines += [f"def handler_{i}(request, ctx):", f"    value = request.get('k{i}')", "    if value is None:",
                  "        return None", f"    ctx.count += {i % 13}", "    items = []", "    for item in value:",
                  "        items.append(item.strip())", "    result = compute(items)", f"    log('handler {i}')",
                  "    if result:", "        ctx.ok += 1", "    else:", "        ctx.bad += 1",
                  f"    ctx.last = {i}", "    return result", "", "", "# ---", ""]
    for start in (lines_n * 3 // 4, 100):
        old = [x + "  # tweaked" if j % 10 == 0 else x for j, x in enumerate(lines[start:start + hunk_n])]
        hunks = parse("--- a/big.py\n+++ b/big.py\n@@ -1 +1 @@\n" + "".join(f" {x}\n" for x in old[:-1])
                      + f"-{old[-1]}\n+changed\n")[0].hunks
        times, cpu = [], []
        for _ in range(runs):
            t, c = time.perf_counter(), time.process_time()
            got = place_file("big.py", lines, hunks)[1][0]
            times.append((time.perf_counter() - t) * 1000)
            cpu.append((time.process_time() - c) * 1000)
        print(f"refusal of a {hunk_n}-line near miss at line {start + 1} of {len(lines)}: median {sorted(times)[runs // 2]:.1f} "
              f"ms wall, {sorted(cpu)[runs // 2]:.1f} ms CPU (max {max(times):.1f} ms wall); closest quoted: line "
              f"{got.candidates[0]['line'] if got.candidates else None}")


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("repos", nargs="+")
    ap.add_argument("--hunks", type=int, default=300, help="hunks to mine in all (split over the repositories)")
    ap.add_argument("--aider", default=None, help="python of a venv with aider-chat installed")
    ap.add_argument("--json", default=None)
    ap.add_argument("--seed", type=int, default=15)
    ap.add_argument("--file-ops", type=int, default=40, help="file changes to turn into file operations")
    ap.add_argument("--refusal-cost", action="store_true", help="only time refusals on a 40,000-line file")
    args = ap.parse_args(argv)
    if args.refusal_cost:
        return refusal_cost()
    cases, total = [], 0
    for r in args.repos:
        c, n = mine(r, args.hunks // len(args.repos))
        cases += c
        total += n
    print(f"{len(cases)} file changes, {total} hunks from {len(args.repos)} repositories", file=sys.stderr)
    aider = Aider(args.aider) if args.aider else None
    appliers = {
        "repoctx": (("udiff", "search-replace", "apply_patch"), lambda fmt, p, a, x: run_repoctx(p, a, x)),
        "git apply": (("udiff",), lambda fmt, p, a, x: run_tool(["git", "apply"], p, a, x)),
        "git apply --recount -C1": (("udiff",), lambda fmt, p, a, x: run_tool(["git", "apply", "--recount", "-C1"], p, a, x)),
        "patch --fuzz=3": (("udiff",), lambda fmt, p, a, x: run_tool(["patch", "-p1", "--fuzz=3", "-s", "--no-backup-if-mismatch", "-r", "-"], p, a, x)),
    }
    if aider:
        appliers["aider"] = (("udiff", "search-replace"), aider)
    table = defaultdict(lambda: [0, 0, 0])   # (applier, perturbation, format) -> correct, wrong, refused
    wrong_examples = defaultdict(list)
    global KIND
    for k, (repo, sha, path, a, b) in enumerate(cases):
        rng = random.Random(f"{args.seed}:{sha}:{path}")
        for kind in PERTURBATIONS:
            KIND = kind
            got = perturb(kind, a, b, random.Random(rng.random()))
            if got is None:
                continue
            pa, pb, hunks, numbers = got
            for fmt in ("udiff", "search-replace", "apply_patch"):
                if kind in NUMBERED and fmt != "udiff":
                    continue
                patch = render(fmt, path, hunks, numbers, a.split("\n"))
                if kind == "fenced_prose":
                    patch = in_prose(fmt, patch, random.Random(f"{sha}:{path}:{fmt}"))
                for name, (fmts, fn) in appliers.items():
                    if fmt not in fmts:
                        continue
                    try:
                        out = fn(fmt, path, pa, patch)
                    except Exception:
                        out = None
                    cell = table[(name, kind, fmt)]
                    if out is None:
                        cell[2] += 1
                    elif out == pb:
                        cell[0] += 1
                    else:
                        cell[1] += 1
                        if len(wrong_examples[(name, kind, fmt)]) < 3:
                            wrong_examples[(name, kind, fmt)].append(f"{repo} {sha} {path}")
        print(f"\r{k + 1}/{len(cases)}", end="", file=sys.stderr)
    print(file=sys.stderr)
    for repo, sha, path, a, b in cases[:args.file_ops]:
        for op in FILE_OPS:
            before, patch, want = file_op(op, path, a, b)
            for name in ("repoctx", "git apply", "git apply --recount -C1", "patch --fuzz=3"):
                try:
                    out = run_tree(name, before, patch)
                except Exception:
                    out = None
                cell = table[(name, op, "udiff")]
                if out is None:
                    cell[0 if want is None else 2] += 1
                elif out == want:
                    cell[0] += 1
                else:
                    cell[1] += 1
                    if len(wrong_examples[(name, op, "udiff")]) < 3:
                        wrong_examples[(name, op, "udiff")].append(f"{repo} {sha} {path}")
    rows = []
    print("| applier | perturbation | format | cases | correct | wrong | refused |")
    print("|---|---|---|---|---|---|---|")
    for (name, kind, fmt), (c, w, r) in sorted(table.items(), key=lambda kv: (list(appliers).index(kv[0][0]), (PERTURBATIONS + FILE_OPS).index(kv[0][1]), kv[0][2])):
        n = c + w + r
        rows.append({"applier": name, "perturbation": kind, "format": fmt, "correct": c, "wrong": w, "refused": r})
        print(f"| {name} | {kind} | {fmt} | {n} | {c / n:.1%} | {w / n:.1%} | {r / n:.1%} |")
    print("\n| applier | format | cases | correct | wrong | refused |\n|---|---|---|---|---|---|")
    for name, (fmts, _) in appliers.items():
        for fmt in fmts + ("all",):
            c = w = r = 0
            for (nm, kind, f), (c1, w1, r1) in table.items():
                if nm == name and (f == fmt or fmt == "all"):
                    c += c1; w += w1; r += r1
            n = c + w + r
            if n:
                print(f"| {name} | {fmt} | {n} | {c / n:.1%} | {w / n:.2%} | {r / n:.1%} |")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"rows": rows, "wrong_examples": {" / ".join(k): v for k, v in wrong_examples.items()}}, f, indent=1)


if __name__ == "__main__":
    main()
