"""Stats: what a repository holds, in files, lines and tokens — and which context windows it fits."""
from __future__ import annotations

from collections import Counter, defaultdict

from repoctx.index.load import Repository

WINDOWS = (8_000, 32_000, 128_000, 200_000, 1_000_000, 2_000_000, 10_000_000)
TOP = 10
#: Skipped files listed per reason in the text (--json lists every one).
SKIPPED_SHOWN = 200


def repo_stats(repo: Repository) -> dict:
    """Plain-data summary; `fits` compares the sum of file tokens with common windows."""
    by_lang: dict[str, Counter] = defaultdict(Counter)
    by_folder: dict[str, Counter] = defaultdict(Counter)
    top = repo.scope + "/" if repo.scope else ""  # folders are counted one level below the scope
    for path, f in repo.files.items():
        lines, tokens = repo.facts[path].lines, repo.tokens[path]
        rest = path[len(top):]
        folder = top + rest.split("/", 1)[0] + "/" if "/" in rest else top or "."
        for bucket in (by_lang[f.language or "text"], by_folder[folder]):
            bucket.update(files=1, lines=lines, tokens=tokens)
    total = sum(repo.tokens.values())
    skipped: dict[str, dict] = {}
    for s in repo.skipped:
        entry = skipped.setdefault(s.reason, {"count": 0, "examples": [], "paths": []})
        entry["count"] += 1
        entry["paths"].append(s.path)
        if len(entry["examples"]) < 3:
            entry["examples"].append(s.path)

    def rows(groups: dict[str, Counter], key: str) -> list[dict]:
        ordered = sorted(groups.items(), key=lambda kv: (-kv[1]["tokens"], kv[0]))
        return [{key: name, "files": c["files"], "lines": c["lines"], "tokens": c["tokens"]} for name, c in ordered]

    largest = sorted(repo.files, key=lambda p: (-repo.tokens[p], p))[:TOP]
    return {
        "root": repo.root,
        "scope": repo.scope,
        "encoding": repo.encoding,
        "git": repo.is_git,
        "files": len(repo.files),
        "lines": sum(f.lines for f in repo.facts.values()),
        "tokens": total,
        "languages": rows(by_lang, "language"),
        "folders": rows(by_folder, "folder")[:TOP],
        "largest": [{"path": p, "lines": repo.facts[p].lines, "tokens": repo.tokens[p]} for p in largest],
        "skipped": dict(sorted(skipped.items())),
        "fits": [{"window": w, "fits": total <= w, "share": round(total / w, 4)} for w in WINDOWS],
    }


#: Skips that packs report on lines of their own (secret files, repoctx's own files): not counted again.
REPORTED_APART = ("secret-file", "repoctx-output", "repoctx-config")


def skipped_note(skipped) -> str | None:
    """How many files the scan left out, by reason, for a pack's summary and an agent's warnings
    (`repoctx stats` lists each): a file missing from a pack is never left out without a word."""
    counts = Counter(s.reason for s in skipped if s.reason not in REPORTED_APART)
    if not counts:
        return None
    return (f"{sum(counts.values()):,} file(s) skipped ({', '.join(f'{n:,} {r}' for r, n in sorted(counts.items()))}; "
            "`repoctx stats` lists them)")


def _window_name(w: int) -> str:
    return f"{w // 1_000_000}M" if w >= 1_000_000 else f"{w // 1000}k"


def format_stats(s: dict) -> str:
    where = f"{s['root']}, only {s['scope']}/" if s.get("scope") else s["root"]
    out = [f"{where}  ({'git' if s['git'] else 'not a git repository'}; tokens in {s['encoding']})",
           f"{s['files']:,} files, {s['lines']:,} lines, {s['tokens']:,} tokens", ""]

    def table(title: str, rows: list[dict], key: str) -> None:
        if not rows:
            return
        width = max(len(title), *(len(str(r[key])) for r in rows))
        out.append(f"{title:<{width}}  {'files':>7}  {'lines':>9}  {'tokens':>10}")
        for r in rows:
            out.append(f"{r[key]:<{width}}  {r['files']:>7,}  {r['lines']:>9,}  {r['tokens']:>10,}")
        out.append("")

    table("language", s["languages"], "language")
    table("folder", s["folders"], "folder")
    if s["largest"]:
        out.append("largest files (tokens)")
        out += [f"  {r['tokens']:>9,}  {r['path']}" for r in s["largest"]]
        out.append("")
    if s["skipped"]:  # every file left out, with its reason (--json lists them all)
        out.append("skipped")
        for reason, e in s["skipped"].items():
            out.append(f"  {reason} ({e['count']:,})")
            out += [f"    {p}" for p in e["paths"][:SKIPPED_SHOWN]]
            if e["count"] > SKIPPED_SHOWN:
                out.append(f"    … and {e['count'] - SKIPPED_SHOWN:,} more (--json lists them all)")
        out.append("")
    out.append("fits in (file tokens, before packing overhead)")
    for f in s["fits"]:
        out.append(f"  {_window_name(f['window']):>4}  {'yes' if f['fits'] else 'no ':<3}  {f['share']:.0%} of the window")
    return "\n".join(out)
