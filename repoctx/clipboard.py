"""Clipboard: `repoctx pack --copy` puts the pack on the system clipboard with the first tool that works.

Which tools are tried follows the session: `wl-copy` under Wayland (`WAYLAND_DISPLAY`), `xclip` then
`xsel` under X11 (`DISPLAY`, also set under XWayland), `pbcopy` on macOS. A tool that is not on
`PATH` is skipped; one that fails (no display, no selection owner) hands over to the next. The tools
that keep serving the selection in the background (xclip, wl-copy) are given no pipe to hold open,
so the copy returns as soon as they have read the text.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile

#: Each tool's command line for "read stdin into the clipboard".
TOOLS = {"wl-copy": ["wl-copy"], "xclip": ["xclip", "-selection", "clipboard"],
         "xsel": ["xsel", "--clipboard", "--input"], "pbcopy": ["pbcopy"]}
#: Seconds a tool may take to read the text.
TIMEOUT = 20


class ClipboardError(Exception):
    """No clipboard tool could take the text; says what was tried and what to do."""


def candidates(env=None, platform: str | None = None) -> list[str]:
    """The tools to try for this session, in order."""
    env = os.environ if env is None else env
    order = ["wl-copy"] if env.get("WAYLAND_DISPLAY") else []
    if env.get("DISPLAY"):
        order += ["xclip", "xsel"]
    if (platform or sys.platform) == "darwin":
        order.append("pbcopy")
    return order


def copy(text: str) -> str:
    """Put `text` on the clipboard; the name of the tool that did it. ClipboardError otherwise."""
    order = candidates()
    if not order:
        raise ClipboardError("--copy: this session has no clipboard (neither WAYLAND_DISPLAY nor DISPLAY is set); "
                             "write the pack with -o FILE instead")
    tried = []
    data = text.encode("utf-8")
    for name in order:
        exe = shutil.which(name)
        if not exe:
            continue
        with tempfile.TemporaryFile() as err:
            try:
                done = subprocess.run([exe, *TOOLS[name][1:]], input=data, stdout=subprocess.DEVNULL, stderr=err,
                                      timeout=TIMEOUT)
            except subprocess.TimeoutExpired:
                tried.append(f"{name} did not finish in {TIMEOUT} s")
                continue
            except OSError as exc:
                tried.append(f"{name} could not run ({exc.strerror or exc})")
                continue
            if done.returncode == 0:
                return name
            err.seek(0)
            said = err.read(2000).decode("utf-8", "replace").strip().splitlines()
            tried.append(f"{name} exited with {done.returncode}" + (f": {said[0].strip()}" if said else ""))
    if not tried:
        raise ClipboardError(f"--copy: no clipboard tool found on PATH (looked for {', '.join(order)}); install one "
                             f"(wl-clipboard under Wayland, xclip or xsel under X11) or write the pack with -o FILE")
    raise ClipboardError(f"--copy: no clipboard tool worked ({'; '.join(tried)}); write the pack with -o FILE instead")
