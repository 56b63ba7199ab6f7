"""`repoctx pack --diff / --staged`: the change itself plus the code it touches, on real repositories."""
from __future__ import annotations

import json
import subprocess

from conftest import git, make_repo, run_cli, write_files

from repoctx.git import read_change, touched_lines
from repoctx.tokens import count, get_encoding

FILES = {
    "shop/util.py": "def checksum(payload):\n    return sum(payload) % 256\n\n\ndef unused():\n    return 0\n",
    "shop/client.py": ("from shop.util import checksum\n\n\nclass Client:\n    def send(self, order):\n"
                       "        tag = checksum(order)\n        return tag\n"),
    "shop/app.py": "from shop.client import Client\n\n\ndef main():\n    return Client().send([1, 2])\n",
    "logo.png": b"\x89PNG\r\n\x1a\n\x00\x00",
}


def pack_json(repo, *args):
    r = run_cli("pack", str(repo), "--format", "json", "--mode", "slice", "--budget", "4k", *args)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def spans(doc, path):
    return {n for f in doc["files"] if f["path"] == path for a, b in f["spans"] for n in range(a, b + 1)}


def test_diff_packs_the_change_with_its_closure(tmp_path):
    repo = make_repo(tmp_path / "r", FILES)
    (repo / "shop/client.py").write_text(FILES["shop/client.py"].replace("return tag", "return tag or 0"))
    doc = pack_json(repo, "--diff")
    assert doc["tokens"] <= 4000 and doc["tokens"] == count(doc["text"], get_encoding(doc["encoding"]))
    assert "-        return tag\n+        return tag or 0" in doc["text"]
    assert doc["text"].rstrip().endswith("</context>") and doc["text"].index("<diff>") > doc["text"].index("<file")
    assert {4, 5, 6, 7} <= spans(doc, "shop/client.py")      # the method, its class header
    assert 1 in spans(doc, "shop/util.py")                    # the signature of what it calls
    assert 5 in spans(doc, "shop/app.py")                     # and its call site


def nothing_left_out(path):  # these repositories hold no secret file
    return None


def test_staged_packs_only_what_is_staged(tmp_path):
    repo = make_repo(tmp_path / "r", FILES)
    (repo / "shop/util.py").write_text(FILES["shop/util.py"].replace("% 256", "% 255"))
    git(repo, "add", "shop/util.py")
    (repo / "shop/app.py").write_text(FILES["shop/app.py"] + "\n# unstaged\n")
    change = read_change(str(repo), staged=True, left_out=nothing_left_out)
    assert list(change.touched) == ["shop/util.py"] and change.touched["shop/util.py"] == [(2, 2)]
    assert "# unstaged" not in change.diff
    assert "# unstaged" in read_change(str(repo), left_out=nothing_left_out).diff


def test_added_deleted_renamed_and_binary_files(tmp_path):
    repo = make_repo(tmp_path / "r", FILES)
    git(repo, "rm", "-q", "shop/app.py")
    git(repo, "mv", "shop/util.py", "shop/helpers.py")
    (repo / "logo.png").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x01")
    write_files(repo, {"shop/new.py": "def fresh():\n    return 1\n"})
    git(repo, "add", "-A")
    change = read_change(str(repo), staged=True, left_out=nothing_left_out)
    assert "deleted file mode" in change.diff and "rename from shop/util.py" in change.diff
    assert "Binary files" in change.diff and "new file mode" in change.diff
    assert change.touched == {"shop/new.py": [(1, 2)]}
    doc = pack_json(repo, "--staged")
    assert 1 in spans(doc, "shop/new.py")


def test_first_commit_detached_head_and_merge_in_progress(tmp_path):
    fresh = tmp_path / "fresh"
    make_repo(fresh, FILES, commit=False)                     # nothing committed yet: no HEAD
    doc = pack_json(fresh, "--staged")
    assert "+def checksum(payload):" in doc["text"]

    repo = make_repo(tmp_path / "r", FILES)
    git(repo, "checkout", "-q", "--detach")
    (repo / "shop/util.py").write_text(FILES["shop/util.py"] + "\n\ndef extra():\n    return 2\n")
    assert "+def extra():" in pack_json(repo, "--diff")["text"]
    git(repo, "checkout", "-q", "-f", "main")

    git(repo, "checkout", "-q", "-b", "other")
    (repo / "shop/util.py").write_text(FILES["shop/util.py"].replace("256", "128"))
    git(repo, "commit", "-qam", "other")
    git(repo, "checkout", "-q", "main")
    (repo / "shop/util.py").write_text(FILES["shop/util.py"].replace("256", "512"))
    git(repo, "commit", "-qam", "main")
    merge = subprocess.run(["git", "merge", "other"], cwd=repo, capture_output=True, text=True)
    assert merge.returncode != 0                              # a conflict: the merge is in progress
    assert "+<<<<<<< HEAD" in pack_json(repo, "--diff")["text"]


def test_bad_uses_are_clear_errors(tmp_path):
    write_files(tmp_path / "plain", {"a.py": "x = 1\n"})
    r = run_cli("pack", str(tmp_path / "plain"), "--diff")
    assert r.returncode == 1 and "not inside a git work tree" in r.stderr
    repo = make_repo(tmp_path / "r", FILES)
    r = run_cli("pack", str(repo), "--diff", "no-such-rev")
    assert r.returncode == 1 and "unknown revision 'no-such-rev'" in r.stderr
    (repo / "shop/util.py").write_text("x = 1\n" * 3000)
    r = run_cli("pack", str(repo), "--diff", "--budget", "500")
    assert r.returncode == 3 and "the diff alone" in r.stderr


def test_touched_lines_of_a_pure_deletion_and_an_addition():
    diff = ("diff --git a/f.py b/f.py\n--- a/f.py\n+++ b/f.py\n@@ -3,2 +2,0 @@\n-a\n-b\n"
            "@@ -9,0 +8,3 @@\n+x\n+y\n+z\n")
    assert touched_lines(diff) == {"f.py": [(2, 2), (8, 10)]}
