"""Scan: the file list git would give, plus repoctx's own skip rules, on real fixture folders."""
from __future__ import annotations

import os

from conftest import git, make_repo, write_files

from repoctx.scan import ScanOptions, classify_content, git_blob_sha, scan

PY = "def f():\n    return 1\n"


def paths(result):
    return [f.path for f in result.files]


def reasons(result):
    return {s.path: s.reason for s in result.skipped}


def test_git_listing_tracked_untracked_and_ignored(tmp_path):
    repo = make_repo(tmp_path / "r", {
        "a.py": PY, "pkg/b.py": PY, ".gitignore": "build/\n*.log\n",
        "package-lock.json": "{}", "yarn.lock": "",
    })
    write_files(repo, {"new.py": PY, "build/out.py": PY, "debug.log": "x", "node_modules/m/index.js": "x"})
    result = scan(str(repo))
    assert result.is_git
    assert paths(result) == [".gitignore", "a.py", "new.py", "pkg/b.py"]
    assert reasons(result) == {"node_modules/m/index.js": "ignored-folder",
                               "package-lock.json": "lock-file", "yarn.lock": "lock-file"}
    by_path = {f.path: f for f in result.files}
    assert by_path["a.py"].language == "python"
    assert by_path["a.py"].size == len(PY)


def test_blob_shas_match_git_for_clean_modified_and_untracked_files(tmp_path):
    repo = make_repo(tmp_path / "r", {"a.py": PY, "b.py": PY + "x = 2\n"})
    (repo / "b.py").write_text("changed = True\n")
    (repo / "c.py").write_text("new = 1\n")
    shas = {f.path: f.blob_sha for f in scan(str(repo)).files}
    for name in ("a.py", "b.py", "c.py"):
        assert shas[name] == git(repo, "hash-object", name).strip()


def test_repoctxignore_and_globs(tmp_path):
    repo = make_repo(tmp_path / "r", {"src/a.py": PY, "src/gen/b.py": PY, "docs/x.md": "# x\n",
                                      ".repoctxignore": "src/gen/\n"})
    assert paths(scan(str(repo))) == ["docs/x.md", "src/a.py"]
    assert paths(scan(str(repo), ScanOptions(include=("src/",)))) == ["src/a.py"]
    assert paths(scan(str(repo), ScanOptions(exclude=("*.md",)))) == ["src/a.py"]


def test_repoctx_settings_files_are_not_packed(tmp_path):
    repo = make_repo(tmp_path / "r", {"a.py": PY, ".repoctx.toml": 'budget = "8k"\n', ".repoctxignore": "x/\n",
                                      "pkg/.repoctx.toml": "", "pyproject.toml": "[project]\nname = 'a'\n"})
    result = scan(str(repo))
    assert paths(result) == ["a.py", "pyproject.toml"]
    assert reasons(result) == {".repoctx.toml": "repoctx-config", ".repoctxignore": "repoctx-config",
                               "pkg/.repoctx.toml": "repoctx-config"}


def test_a_scope_keeps_the_files_under_it_with_repository_paths(tmp_path):
    repo = make_repo(tmp_path / "r", {"top.py": PY, "lib/a.py": PY, "lib/sub/b.py": PY, "library.py": PY,
                                      "lib/node_modules/m.js": "x", "vendor/v/c.py": PY})
    result = scan(str(repo), ScanOptions(scope="lib"))
    assert paths(result) == ["lib/a.py", "lib/sub/b.py"] and result.scope == "lib"
    assert reasons(result) == {"lib/node_modules/m.js": "ignored-folder"}  # nothing outside the scope
    assert paths(scan(str(repo), ScanOptions(scope="vendor/v"))) == ["vendor/v/c.py"]  # asked for: read


def test_size_cap_and_symlinks_are_skipped_with_reasons(tmp_path):
    outside = tmp_path / "secret.txt"
    outside.write_text("do not read\n")
    repo = make_repo(tmp_path / "r", {"small.py": PY, "big.py": "x = 1\n" * 100})
    os.symlink(outside, repo / "escape.txt")
    os.symlink("small.py", repo / "alias.py")
    result = scan(str(repo), ScanOptions(max_bytes=100))
    assert paths(result) == ["small.py"]
    assert reasons(result) == {"big.py": "too-large", "escape.txt": "symlink", "alias.py": "symlink"}


def test_plain_folder_walk_honours_nested_gitignore_and_survives_symlink_loops(tmp_path):
    root = tmp_path / "plain"
    write_files(root, {
        "a.py": PY, ".gitignore": "*.tmp\n", "x.tmp": "t", "sub/b.py": PY, "sub/.gitignore": "only_here.py\n",
        "sub/only_here.py": PY, "only_here.py": PY, "node_modules/lib.js": "x", "sub/.venv/site.py": PY,
    })
    os.symlink(root, root / "sub" / "loop")       # a directory symlink back to the root
    os.symlink(tmp_path, root / "up")             # and one pointing outside
    result = scan(str(root))
    assert not result.is_git
    assert paths(result) == [".gitignore", "a.py", "only_here.py", "sub/.gitignore", "sub/b.py"]
    assert reasons(result) == {"node_modules/": "ignored-folder", "sub/.venv/": "ignored-folder",
                               "sub/loop": "symlink", "up": "symlink"}
    data = (root / "a.py").read_bytes()
    assert {f.path: f.blob_sha for f in result.files}["a.py"] == git_blob_sha(data)


def test_special_files_are_reported_not_read(tmp_path):
    root = tmp_path / "plain"
    write_files(root, {"a.py": PY})
    os.mkfifo(root / "pipe")  # opening it for reading would block forever
    result = scan(str(root))
    assert paths(result) == ["a.py"]
    assert reasons(result) == {"pipe": "unreadable"}


def test_subfolder_of_a_repository_lists_paths_relative_to_it(tmp_path):
    repo = make_repo(tmp_path / "r", {"top.py": PY, "lib/a.py": PY, "lib/sub/b.py": PY})
    assert paths(scan(str(repo / "lib"))) == ["a.py", "sub/b.py"]


def test_classify_content():
    assert classify_content("a.bin", b"\x7fELF\x00\x01") == "binary"
    assert classify_content("app.min.js", b"var a=1;") == "minified"
    assert classify_content("bundle.js", b"var a=1;" * 2000) == "minified"
    assert classify_content("gen.go", b"// Code generated by protoc. DO NOT EDIT.\npackage x\n") == "generated"
    assert classify_content("ok.py", PY.encode()) is None
    assert classify_content("empty.py", b"") is None
    assert classify_content("bad.py", b"x = '\xff\xfe'\r\n") is None  # invalid UTF-8 and CRLF are still text


def test_scan_refuses_a_missing_folder(tmp_path):
    try:
        scan(str(tmp_path / "nope"))
    except NotADirectoryError as exc:
        assert "not a folder" in str(exc)
    else:
        raise AssertionError("expected NotADirectoryError")


def test_broken_git_folder_falls_back_to_walking(tmp_path):
    root = tmp_path / "broken"
    write_files(root, {"a.py": PY, ".git/HEAD": "garbage"})
    result = scan(str(root))
    assert not result.is_git
    assert paths(result) == ["a.py"]
