"""Render: a selection of files and line spans → the text a model reads (xml, markdown, plain).

A file appears whole or as verbatim line spans; every gap between spans is marked with the line range
it stands for, in the file's own comment syntax, so a model knows what it does not see. XML is
well-formed (content goes in CDATA when it holds `<`, `&` or `]]>`), Markdown fences are longer than any
backtick run in the content, plain headers are longer `=` runs than any line of the pack starts
with, and the same selection always renders to the same bytes. Neither a file's name nor its content
can pose as another file: names are shown through `shown_path`, content cannot close its section.
"""
from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass

from repoctx.parse.languages import comment_prefix, fence_language
from repoctx.settings import FORMATS


@dataclass(frozen=True)
class FileSlice:
    path: str
    language: str | None
    spans: tuple[tuple[int, int], ...]  # sorted, disjoint, non-adjacent, 1-based inclusive
    total_lines: int
    #: (first line of a body, its last line) of the file's definitions whose body opens on a line of
    #: its own signature: how an elided body's marker says where the body ends (`file_body`).
    bodies: tuple[tuple[int, int], ...] = ()

    @property
    def whole(self) -> bool:
        return self.total_lines == 0 or self.spans == ((1, self.total_lines),)


def file_slice(repo, path: str, spans) -> FileSlice:
    """The slice of a loaded repository's file (a `Repository`: its language and line count, and
    for a file not shown whole, its definitions' bodies)."""
    facts = repo.facts[path]
    s = FileSlice(path, repo.files[path].language, tuple(spans), facts.lines)
    if s.whole:
        return s
    ends = {b for _, b in s.spans}
    bodies = tuple((d.body_start_line, d.end_line) for d in facts.symbols
                   if d.body_start_line in ends and d.end_line > d.body_start_line)
    return FileSlice(s.path, s.language, s.spans, s.total_lines, bodies) if bodies else s


def merge_spans(spans) -> tuple[tuple[int, int], ...]:
    """Sorted, merged (overlapping or adjacent) spans."""
    out: list[list[int]] = []
    for a, b in sorted(spans):
        if out and a <= out[-1][1] + 1:
            out[-1][1] = max(out[-1][1], b)
        else:
            out.append([a, b])
    return tuple((a, b) for a, b in out)


#: What a shown file name may not hold raw: controls (C0, DEL, C1: a newline would let a file pose as
#: a second `util.py` section), Unicode line and paragraph separators, bidirectional overrides (they
#: reorder what a reader sees), invisible characters (zero-width spaces and joiners, direction marks,
#: the byte order mark, soft hyphen: `util\u200b.py` reads as `util.py`), lone surrogates (undecodable bytes).
_NAME_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\xad\u061c\u180e\u200b-\u200f\u2028-\u202e\u2060-\u206f\ufeff"
                          "\ud800-\udfff]")
_NAME_QUOTED = re.compile(_NAME_UNSAFE.pattern[:-1] + '"\\\\]')  # inside quotes, `"` and `\` too
_NAME_ESCAPES = {"\a": "\\a", "\b": "\\b", "\t": "\\t", "\n": "\\n", "\v": "\\v", "\f": "\\f", "\r": "\\r",
                 '"': '\\"', "\\": "\\\\"}


def _name_escape(m: re.Match) -> str:
    c = m.group()
    return _NAME_ESCAPES.get(c) or "".join(f"\\{b:03o}" for b in c.encode("utf-8", "surrogateescape"))


def shown_path(path: str) -> str:
    """A repository path as every output shows it (pack headers in every format, the map, search and
    graph output, server answers): as it is, or, when it holds a character `_NAME_UNSAFE` lists or
    starts with `"`, quoted as git quotes paths (`"a\\n## util.py"`, other bytes as octal `\\303`),
    so a name always reads as one line and a quoted name is never mistaken for a plain one. The one
    place names are made safe to show; data fields (json's `files`) keep the real path."""
    if not _NAME_UNSAFE.search(path) and not path.startswith('"'):
        return path
    return '"' + _NAME_QUOTED.sub(_name_escape, path) + '"'


def span_label(spans) -> str:
    return ",".join(f"{a}-{b}" if a != b else str(a) for a, b in spans)


def elision_marker(path_or_language: str, first: int, last: int, body_end: int | None = None) -> str:
    """e.g. `# ... lines 10-42 elided` in the language's comment syntax; with `body_end`, the gap
    follows a signature whose `{` opens a body that ends (its closing line) at that line of the gap:
    `// ... lines 10-80 elided (body to 42)`, or `// ... lines 10-42 elided (body)` when the gap
    is the body: one marker where the body's closing line shown apart would cost a one-line span
    and a second marker."""
    text = f"... line {first} elided" if first == last else f"... lines {first}-{last} elided"
    if body_end == last:
        text += " (body)"
    elif body_end is not None:
        text += f" (body to {body_end})"
    prefix = comment_prefix(path_or_language)
    if isinstance(prefix, tuple):
        return f"{prefix[0]} {text} {prefix[1]}"
    return f"{prefix} {text}" if prefix else text


