"""Benchmark: building the wheel, and installing it into a fresh virtual environment with nothing downloaded.

    nice -n 19 .venv/bin/python bench/install_time.py [RUNS]    # default 3 runs; needs the `test` extra

The steps of tests/test_install.py, timed (median of RUNS, each in a new temporary folder): sdist + wheel
from this checkout (no build isolation), the wheelhouse of the installed dependencies, `pip install` of
the wheel from that wheelhouse alone into a new venv (bytecode compiled, as pip does by default), and the
first `repoctx pack` from that venv on a 5-file repository with an empty token cache. Prints sizes and
figures; it does not pass or fail.
"""
from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from conftest import make_repo  # noqa: E402
from test_install import FIXTURE, build, clean_env, install, offline, run, wheelhouse  # noqa: E402


def size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink()) if path.is_dir() \
        else path.stat().st_size


def one() -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        t = time.perf_counter()
        sdist, wheel = build(tmp / "build")
        figures = {"build s": time.perf_counter() - t, "sdist KB": size(sdist) / 1e3, "wheel KB": size(wheel) / 1e3}
        t = time.perf_counter()
        wheels = wheelhouse(wheel, tmp / "house")
        figures |= {"wheelhouse s": time.perf_counter() - t, "dependencies": len(wheels),
                    "wheelhouse MB": size(tmp / "house") / 1e6}
        t = time.perf_counter()
        bin_dir = install(wheel, tmp / "house", tmp / "venv")
        figures |= {"install s": time.perf_counter() - t, "venv MB": size(tmp / "venv") / 1e6}
        repo = make_repo(tmp / "fixture", FIXTURE)
        env = clean_env(PATH=f"{bin_dir}{os.pathsep}/usr/bin{os.pathsep}/bin", HOME=str(tmp),
                        TIKTOKEN_CACHE_DIR=str(tmp / "token-cache"))
        t = time.perf_counter()
        run(bin_dir / "repoctx", "pack", cwd=repo, env=env)
        figures["first pack s"] = time.perf_counter() - t
        return figures


def main() -> None:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    print(f"network: {'none (' + ' '.join(offline()) + ')' if offline() else 'present (no unshare)'}; "
          f"pip reads no configuration and no index; {runs} runs, median")
    results = [one() for _ in range(runs)]
    for key in results[0]:
        values = [r[key] for r in results]
        print(f"  {key:14} {statistics.median(values):9.2f}   (min {min(values):.2f}, max {max(values):.2f})")


if __name__ == "__main__":
    main()
