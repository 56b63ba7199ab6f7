"""Issue 26, item 2: a Go `var ( … )` / `const ( … )` block longer than MAX_GROUP_LINES is not
grown whole, but a slice inside it still shows the block's first and last lines (a constant cut out
of its block reads as a bare statement)."""
from __future__ import annotations

from conftest import make_repo

from repoctx.index.load import load_repository
from repoctx.pack.closure import MAX_GROUP_LINES
from repoctx.pack.packer import Packer

N = MAX_GROUP_LINES + 20
GO = ("package codes\n\n"                                                       # 1-2
      "const (\n" + "".join(f"\tCode{i} = {i}\n" for i in range(N)) + ")\n\n"  # 3 .. N+4
      "func Name(c int) string {\n\treturn \"x\"\n}\n")


def test_a_slice_inside_a_long_go_block_shows_the_block_s_first_and_last_lines(tmp_path):
    root = make_repo(tmp_path / "r", {"go.mod": "module example.com/c\n\ngo 1.21\n", "codes/codes.go": GO})
    whole = Packer(load_repository(str(root), workers=1)).closures.whole_units
    spans = whole([("codes/codes.go", 30, 31)])
    assert ("codes/codes.go", 30, 31) in spans
    assert ("codes/codes.go", 3, 3) in spans and ("codes/codes.go", N + 4, N + 4) in spans
    # outside a block nothing is added
    assert whole([("codes/codes.go", N + 6, N + 8)]) == [("codes/codes.go", N + 6, N + 8)]