def _body_end(s: FileSlice, lines: list[str], first: int, last: int) -> int | None:
    """Where the body ends that opens with the `{` ending the line before the gap first..last, when
    that body's last line is in the gap (else None)."""
    if not s.bodies or first < 2 or first - 1 > len(lines) or not lines[first - 2].rstrip().endswith("{"):
        return None
    return next((e for b, e in s.bodies if b == first - 1 and first <= e <= last), None)


def file_body(s: FileSlice, lines: list[str], line_numbers: bool) -> str:
    """The file's text as selected: verbatim spans, and a marker for each gap between them. The
    lines before the first span and after the last are not marked (the file's header gives the
    spans and the file's length, `where`), except after a signature whose body is elided: the
    body is marked as such (to its end, not beyond), so `{` is never left open; after any other
    line ending in an opening bracket, the rest of the file is marked."""
    width = len(str(max(s.total_lines, 1)))
    out: list[str] = []
    nxt = s.spans[0][0] if s.spans else 1
    spans = s.spans
    tail = spans and spans[-1][1] < s.total_lines and _body_end(s, lines, spans[-1][1] + 1, s.total_lines)
    if not tail and spans and spans[-1][1] < min(s.total_lines, len(lines) + 1) \
            and lines[spans[-1][1] - 1].rstrip().endswith(("{", "(", "[")):
        tail = s.total_lines  # nor any other bracket: what follows an opening line is marked, not cut off
    if tail:
        spans += ((tail + 1, tail),)  # the tail is marked up to the body's end; no line is shown
    for a, b in spans:
        if a > nxt:
            out.append(elision_marker(s.language or s.path, nxt, a - 1, _body_end(s, lines, nxt, a - 1)))
        if line_numbers:
            out += (f"{n:>{width}} | {lines[n - 1] if n <= len(lines) else ''}" for n in range(a, b + 1))
        else:
            out += lines[a - 1:b]
            out += [""] * (b - max(a - 1, len(lines)))  # lines past the end (a file shorter than its facts)
        nxt = b + 1
    return "\n".join(out)


def where(s: FileSlice) -> str:
    """What a sliced file's header says: its spans and its length, e.g. `lines 4-6,9 of 15`."""
    return f"lines {span_label(s.spans)} of {s.total_lines}"


def _fence(body: str) -> str:
    longest = max(map(len, _BACKTICKS.findall(body)), default=0)
    return "`" * max(3, longest + 1)


_BACKTICKS = re.compile("`{3,}")


#: Characters XML 1.0 forbids (C0 controls but tab, newline and return; U+FFFE, U+FFFF; lone
#: surrogates): shown as their Control Pictures (U+2400 + code, e.g. NUL → ␀) or U+FFFD, so an xml
#: pack stays well-formed whatever bytes a file holds.
_XML_FORBIDDEN = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")


def _xml_char(m: re.Match) -> str:
    c = ord(m.group())
    return chr(0x2400 + c) if c < 0x20 else "\ufffd"


#: The ASCII characters XML allows: a text of only these needs no `_XML_FORBIDDEN` pass.
_XML_ASCII = b"\t\n\r" + bytes(range(0x20, 0x80))


def _xml_safe(text: str) -> str:
    """`text` with each character XML forbids replaced (`_xml_char`). An ASCII text is checked by
    bytes.translate, ten times faster than the pattern's scan (a whole pack of Django is 35 MB)."""
    if text.isascii() and not text.encode("ascii").translate(None, _XML_ASCII):
        return text
    return _XML_FORBIDDEN.sub(_xml_char, text)


def _cdata(body: str) -> str:
    body = _xml_safe(body)
    if "<" not in body and "&" not in body and "]]>" not in body:  # "]]>" is not allowed in XML text
        return body
    return "<![CDATA[" + body.replace("]]>", "]]]]><![CDATA[>") + "]]>"


def _attr(value: str) -> str:
    return _xml_safe(value).replace("&", "&amp;").replace("<", "&lt;").replace('"', "&quot;")


def _plain_rule(texts) -> str:
    """The `=` run plain headers use: "===", or one longer than any a line of the pack starts with, so
    no line of a file, the map or the diff can pose as a header."""
    longest = max((len(m) for t in texts if t for m in _RULES.findall(t)), default=0)
    return "=" * max(3, longest + 1)


_RULES = re.compile("(?:^|(?<=[\r\x0b\x0c\x1c-\x1e\x85\u2028\u2029]))=+", re.MULTILINE)  # after any line break


