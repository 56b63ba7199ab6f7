"""The scan memo (`scan.ScanMemo`, kept by `index/load.py`): a warm load takes the files git lists
unchanged from the last load's memo and looks only at the others. Whatever happens to the work tree,
the index or the memo itself, a load answers as a load without any memo does: real git repositories,
real edits, and a memo file that is damaged, forged, or another index's."""
from __future__ import annotations

import marshal
import os

import pytest
from conftest import git, make_repo, write_files

from repoctx.index import seal
from repoctx.index.load import load_repository
from repoctx.scan import ScanOptions

FILES = {
    "app/main.py": "from app.util import helper\n\n\ndef main():\n    return helper(2)\n",
    "app/util.py": "def helper(x):\n    return x * 2\n",
    "web/site.js": "function start() {\n  return 1;\n}\n",
    "data/blob.bin": b"\x00\x01\x02binary",
    "package-lock.json": "{}\n",
    "README.md": "# Demo\n\nA small repository.\n",
}


def state(repo) -> tuple:
    """Everything a load gives that a memo could get wrong."""
    return (list(repo.files.items()), dict(repo.tokens), repo.skipped, list(repo.facts),
            {p: repo.facts[p] for p in repo.files}, repo.report.files, repo.report.skipped)


def fresh_state(root, ix, **kw) -> tuple:
    """A load without any memo (moved away meanwhile, then put back)."""
    memo = os.path.join(os.path.dirname(ix), "scan.memo")
    kept = memo + ".kept"
    if os.path.exists(memo):
        os.replace(memo, kept)
    try:
        return state(load_repository(str(root), index_path=str(ix) + ".fresh", workers=1, **kw))
    finally:
        if os.path.exists(kept):
            os.replace(kept, memo)


@pytest.fixture()
def repo(tmp_path):
    root = make_repo(tmp_path / "r", FILES)
    ix = tmp_path / "ix" / "index.sqlite"
    load_repository(str(root), index_path=str(ix), workers=1)  # writes the memo
    assert os.path.exists(tmp_path / "ix" / "scan.memo")
    return root, ix


def test_a_warm_load_from_the_memo_equals_a_load_without_it(repo):
    root, ix = repo
    warm = load_repository(str(root), index_path=str(ix), workers=1)
    assert state(warm) == fresh_state(root, ix)
    assert warm.report.reused == len(warm.files) and not warm.report.parsed


@pytest.mark.parametrize("change", ["edit", "edit-same-size", "add", "commit", "delete", "untracked",
                                    "ignore", "symlink", "gitignore"])
def test_every_change_to_the_work_tree_is_seen_after_a_memo(repo, change):
    root, ix = repo
    load_repository(str(root), index_path=str(ix), workers=1)  # a memo hit, and the memo kept
    if change == "edit":
        write_files(root, {"app/util.py": "def helper(x):\n    return x * 3  # changed\n"})
    elif change == "edit-same-size":  # same size, same second: git's racy check, not the size, tells
        write_files(root, {"app/util.py": "def helper(y):\n    return y * 2\n"})
    elif change == "add":
        write_files(root, {"app/util.py": "def helper(x):\n    return -x\n"})
        git(root, "add", "app/util.py")
    elif change == "commit":
        write_files(root, {"app/new.py": "def fresh():\n    pass\n"})
        git(root, "add", "-A")
        git(root, "commit", "-q", "-m", "more")
    elif change == "delete":
        os.remove(root / "web" / "site.js")
    elif change == "untracked":
        write_files(root, {"app/extra.py": "def extra():\n    return 7\n"})
    elif change == "ignore":
        write_files(root, {".repoctxignore": "web/\n"})
    elif change == "symlink":
        os.remove(root / "README.md")
        os.symlink("app/util.py", root / "README.md")
    elif change == "gitignore":
        write_files(root, {"app/extra.py": "X = 1\n"})
        write_files(root, {".gitignore": "app/extra.py\n"})
    for _ in range(2):  # the load after the change, and the one after that (from the memo it wrote)
        assert state(load_repository(str(root), index_path=str(ix), workers=1)) == fresh_state(root, ix)


def test_options_and_outputs_are_applied_to_what_the_memo_holds(repo):
    root, ix = repo
    for options in (ScanOptions(max_bytes=40), ScanOptions(exclude=("*.js",)), ScanOptions(outputs=("app/util.py",)),
                    ScanOptions(outputs=("app/",)), ScanOptions(scope="app"), ScanOptions()):
        load_repository(str(root), options, index_path=str(ix), workers=1)
        got = state(load_repository(str(root), options, index_path=str(ix), workers=1))
        assert got == fresh_state(root, ix, options=options), options


def _forge(ix, rewrite) -> None:
    """The memo beside `ix` with its content changed by `rewrite` (the attacker's bytes)."""
    file = os.path.join(os.path.dirname(ix), "scan.memo")
    with open(file, "rb") as f:
        data = marshal.loads(seal.unseal(f.read(), "scan-memo"))
    with open(file, "wb") as f:
        f.write(rewrite(data))


@pytest.mark.parametrize("attack", ["unsealed", "other-key", "truncated", "zeroed", "not-marshal"])
def test_a_forged_or_damaged_memo_is_not_believed(repo, attack, capsys):
    """The memo lives in the index folder, which a repository can plant (or a hand can damage): one
    that fails its seal is set aside with one warning, and the load looks at every file."""
    root, ix = repo

    def lie(data):  # every file claims a made-up size and token count, and the binary file is code
        data["files"] = [(p, sha, lang or "python", 7, 1, None) for p, sha, lang, _size, _n, _skip in data["files"]]
        return data
    if attack == "unsealed":
        _forge(ix, lambda d: marshal.dumps(lie(d)))
    elif attack == "other-key":
        _forge(ix, lambda d: seal.seal(marshal.dumps(lie(d)), "another file's context"))
    elif attack == "truncated":
        _forge(ix, lambda d: seal.seal(marshal.dumps(lie(d)), "scan-memo")[:40])
    elif attack == "zeroed":
        _forge(ix, lambda d: bytes(len(seal.seal(marshal.dumps(d), "scan-memo"))))
    else:
        _forge(ix, lambda d: seal.seal(b"\xff not marshal", "scan-memo"))
    got = state(load_repository(str(root), index_path=str(ix), workers=1))
    assert got == fresh_state(root, ix)
    if attack != "not-marshal":
        assert "scan memo" in capsys.readouterr().err


def test_a_memo_of_another_index_or_repository_is_not_used(repo, tmp_path):
    """A memo is of one root and one index file (device and inode): another repository sharing the
    index ($REPOCTX_INDEX) does not use it, and an index made anew (deleted, or set aside as damaged)
    gets every file's facts again instead of the memo's word that it holds them."""
    root, ix = repo
    other = make_repo(tmp_path / "other", {**FILES, "app/util.py": "def helper(x):\n    return x + 100\n"})
    assert state(load_repository(str(other), index_path=str(ix), workers=1)) == fresh_state(other, ix)
    load_repository(str(root), index_path=str(ix), workers=1)
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(str(ix) + suffix):
            os.remove(str(ix) + suffix)
    again = load_repository(str(root), index_path=str(ix), workers=1)
    assert again.report.parsed == len(again.files) and state(again) == fresh_state(root, ix)
