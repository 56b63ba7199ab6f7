"""The one request type: what a front end (CLI, language server, hook, agent server) asks a pack for.

Each front end builds one `PackRequest` — from its flags or params, over the repository's
`Settings` (`PackRequest.from_settings`), which own every default and every rule — and hands it to
`Packer.pack`. Values are checked here by the settings' own rules, so a budget the CLI refuses is
refused over LSP and MCP too.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field, fields

from repoctx.model import Focus
from repoctx.settings import Settings, check

#: `diff` values besides a revision: the staged change (index against HEAD), and the work tree
#: against HEAD. Any other value is a revision the work tree is compared with.
STAGED = "staged"
WORKTREE = "worktree"


class RequestError(ValueError):
    """A request that cannot be served as given (a focus outside the repository, bad lines…)."""


@dataclass(frozen=True)
class PackRequest:
    query: str = ""
    focus: tuple[Focus, ...] = ()      # code the pack is about (repository-relative paths)
    diff: str | None = None            # None, STAGED, WORKTREE or a revision: the change goes last in the pack
    budget: int = Settings.budget
    mode: str = Settings.mode
    format: str = Settings.format
    line_numbers: bool = Settings.line_numbers
    map_budget: int = Settings.map_budget
    tree: bool = True                  # a whole pack opens with the repository's file tree
    #: Where the request came from, for messages ("--budget", "budget"); not part of the request.
    origin: str = field(default="", compare=False)

    def __post_init__(self):
        for key in ("budget", "mode", "format", "line_numbers", "map_budget"):
            object.__setattr__(self, key, check(key, getattr(self, key), self.origin))
        if not isinstance(self.query, str):
            raise RequestError("query must be a string")
        object.__setattr__(self, "focus", tuple(self.focus))
        if self.diff is not None and (not isinstance(self.diff, str) or not self.diff.strip()
                                      or self.diff.startswith("-")):
            raise RequestError(f"diff must be {STAGED!r}, {WORKTREE!r} or a revision, got {self.diff!r}")

    @classmethod
    def from_settings(cls, settings: Settings, **given) -> PackRequest:
        """A request with `given` values (None = not given) over the settings' values."""
        names = {f.name for f in fields(cls)}
        unknown = sorted(set(given) - names)
        if unknown:
            raise TypeError(f"PackRequest: unknown field(s): {', '.join(unknown)}")
        defaults = {k: getattr(settings, k) for k in ("budget", "mode", "format", "line_numbers", "map_budget")}
        return cls(**{**defaults, **{k: v for k, v in given.items() if v is not None}})


def parse_focus(text: str, root: str, label: str = "--focus", cwd: bool = True) -> Focus:
    """'FILE', 'FILE:LINE' or 'FILE:FIRST-LAST' → Focus; FILE relative to the repository root (or,
    with `cwd`, to the current folder), and never outside the repository. `label` names the option
    or argument in messages."""
    path, _, lines = text.partition(":")
    start = end = None
    if lines:
        first, _, last = lines.partition("-")
        try:
            start = int(first)
            end = int(last) if last else start
        except ValueError:
            raise RequestError(f"{label} {text!r}: expected FILE, FILE:LINE or FILE:FIRST-LAST") from None
        if start < 1 or end < start:
            raise RequestError(f"{label} {text!r}: lines must be 1-based and FIRST <= LAST")
    for candidate in (os.path.join(root, path), os.path.abspath(path))[:2 if cwd else 1]:
        full = os.path.realpath(candidate)
        if full.startswith(root + os.sep) and os.path.isfile(full):
            return Focus(os.path.relpath(full, root).replace(os.sep, "/"), start, end)
    raise RequestError(f"{label} {text!r}: no such file inside the repository {root}")
