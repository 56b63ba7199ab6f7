"""repoctx apply: every input format, every relaxation, refusals, files on disk, CLI exit codes."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

from repoctx.apply.apply import ChangedOnDisk, plan, write
from repoctx.apply.parse import NoEdit, parse
from repoctx.apply.match import place
from conftest import make_repo, run_cli

SRC = "import os\n\n\ndef f(x):\n    if x:\n        return 1\n    return 2\n\n\ndef g(y):\n    total = 0\n    for i in range(y):\n        total += i\n    return total\n"
WANT = SRC.replace("        total += i\n", "        total += i * 2\n")


@pytest.fixture
def repo(tmp_path):
    return make_repo(tmp_path / "r", {"m.py": SRC, "pkg/other.py": "A = 1\nB = 2\n"})


def udiff(line: int | None, body: str, path: str = "m.py") -> str:
    rows = body.splitlines()
    n_old, n_new = sum(not r.startswith("+") for r in rows), sum(not r.startswith("-") for r in rows)
    head = f"@@ -{line},{n_old} +{line},{n_new} @@" if line else "@@ @@"
    return f"--- a/{path}\n+++ b/{path}\n{head}\n{body}"


BODY = "     total = 0\n     for i in range(y):\n-        total += i\n+        total += i * 2\n"


def result(p, path="m.py"):
    assert p.ok, [h.reason for h in p.hunks]
    return next(f.new_text for f in p.files if f.path == path)


@pytest.mark.parametrize("line,relax", [(11, "exact"), (3, "offset"), (40, "offset"), (None, "offset")])
def test_unified_diff_line_numbers_right_wrong_or_missing(repo, line, relax):
    p = plan("Sure, here:\n```diff\n" + udiff(line, BODY) + "```\nDone.", str(repo))
    assert result(p) == WANT
    assert p.hunks[0].relaxation == relax and p.hunks[0].line == 11


def test_miscounted_header_is_not_truncation(repo):
    p = plan("--- a/m.py\n+++ b/m.py\n@@ -11,9 +11,9 @@\n" + BODY + "\nThat doubles it.\n", str(repo))
    assert result(p) == WANT


def test_search_replace_and_apply_patch(repo):
    sr = "m.py\n```python\n<<<<<<< SEARCH\n        total += i\n=======\n        total += i * 2\n>>>>>>> REPLACE\n```\n"
    assert result(plan("I'll change it:\n\n" + sr, str(repo))) == WANT
    env = "*** Begin Patch\n*** Update File: m.py\n@@ def g(y):\n     for i in range(y):\n-        total += i\n+        total += i * 2\n*** End Patch\n"
    assert result(plan(env, str(repo))) == WANT


def test_whitespace_drift_is_reindented(repo):
    body = " total = 0\n for i in range(y):\n-    total += i   \n+    total += i * 2\n+    total -= 1\n"
    got = result(plan(udiff(11, body), str(repo)))
    assert got == SRC.replace("        total += i\n", "        total += i * 2\n        total -= 1\n")


def test_invented_context_is_trimmed(repo):
    body = "     # a line the model made up\n     total = 0\n     for i in range(y):\n-        total += i\n+        total += i * 2\n"
    p = plan(udiff(11, body), str(repo))
    assert result(p) == WANT and p.hunks[0].relaxation == "trimmed"


def test_elision_is_a_gap(repo):
    body = " def g(y):\n     ...\n-    return total\n+    return total + 1\n"
    p = plan(udiff(10, body), str(repo))
    assert result(p) == SRC.replace("    return total\n", "    return total + 1\n")
    assert p.hunks[0].relaxation == "elision"


def test_ambiguous_is_refused_with_candidates(tmp_path):
    root = make_repo(tmp_path / "r", {"a.py": "x = 1\ny = 2\n\nx = 1\ny = 2\n"})
    p = plan("a.py\n<<<<<<< SEARCH\nx = 1\n=======\nx = 3\n>>>>>>> REPLACE\n", str(root))
    assert not p.ok and p.hunks[0].reason.startswith("ambiguous") and len(p.hunks[0].candidates) == 2


def test_absent_is_refused_with_closest(repo):
    p = plan(udiff(11, "-        total += j\n+        total += i * 2\n"), str(repo))
    h = p.hunks[0]
    assert not h.applied and "not in the file" in h.reason
    assert h.candidates[0]["line"] == 13 and 0.8 < h.candidates[0]["similarity"] < 1


def test_later_hunks_account_for_earlier(repo):
    patch = ("--- a/m.py\n+++ b/m.py\n@@ -4,2 +4,4 @@\n def f(x):\n+    # one\n+    # two\n     if x:\n"
             "@@ -12,2 +12,2 @@\n     for i in range(y):\n-        total += i\n+        total += i * 2\n")
    p = plan(patch, str(repo))
    assert result(p) == WANT.replace("def f(x):\n", "def f(x):\n    # one\n    # two\n")
    assert [h.relaxation for h in p.hunks] == ["exact", "exact"] and p.hunks[1].line == 14


def test_conflicting_hunks_refused(repo):
    patch = udiff(11, BODY) + "@@ -13,1 +13,1 @@\n-        total += i\n+        total += i * 3\n"
    p = plan(patch, str(repo))
    assert not p.ok and "conflict" in p.hunks[1].reason


def test_crlf_file_keeps_crlf(tmp_path):
    root = make_repo(tmp_path / "r", {"w.txt": b"one\r\ntwo\r\nthree\r\n"})
    p = plan("--- a/w.txt\n+++ b/w.txt\n@@ -1,3 +1,3 @@\n one\n-two\n+TWO\n three\n", str(root))
    write(p)
    assert (root / "w.txt").read_bytes() == b"one\r\nTWO\r\nthree\r\n"


def test_new_deleted_renamed_files(repo):
    patch = ("diff --git a/new.py b/new.py\nnew file mode 100644\n--- /dev/null\n+++ b/new.py\n@@ -0,0 +1,2 @@\n+a = 1\n+b = 2\n"
             "diff --git a/pkg/other.py b/pkg/other.py\ndeleted file mode 100644\n--- a/pkg/other.py\n+++ /dev/null\n@@ -1,2 +0,0 @@\n-A = 1\n-B = 2\n"
             "diff --git a/m.py b/moved.py\nsimilarity index 90%\nrename from m.py\nrename to moved.py\n--- a/m.py\n+++ b/moved.py\n" + udiff(11, BODY).split("\n", 2)[2])
    write(plan(patch, str(repo)))
    assert (repo / "new.py").read_text() == "a = 1\nb = 2\n"
    assert not (repo / "pkg/other.py").exists() and not (repo / "m.py").exists()
    assert (repo / "moved.py").read_text() == WANT
    env = "*** Begin Patch\n*** Add File: n2.py\n+z = 1\n*** Delete File: new.py\n*** End Patch\n"
    write(plan(env, str(repo)))
    assert (repo / "n2.py").read_text() == "z = 1\n" and not (repo / "new.py").exists()


def test_unsaved_buffer_is_the_current_text(repo):
    p = plan(udiff(11, BODY), str(repo), buffers={"m.py": "# unsaved\n" + SRC})
    assert result(p) == "# unsaved\n" + WANT


def test_bad_input(repo, tmp_path):
    with pytest.raises(NoEdit, match="no edit found"):
        parse("just prose, no patch")
    with pytest.raises(NoEdit, match="MB"):
        parse("x" * (9 * 2**20))
    p = plan("diff --git a/img.png b/img.png\nindex 1..2\nGIT binary patch\nliteral 5\n", str(repo))
    assert "binary" in p.hunks[0].reason
    p = plan(udiff(1, BODY, path="../outside.py"), str(repo))
    assert "outside" in p.hunks[0].reason
    p = plan("--- a/m.py\n+++ b/m.py\n@@ -11,5 +11,5 @@\n     total = 0\n     for i in range(y):\n", str(repo))
    assert "truncated hunk" in p.hunks[0].reason
    p = plan("--- a/m.py\n+++ b/m.py\n@@ -11,4 +11,4 @@\n     total = 0\n-        total += i\n+        tot", str(repo))
    assert "truncated hunk" in p.hunks[0].reason and not p.files


def test_changed_on_disk_writes_nothing(repo):
    p = plan(udiff(11, BODY) + "--- a/pkg/other.py\n+++ b/pkg/other.py\n@@ -1 +1 @@\n-A = 1\n+A = 5\n", str(repo))
    (repo / "m.py").write_text(SRC + "# edited meanwhile\n")
    with pytest.raises(ChangedOnDisk, match="m.py changed on disk"):
        write(p)
    assert (repo / "pkg/other.py").read_text() == "A = 1\nB = 2\n"


def test_place_never_guesses_between_two_equal_blocks():
    lines = ["a", "b", "a", "b"]
    assert place(lines, ["a", "b"], ["a", "c"]).reason.startswith("ambiguous")
    assert place(lines, ["a", "b"], ["a", "c"], hint=2).start == 2


def test_apply_patch_anchor_places_only_what_its_block_makes_unique():
    lines = ["class A:", "    def f(self):", "        return 1", "", "    def g(self):", "        return 1",
             "", "class B:", "    def h(self):", "        return 1"]
    # Twice inside A's block: refused, not put at the first after the @@ line (it could be g's).
    assert place(lines, ["        return 1"], ["        return 2"], anchor="class A:").reason.startswith("ambiguous")
    # Once inside the anchor's block (and again after it): that one.
    got = place(lines, ["        return 1"], ["        return 2"], anchor="    def g(self):")
    assert got.start == 5
    # The anchor is a landmark line that opens no block holding the text: the first match after it.
    got = place(["# tests", "x = 1", "y = 2", "x = 1"], ["x = 1"], ["x = 3"], anchor="# tests")
    assert got.start == 1


def test_cli_exit_codes(repo, tmp_path):
    good, bad = tmp_path / "good.diff", tmp_path / "bad.diff"
    good.write_text(udiff(3, BODY))
    bad.write_text(udiff(11, BODY) + "--- a/pkg/other.py\n+++ b/pkg/other.py\n@@ -1 +1 @@\n-NOPE\n+A = 5\n")
    r = run_cli("apply", str(good), "-C", str(repo), "--check")
    assert r.returncode == 0 and "would apply at line 11, 8 lines below where the patch said" in r.stdout and (repo / "m.py").read_text() == SRC
    r = run_cli("apply", str(bad), "-C", str(repo), "--json")
    out = json.loads(r.stdout)
    assert r.returncode == 1 and out["written"] == [] and not out["hunks"][1]["applied"]
    assert (repo / "m.py").read_text() == SRC
    r = run_cli("apply", str(bad), "-C", str(repo), "--partial")
    assert r.returncode == 1 and (repo / "m.py").read_text() == WANT and "REFUSED" in r.stdout
    r = subprocess.run([sys.executable, "-m", "repoctx", "apply", "-", "-C", str(repo)], input="no patch here",
                       capture_output=True, text=True)
    assert r.returncode == 2 and "no edit found" in r.stderr


def test_elision_pinned_by_its_unique_part_keeps_whitespace(tmp_path):
    text = "}\n\nfunc a() {\n  x := 1\n  y := 2\n  z := 3\n}\n\nfunc b() {\n}\n"
    root = make_repo(tmp_path / "r", {"a.go": text})
    body = " }\n ...\n   y := 2\n   z := 3\n+  \n+  w := 4\n }\n"   # "}" alone is ambiguous; "y, z" is not
    p = plan("--- a/a.go\n+++ b/a.go\n@@ @@\n" + body, str(root))
    assert result(p, "a.go") == text.replace("  z := 3\n", "  z := 3\n  \n  w := 4\n")
