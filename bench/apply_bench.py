"""How often an applier puts a model-style patch in the right place, in the wrong place, or refuses it.

    nice -n 19 .venv/bin/python bench/apply_bench.py /tmp/eval/requests /tmp/eval/gin /tmp/eval/express \
        --hunks 300 [--aider /tmp/aider-venv/bin/python] [--json out.json]

From real commits (modified text files, newest first) it takes each file change (parent -> child),
makes the patches a model would write, applies each to the parent text and compares the result with
the child: correct (equal), wrong (applied, differs), refused. Perturbations: exact; line numbers off
by 1-50; line numbers missing; 1-3 context lines dropped; 1-3 context lines invented; indentation and
trailing whitespace drifted; CRLF file; `...` elision inside a hunk; the target edited elsewhere
since. Formats: unified diff, SEARCH/REPLACE, apply_patch. Appliers: repoctx, `git apply`,
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
from repoctx.apply.apply import plan  # noqa: E402
from repoctx.apply.parse import NoEdit  # noqa: E402

TEXT_EXT = (".py", ".go", ".js", ".md", ".txt", ".json", ".yml", ".yaml", ".rst", ".cfg", ".toml", ".ts", ".html", ".css")
PERTURBATIONS = ("exact", "lines_off", "no_numbers", "ctx_dropped", "ctx_invented", "indent_drift",
                 "crlf", "elision", "edited_since")
NUMBERED = {"lines_off", "no_numbers"}   # only a unified diff states line numbers


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
    ctx = 8 if kind == "elision" else 3
    hunks = _hunks(al, bl, ctx)
    numbers = "lines"
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
        for s, body in hunks:
            no = sum(t != "+" for t, _ in body)
            nn = sum(t != "-" for t, _ in body)
            out.append(f"@@ -{s + 1},{no} +{s + 1},{nn} @@" if numbers else "@@ ... @@")
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


def run_repoctx(path, a, patch):
    with tempfile.TemporaryDirectory() as d:
        full = os.path.join(d, path)
        os.makedirs(os.path.dirname(full), exist_ok=True)
        with open(full, "w", newline="") as f:
            f.write(a)
        try:
            p = plan(patch, d)
        except NoEdit:
            return None
        if not p.ok:
            return None
        return next((f.new_text for f in p.files if f.path == path), a)


def run_tool(cmd, path, a, patch):
    with tempfile.TemporaryDirectory() as d:
        full = os.path.join(d, path)
        os.makedirs(os.path.dirname(full), exist_ok=True)
        with open(full, "w", newline="") as f:
            f.write(a)
        body = patch.split("```diff\n", 1)[-1].rsplit("```", 1)[0]
        if cmd[0] == "git":
            subprocess.run(["git", "init", "-q"], cwd=d)
        r = subprocess.run(cmd, cwd=d, input=body.encode(), capture_output=True)
        if r.returncode != 0:
            return None
        with open(full, newline="") as f:
            return f.read()


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


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("repos", nargs="+")
    ap.add_argument("--hunks", type=int, default=300, help="hunks to mine in all (split over the repositories)")
    ap.add_argument("--aider", default=None, help="python of a venv with aider-chat installed")
    ap.add_argument("--json", default=None)
    ap.add_argument("--seed", type=int, default=15)
    args = ap.parse_args(argv)
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
    for k, (repo, sha, path, a, b) in enumerate(cases):
        rng = random.Random(f"{args.seed}:{sha}:{path}")
        for kind in PERTURBATIONS:
            got = perturb(kind, a, b, random.Random(rng.random()))
            if got is None:
                continue
            pa, pb, hunks, numbers = got
            for fmt in ("udiff", "search-replace", "apply_patch"):
                if kind in NUMBERED and fmt != "udiff":
                    continue
                patch = render(fmt, path, hunks, numbers, a.split("\n"))
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
    rows = []
    print(f"| applier | perturbation | format | cases | correct | wrong | refused |")
    print("|---|---|---|---|---|---|---|")
    for (name, kind, fmt), (c, w, r) in sorted(table.items(), key=lambda kv: (list(appliers).index(kv[0][0]), PERTURBATIONS.index(kv[0][1]), kv[0][2])):
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
