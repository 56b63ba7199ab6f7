"""Benchmark: cold and warm `repoctx index` on a large real repository, against the floor.

The floor is the bare work with no pipeline around it, on one core: tree-sitter parse + the grammar's
tags query + a tiktoken count of the same files (with every grammar the files use). Targets (issues
#2, #13): cold index within 1.5x of the floor (using both cores), warm re-index under 1 s, peak RSS
under 1 GB.

    python bench/index_speed.py [REPO]     # default: Django 5.2.8's sdist from PyPI, as a git repo
    python bench/index_speed.py /tmp/repoctx-bench/linux-source-6.1   # bench/scale.py --linux fetches it

Prints figures; it does not pass or fail.
"""
from __future__ import annotations

import os
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

DJANGO = "django==5.2.8"
CACHE = Path(tempfile.gettempdir()) / "repoctx-bench"


def django_repo() -> Path:
    """Django's source distribution, unpacked and committed into a git repository (cached)."""
    repo = CACHE / "django"
    if (repo / ".git").exists():
        return repo
    CACHE.mkdir(parents=True, exist_ok=True)
    subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--no-binary", ":all:",
                    "-d", str(CACHE), DJANGO], check=True)
    sdist = next(CACHE.glob("[dD]jango-*.tar.gz"))
    with tarfile.open(sdist) as tar:
        tar.extractall(CACHE, filter="data")
    (CACHE / sdist.name.removesuffix(".tar.gz")).rename(repo)
    env = {**os.environ, "GIT_AUTHOR_NAME": "b", "GIT_AUTHOR_EMAIL": "b@b", "GIT_COMMITTER_NAME": "b",
           "GIT_COMMITTER_EMAIL": "b@b"}
    for cmd in (["init", "-q"], ["add", "-A"], ["commit", "-q", "-m", "django sdist"]):
        subprocess.run(["git", *cmd], cwd=repo, env=env, check=True)
    return repo


def floor(repo: Path, encoding: str) -> tuple[float, int, int]:
    """(seconds, files, bytes) of the bare work on the files repoctx indexes, on one core: a
    tree-sitter parse plus the grammar's shipped tags query for each file with a grammar (each
    language's own grammar wheel: Python and JS for Django, C for Linux), and a tiktoken count of
    every file."""
    import importlib

    from tree_sitter import Language, Parser, Query, QueryCursor

    from repoctx.parse.languages import LANGUAGES
    from repoctx.scan import classify_content, scan
    from repoctx.tokens import get_encoding
    files = [(f.language, (repo / f.path).read_bytes()) for f in scan(str(repo)).files]
    files = [(lang, data) for lang, data in files if not classify_content("", data)]
    grammars = {}
    for name in {lang for lang, _ in files if lang in LANGUAGES}:
        module, function = LANGUAGES[name].grammar
        mod = importlib.import_module(module)
        lang = Language(getattr(mod, function)())
        tags = getattr(mod, "TAGS_QUERY", "")
        grammars[name] = (Parser(lang), Query(lang, tags) if tags else None)
    enc = get_encoding(encoding)
    start = time.perf_counter()
    for lang, data in files:
        if lang in grammars:
            parser, query = grammars[lang]
            tree = parser.parse(data)
            if query is not None:
                QueryCursor(query).captures(tree.root_node)
        enc.encode_ordinary(data.decode("utf-8", errors="replace"))
    return time.perf_counter() - start, len(files), sum(len(d) for _, d in files)


def timed_index(repo: Path, index: Path) -> tuple[float, str, int]:
    """(wall seconds of the whole process, summary line, peak RSS KiB) of one `repoctx index`."""
    code = ("import resource, sys, time; from repoctx.cli import main; t = time.perf_counter(); "
            "rc = main(['index', sys.argv[1], '--index', sys.argv[2]]); "
            "print('WALL', time.perf_counter() - t, 'RSS', max(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, "
            "resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss), file=sys.stderr)")
    start = time.perf_counter()
    r = subprocess.run([sys.executable, "-c", code, str(repo), str(index)], capture_output=True, text=True, check=True)
    wall = time.perf_counter() - start
    last = r.stderr.strip().splitlines()[-1].split()
    return wall, f"{r.stdout.strip()} [in-process {float(last[1]):.2f}s]", int(last[3])


def main() -> None:
    repo = Path(sys.argv[1]) if len(sys.argv) > 1 else django_repo()
    encoding = "o200k_base"
    with tempfile.TemporaryDirectory() as tmp:
        index = Path(tmp) / "index.sqlite"
        cold, cold_summary, cold_rss = timed_index(repo, index)
        warm, warm_summary, warm_rss = timed_index(repo, index)
    fl, n_py, py_bytes = floor(repo, encoding)
    total_bytes = sum(p.stat().st_size for p in repo.rglob("*") if p.is_file() and ".git" not in p.parts)
    print(f"repository: {repo}  ({os.cpu_count()} cores)")
    print(f"floor (1 core: parse + tags where a grammar exists, + {encoding} count, of the same {n_py} files, "
          f"{py_bytes / 1e6:.1f} MB): {fl:.2f} s")
    print(f"cold index: {cold:.2f} s  = {cold / fl:.2f}x floor  peak RSS {cold_rss / 1024:.0f} MiB  | {cold_summary}")
    files = int(cold_summary.split()[0])
    print(f"            {files / cold:.0f} files/s, {total_bytes / 1e6 / cold:.1f} MB/s of the work tree")
    print(f"warm index: {warm:.2f} s  peak RSS {warm_rss / 1024:.0f} MiB  | {warm_summary}")


if __name__ == "__main__":
    main()