def render(map_text: str | None, slices: list[FileSlice], lines_of: Callable[[str], list[str]],
           fmt: str = "xml", line_numbers: bool = False, diff: str | None = None, callers: str | None = None,
           part: tuple[int, int] | None = None) -> str:
    """The whole pack: the map (if any) first, then each file in the given order, then the call
    sites not shown as code (`callers`, one line per symbol), then the diff of the change being
    packed (if any): the most query-specific part last. With `part` = (i, n), the text is part i of
    a pack split in n (`pack/split.py`) and says so first."""
    return PART_SEP.join(render_parts(map_text, slices, lines_of, fmt, line_numbers, diff, callers, part))


def part_header(fmt: str, part: tuple[int, int]) -> str:
    """How a part of a split pack says which it is, in the format's own syntax (xml and json: the
    root element's attributes)."""
    i, n = part
    if fmt in ("xml", "json"):
        return f'<context part="{i}" of="{n}">'
    if fmt == "markdown":
        return f"# repoctx pack, part {i} of {n}"
    return f"=== repoctx pack, part {i} of {n} ==="


#: What joins the parts `render_parts` gives into the pack.
PART_SEP = "\n\n"


def render_parts(map_text: str | None, slices: list[FileSlice], lines_of: Callable[[str], list[str]],
                 fmt: str = "xml", line_numbers: bool = False, diff: str | None = None,
                 callers: str | None = None, part: tuple[int, int] | None = None) -> list[str]:
    """`render`'s text as its parts (the map, each file, ...), to be joined by `PART_SEP`."""
    parts: list[str] = []
    if part and fmt in ("markdown", "plain"):
        parts.append(part_header(fmt, part))
    if fmt in ("xml", "json"):
        parts.append(part_header(fmt, part) if part else "<context>")
        if map_text:
            parts.append(f"<map>\n{_cdata(map_text)}\n</map>")
        for s in slices:
            spans = "" if s.whole else f' lines="{span_label(s.spans)}" of="{s.total_lines}"'
            parts.append(f'<file path="{_attr(shown_path(s.path))}"{spans}>\n{_cdata(file_body(s, lines_of(s.path), line_numbers))}\n</file>')
        if callers:
            parts.append(f"<callers>\n{_cdata(callers)}\n</callers>")
        if diff:
            parts.append(f"<diff>\n{_cdata(diff)}\n</diff>")
        parts.append("</context>")
    elif fmt == "markdown":
        if map_text:
            parts.append(f"## Repository map\n\n{_fence(map_text)}text\n{map_text}\n{_fence(map_text)}")
        for s in slices:
            body = file_body(s, lines_of(s.path), line_numbers)
            part = "" if s.whole else f" ({where(s)})"
            fence = _fence(body)
            parts.append(f"## {shown_path(s.path)}{part}\n\n{fence}{fence_language(s.path, s.language)}\n{body}\n{fence}")
        if callers:
            parts.append(f"## Other call sites\n\n{_fence(callers)}text\n{callers}\n{_fence(callers)}")
        if diff:
            parts.append(f"## Change\n\n{_fence(diff)}diff\n{diff}\n{_fence(diff)}")
    elif fmt == "plain":
        bodies = [file_body(s, lines_of(s.path), line_numbers) for s in slices]
        rule = _plain_rule([map_text, callers, diff, *bodies])
        if map_text:
            parts.append(f"{rule} repository map {rule}\n{map_text}")
        for s, body in zip(slices, bodies):
            part = "" if s.whole else f" ({where(s)})"
            parts.append(f"{rule} {shown_path(s.path)}{part} {rule}\n{body}")
        if callers:
            parts.append(f"{rule} other call sites {rule}\n{callers}")
        if diff:
            parts.append(f"{rule} change (diff) {rule}\n{diff}")
    else:
        raise ValueError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")
    if not parts:
        return ["\n"]
    parts[-1] += "\n"  # not `join(...) + "\n"`: that would copy a whole pack's text once more
    return parts


def result_dict(result) -> dict:
    """A `PackResult` as the plain data every front end sends: the `json` format's object, the
    language server's and the agent server's replies (which add their own fields)."""
    return {"mode": result.mode, "encoding": result.encoding, "budget": result.budget, "tokens": result.tokens,
            "text": result.text,
            "files": [{"path": f.path, "spans": f.spans, "whole": f.whole} for f in result.files],
            "redacted": [{"path": p, "line": n, "type": k} for p, n, k in result.redactions],
            "secret_files_left_out": list(result.secret_files), "warnings": list(result.warnings),
            **({"part": result.part, "parts": result.parts} if result.parts else {})}


def written(result, fmt: str) -> str:
    """A `PackResult` as `repoctx pack` writes it in format `fmt`: the `json` object, or the text."""
    if fmt == "json":
        return json.dumps(result_dict(result), indent=1) + "\n"
    return result.text
