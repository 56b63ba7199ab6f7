"""Secrets: find them in what is packed and redact them in place, keeping the code around them.

Finding is detect-secrets' (Yelp) plugins — cloud keys (AWS, Azure, GCP private keys), private key
blocks, JWTs, Slack / Stripe / GitHub / GitLab / npm / PyPI / OpenAI / … tokens, basic-auth URLs,
password-like assignments and high-entropy quoted strings — run only on candidate lines: a cheap
pre-filter (the plugins' own regular expressions plus a quoted-string and keyword pattern, run over
the whole text at C speed) picks the lines worth the plugins' time. Findings are cached by blob SHA
beside the index, so a warm pack scans nothing it has seen.

Each finding becomes `[REDACTED:<type>]` in the packed line; reports carry file, line and type,
never the value.

Redaction keeps code that holds no secret: credential formats (keys and tokens with their issuer's
shape, private keys, JWTs, credentials in URLs) always redact, except a URL whose password is a
placeholder (`user:pass@`, `{password}`); a high-entropy string redacts only when what comes before it on its line
(its name, its key) says credential (key, token, secret, password, auth…) — never a bare digest, SHA, ETag or nonce; a
password-like assignment only when it assigns a literal (not `password := range accounts`).
"""
from __future__ import annotations

import atexit
import hashlib
import math
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass

from repoctx.files import write_atomic
from repoctx.index import seal

#: Bump when plugins, limits or the pre-filter change: cached findings are then recomputed.
SCANNER_VERSION = "5"
#: Longest line the plugins read (their regular expressions grow quadratic on long runs of quoted
#: strings: 20,000 characters take 1.7 s). A longer line that the pre-filter marks is replaced by
#: `[REDACTED:Line Too Long To Scan]`, never passed through. A file with a line over 4,000 characters
#: is minified and never packed (`scan.MAX_LINE_CHARS`): this only meets diffs and editor buffers.
SCAN_LIMIT = 5000
TOO_LONG = "Line Too Long To Scan"
#: High-entropy limits (bits per character): detect-secrets' defaults are 4.5 / 3.0; hex at 3.0 marks
#: every commit SHA and checksum in code, which only costs context, so it is raised.
BASE64_LIMIT = 4.5
HEX_LIMIT = 3.5
_GATE = re.compile(r"[A-Za-z0-9+/=\-]{20,}|PRIVATE KEY|://[^/\s:@]+:[^/\s:@]+@")
_KEYWORD_GATE = re.compile(r"(?:pass|pwd|secret|token|key|auth|cred)[\w\"']*\s*[:=]")  # on lowercased text
#: Words that make a high-entropy string on their line a credential (identifier parts, lowercased).
CREDENTIAL_WORDS = frozenset({
    "pass", "passwd", "password", "passphrase", "pwd", "secret", "secrets", "token", "tokens", "key", "keys",
    "apikey", "auth", "authorization", "credential", "credentials", "cred", "creds", "bearer", "private",
    "salt", "signing"})
#: Words that, beside `key`, make a name a lookup key, not a credential (`cache_key`, `sortKey`).
#: Only words that never name a key that is a secret (not storage, content, hash, node, message…).
LOOKUP_KEY_WORDS = frozenset({
    "cache", "sort", "sorting", "primary", "foreign", "lookup", "partition", "index", "row", "group", "grouping",
    "dict", "map", "idempotency", "cursor", "shard", "routing", "order", "unique", "composite", "natural", "query",
    "translation", "i18n", "locale", "field", "column", "table", "dedup", "dedupe", "etag", "name", "react", "list",
    "item", "entry", "record", "dataset", "parent", "child"})
#: What a keyword's value is when it stands for a secret instead of being one (`'foobar'`,
#: `"NO SECRET :("`, `"your-api-key-here"`): every word of it one of these, and no digit.
PLACEHOLDER_WORDS = frozenset({
    "no", "not", "none", "null", "nil", "undefined", "empty", "a", "an", "the", "your", "my", "our", "here", "put",
    "insert", "enter", "replace", "change", "me", "changeme", "secret", "secrets", "password", "passwd", "pass",
    "token", "key", "api", "apikey", "example", "sample", "dummy", "fake", "test", "testing", "foo", "bar", "baz",
    "qux", "foobar", "xxx", "xxxx", "placeholder", "todo", "fixme", "redacted", "hidden", "value", "string",
    "default", "invalid", "wrong", "bad", "some", "this", "is", "it", "set", "goes", "s"})
#: Passwords in URLs that stand for one (documentation and tests), not one.
PLACEHOLDER_PASSWORDS = frozenset({"pass", "password", "passwd", "pwd", "secret", "pw", "p", "x", "xxx", "xxxx",
                                   "changeme", "example", "test", "foo", "bar", "****", "..."})
_WORDS = re.compile(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])")
#: Formats detect-secrets does not know: (type, pattern).
FORMATS = (("GitHub Token", re.compile(r"\bgithub_pat_[A-Za-z0-9_]{36,}")),
           ("Google API Key", re.compile(r"\bAIza[0-9A-Za-z_\-]{35}")),
           ("Stripe Access Key", re.compile(r"\b[rs]k_(?:live|test)_[0-9A-Za-z]{24,}")))
#: An unquoted value under a credential name (.env, YAML, shell, INI): `API_KEY=7d2f…`, `token: Vq8r…`.
_BARE_ASSIGNMENT = re.compile(r"([A-Za-z_][\w.\-]*)\s*[:=]\s*([A-Za-z0-9+/=_\-~]{16,})\s*(?:#.*)?$")
_GLUED = re.compile(r"(?:pass|passwd|password|secret|token|apikey|pwd|key)[\"'`\]]*\s*(?::=|[:=])\s*[\"'`]?$")
_PLACEHOLDER = re.compile(r"\{[^}]*\}|\$\{?\w+\}?|%s|<[^>]*>|\*+")


@dataclass(frozen=True)
class Finding:
    line: int          # 1-based
    kind: str          # detect-secrets' type, e.g. "AWS Access Key"
    value: str         # the secret as found (never reported, only replaced)


_configured = False
_configuring = threading.Lock()


def warm_up() -> None:
    """Import and configure detect-secrets in a background thread (about 0.2 s of work), for a caller
    that has idle time now — e.g. while worker processes index — and will scan soon. It is waited
    for at exit: a command that fails early would otherwise finalise the interpreter while the thread
    is still importing (one CLI run ended in SIGSEGV after its one-line error)."""
    thread = threading.Thread(target=_configure, daemon=True)
    thread.start()
    atexit.register(thread.join)


def _extra_args(plugin) -> dict:
    """The optional arguments this plugin's analyze_line takes (eager search off where it has it)."""
    import inspect
    params = set(inspect.signature(plugin.analyze_line).parameters)
    if "kwargs" in params:
        params |= set(inspect.signature(plugin.analyze_string).parameters)
    return {"enable_eager_search": False} if "enable_eager_search" in params else {}


def _configure() -> None:
    """Set detect-secrets' (process-wide) settings to our plugins and limits, once."""
    global _configured
    with _configuring:
        if _configured:
            return
        from detect_secrets.core.scan import get_filters, get_plugins
        from detect_secrets.settings import cache_bust, configure_settings_from_baseline
        cache_bust()
        settings = configure_settings_from_baseline(_settings())
        # Verification asks the issuers' APIs whether a key is live: network at run time, never.
        settings.disable_filters("detect_secrets.filters.common.is_ignored_due_to_verification_policies")
        get_filters.cache_clear()
        get_plugins()
        _configured = True


def _settings() -> dict:
    from detect_secrets.core.plugins.util import get_mapping_from_secret_type_to_class
    plugins = []
    for cls in get_mapping_from_secret_type_to_class().values():
        entry = {"name": cls.__name__}
        if cls.__name__ == "Base64HighEntropyString":
            entry["limit"] = BASE64_LIMIT
        elif cls.__name__ == "HexHighEntropyString":
            entry["limit"] = HEX_LIMIT
        elif cls.__name__ == "IPPublicDetector":
            continue  # addresses in code are configuration, not credentials
        plugins.append(entry)
    return {"plugins_used": plugins}


class SecretScanner:
    """Finds secrets in file texts; caches findings by content hash in `cache_path` (if given)."""

    def __init__(self, cache_path: str | None = None):
        self.cache_path = cache_path
        self._cache: dict[str, list[tuple[int, str, str]]] = {}
        self._dirty = False
        self._plugins: list | None = None  # (plugin, extra analyze_line arguments), once configured
        if cache_path:
            # Sealed (index/seal.py): "no secret in this blob" is believed only if this user's repoctx
            # said so; a damaged, forged or foreign cache is rescanned, with one warning.
            stored = seal.read_sealed(cache_path, "secrets", "secrets cache")
            if isinstance(stored, tuple) and len(stored) == 2 and stored[0] == SCANNER_VERSION:
                self._cache = stored[1]

    def _candidates(self, text: str) -> dict[int, bool]:
        """Lines (1-based) that some plugin might flag → whether every plugin must look (True) or
        only the keyword one (a password-like assignment and nothing else). Every key and token
        format, and what the entropy plugins measure, is a run of 20+ letters and digits with both
        in it; add private key headers and credentials in URLs. Simple patterns only: Python's
        regular expressions stay fast on them, not on the plugins' own."""
        lines: dict[int, bool] = {}
        for rx, subject, full in ((_GATE, text, True), (_KEYWORD_GATE, text.lower(), False)):
            line, pos = 1, 0
            for m in rx.finditer(subject):
                run = m.group()
                if full and run[0] not in "P:" and not (any(c.isdigit() for c in run) and any(c.isalpha() for c in run)):
                    continue  # "=====" underlines, long words: no key looks like that
                line += subject.count("\n", pos, m.start())
                pos = m.start()
                lines[line] = lines.get(line, False) or full
        return lines

    def scan(self, path: str, text: str, key: str | None = None) -> list[Finding]:
        """The secrets in one file's text. `key` (the blob SHA) names it in the cache."""
        key = key or hashlib.sha1(text.encode("utf-8", "surrogatepass")).hexdigest()
        hit = self._cache.get(key)
        if hit is None:
            hit = self._cache[key] = self._scan(path, text)
            self._dirty = True
        return [Finding(*f) for f in hit]

    def _scan(self, path: str, text: str) -> list[tuple[int, str, str]]:
        candidates = self._candidates(text)
        if not candidates:
            return []
        from detect_secrets.core.scan import _is_filtered_out, get_code_snippet, get_plugins
        _configure()
        if self._plugins is None:
            self._plugins = [(p, _extra_args(p)) for p in get_plugins()]
        plugins = self._plugins
        keyword = [(p, extra) for p, extra in plugins if type(p).__name__ == "KeywordDetector"]
        lines = text.split("\n")
        found: set[tuple[int, str, str]] = set()
        for n, full in sorted(candidates.items()):
            if n > len(lines):
                continue
            line = lines[n - 1]
            if len(line) > SCAN_LIMIT:
                found.add((n, TOO_LONG, ""))
                continue
            context = None
            for plugin, extra in plugins if full else keyword:
                # The plugin directly, not through detect-secrets' per-call signature inspection.
                hits = plugin.analyze_line(filename=path, line=line, line_number=n, context=context, **extra)
                for secret in hits:
                    if context is None:
                        context = get_code_snippet(lines=lines, line_number=n)
                    value = secret.secret_value
                    if value and not _is_filtered_out(required_filter_parameters=["secret"], filename=path,
                                                      secret=value, plugin=plugin, line=line) \
                            and not _is_filtered_out(required_filter_parameters=["context"], filename=path,
                                                     secret=value, plugin=plugin, line=line, context=context):
                        if _is_secret(secret.type, value, line):
                            found.add((n, secret.type, value))
            found.update((n, kind, value) for kind, value in _own_findings(line))
        return sorted(found)

    def save(self) -> None:
        """Write new findings to the cache (atomically; a failure only costs a rescan next time)."""
        if not (self._dirty and self.cache_path):
            return
        try:
            write_atomic(self.cache_path, seal.dump((SCANNER_VERSION, self._cache), "secrets"))
            self._dirty = False
        except OSError:
            pass


def _own_findings(line: str) -> list[tuple[str, str]]:
    """What detect-secrets misses: the `FORMATS`, and an unquoted random-looking value (3+ digits,
    3+ letters, 3+ bits of entropy per character — not a constant's name) under a credential name."""
    hits = [(kind, m.group()) for kind, rx in FORMATS for m in rx.finditer(line)]
    m = _BARE_ASSIGNMENT.search(line)
    if m and _says_credential(m.group(1) + "="):
        value = m.group(2)
        if sum(c.isdigit() for c in value) >= 3 and sum(c.isalpha() for c in value) >= 3 and _entropy(value) >= 3.0:
            hits.append(("Secret Keyword", value))
    return hits


def _says_credential(before: str) -> bool:
    """Whether the text before a value (its name, its key) says credential: one of its words does
    (`AWS_SECRET_ACCESS_KEY`, `apiToken`), or a name that ends in one just before the `=`/`:` (`dbpassword=`).
    A name whose only credential word is `key` beside a lookup word (`cache_key`, `sortKey`) names a
    lookup key: a digest or an ordering, not a credential."""
    m = _LAST_NAME.search(before)
    if m:
        words = {w.lower() for w in _WORDS.findall(m[1])}
        if words & LOOKUP_KEY_WORDS and words & CREDENTIAL_WORDS <= {"key", "keys"}:
            return False
    return any(w.lower() in CREDENTIAL_WORDS for w in _WORDS.findall(before)) or bool(_GLUED.search(before.lower()))


_LAST_NAME = re.compile(r"([A-Za-z_][\w.\-]*)[\"'`\]]*\s*(?::=|=>|[:=])?\s*[\"'`(]?\s*$")
_PLACEHOLDER_WORD = re.compile(r"[a-z]+|\d")


def _is_placeholder(value: str) -> bool:
    """A value that stands for a secret in docs and tests (`'foobar'`, `"NO SECRET :("`): only
    PLACEHOLDER_WORDS, no digit."""
    words = _PLACEHOLDER_WORD.findall(value.lower())
    return bool(words) and all(w in PLACEHOLDER_WORDS for w in words)


def _entropy(value: str) -> float:
    return -sum(n / len(value) * math.log2(n / len(value)) for n in map(value.count, set(value)))


def _is_secret(kind: str, value: str, line: str) -> bool:
    """Whether a plugin's finding is a credential, not code that only looks random (see the module
    docstring)."""
    if kind in ("Hex High Entropy String", "Base64 High Entropy String"):
        return _says_credential(line[:max(0, line.find(value))])  # the name it is given, the key it is stored under
    if kind == "Basic Auth Credentials":
        from urllib.parse import unquote
        password = unquote(value)
        return not (password.lower() in PLACEHOLDER_PASSWORDS or _PLACEHOLDER.fullmatch(password)
                    or any(password.lower() == f"{w}{s}{w}" for w in ("pass", "password") for s in (" ", "#")))
    if kind == "Secret Keyword":  # a literal, under a name that says credential (not `"secretlint": …`)
        return any(f"{q}{value}" in line or f"{value}{q}" in line for q in "\"'`") \
            and _says_credential(line[:max(0, line.find(value))]) and not _is_placeholder(value)
    return True


_TOKEN = re.compile(r"[A-Za-z0-9+/=_\-.~]*")
_TOKEN_LEFT = re.compile(r"[A-Za-z0-9+/_\-.~]")  # not "=": the name assigned (`KEY=value`) stays
_KEY_END = re.compile(r"-----END[A-Z ]*PRIVATE KEY")


def redact_line(line: str, findings: list[Finding]) -> str:
    """The line with each finding replaced by [REDACTED:<type>]: the whole token the value sits in
    (a plugin may report only the prefix of a token, `ghp` for a GitHub token), longest first. A
    line too long to scan (a `TOO_LONG` finding in its file) is replaced whole: what it holds is unknown."""
    if len(line) > SCAN_LIMIT and any(f.kind == TOO_LONG for f in findings):
        return f"[REDACTED:{TOO_LONG}]"
    spans: list[tuple[int, int, str]] = []
    for f in sorted(findings, key=lambda f: -len(f.value)):
        if not f.value:
            continue
        if any(line.find(f.value, a, b) >= 0 for a, b, _ in spans):
            continue  # already inside a redacted token (a plugin reporting a token's prefix)
        start = line.find(f.value)
        while start >= 0:
            lo = start
            while lo > 0 and _TOKEN_LEFT.fullmatch(line[lo - 1]):
                lo -= 1
            hi = _TOKEN.match(line, start).end()
            if not any(a <= lo < b or a < hi <= b for a, b, _ in spans):
                spans.append((lo, max(hi, start + len(f.value)), f.kind))
            start = line.find(f.value, start + len(f.value))
    for lo, hi, kind in sorted(spans, reverse=True):
        line = line[:lo] + f"[REDACTED:{kind}]" + line[hi:]
    return line


def redact_lines(lines: list[str], findings: list[Finding]) -> list[str]:
    """A file's lines with every finding redacted; a private key's block is redacted to its END line."""
    out = list(lines)
    by_line: dict[int, list[Finding]] = {}
    for f in findings:
        by_line.setdefault(f.line, []).append(f)
        if f.kind == "Private Key":
            for n in range(f.line, len(lines) + 1):
                if n > f.line:
                    out[n - 1] = f"[REDACTED:{f.kind}]" if not _KEY_END.search(lines[n - 1]) else lines[n - 1]
                if _KEY_END.search(lines[n - 1]):
                    break
    for n, fs in by_line.items():
        if 0 < n <= len(out):
            too_long = any(f.kind == TOO_LONG for f in fs)  # replaced whatever its length now
            out[n - 1] = f"[REDACTED:{TOO_LONG}]" if too_long else redact_line(out[n - 1], fs)
    return out


_KEY_MATERIAL = re.compile(r"[A-Za-z0-9+/]{40,}={0,2}")


def redact_text(scanner: SecretScanner, path: str, text: str) -> tuple[str, list[Finding]]:
    """A whole text redacted (for the map), with what was found."""
    findings = scanner.scan(path, text)
    if not findings:
        return text, []
    return "\n".join(redact_lines(text.split("\n"), findings)), findings


def redact_diff(scanner: SecretScanner, diff: str) -> tuple[str, list[Finding]]:
    """A unified diff redacted line by line, each content line keeping its `+`/`-`/` ` prefix: the
    lines are scanned without their prefixes (so a prefix never joins a redacted token, and a
    private key's lines are found as in a file), and a line that is one long base64 run is key
    material whose BEGIN line may be outside the hunk."""
    from repoctx.git import diff_prefixes
    prefixes = diff_prefixes(diff)
    bodies = [line[len(p):] for p, line in zip(prefixes, diff.split("\n"))]
    findings = scanner.scan("<diff>", "\n".join(bodies))
    findings += [Finding(n, "Private Key", body) for n, (p, body) in enumerate(zip(prefixes, bodies), 1)
                 if p and _KEY_MATERIAL.fullmatch(body)]
    if not findings:
        return diff, []
    return "\n".join(p + body for p, body in zip(prefixes, redact_lines(bodies, findings))), findings


def left_out_rule(root: str, secret_files: bool = False, by_name: bool = False) -> Callable[[str], str | None]:
    """Why every pack leaves a file of this repository out whatever it holds, as a function of its
    path (None: kept): "secret-file" (`scan.secret_file_reason`: its name, or for `AUTH_FILES` its
    content; with `by_name` any `AUTH_FILES` name, for a text that is not the work tree's, such as a
    diff's), "ignored" (the user's `.repoctxignore`). `secret_files` keeps secret files, as the scan
    does when the user turned redaction off. Every door that shows a file's content or names its
    lines asks this: a diff (`git.read_change`), an editor buffer, an `apply` refusal. The
    `.repoctxignore` is read and compiled once, here: a door that asks about many paths (every file
    a diff changed) binds the rule once and asks it per path."""
    from repoctx.scan import AUTH_FILES, ScanOptions, _UserFilter, secret_file_reason
    user = _UserFilter(root, ScanOptions())

    def why(path: str) -> str | None:
        if not secret_files and (secret_file_reason(root, path)
                                 or by_name and path.rsplit("/", 1)[-1].lower() in AUTH_FILES):
            return "secret-file"
        return "ignored" if user.reason(path) else None
    return why


def left_out(root: str, path: str, secret_files: bool = False, by_name: bool = False) -> str | None:
    """`left_out_rule` asked about one path (a door that asks about one file only)."""
    return left_out_rule(root, secret_files, by_name)(path)


#: The warning every answer made without redaction carries, on every front end.
REDACTION_OFF = ("redaction is off (the user's --no-redact or REPOCTX_REDACT=off): secrets and secret files "
                 "(.env, private keys) are in this answer as they are")


class Redactor:
    """The one redaction point: every text that leaves the process — a packed file's lines, the map,
    a diff, a symbol's signature or doc in an editor — passes through one of these methods, and
    what was found is recorded (by file or by "<map>" / "<diff>") for the report. With `enabled`
    false every text passes unchanged and nothing is recorded."""

    def __init__(self, cache_path: str | None = None, enabled: bool = True):
        self.enabled = enabled
        self.scanner = SecretScanner(cache_path) if enabled else None
        self.findings: dict[str, list[Finding]] = {}

    def file_lines(self, path: str, text: str, key: str | None) -> list[str]:
        """A file's text as packed lines, its secrets redacted; `key` (the blob SHA) names it in the
        scanner's cache (None for an unsaved buffer)."""
        from repoctx.files import split_lines
        lines = split_lines(text)
        if self.scanner:
            self.findings[path] = found = self.scanner.scan(path, text, key)
            if found:
                lines = redact_lines(lines, found)
        return lines

    def text(self, what: str, text: str) -> str:
        """A whole generated text (the map, a graph's names) redacted, its findings recorded under
        `what`; "<diff>" is a unified diff (`redact_diff`)."""
        if not self.scanner or not text:
            return text
        redact = (lambda s, _, t: redact_diff(s, t)) if what == "<diff>" else redact_text
        text, self.findings[what] = redact(self.scanner, what, text)
        return text

    def left_out_rule(self, root: str, by_name: bool = False) -> Callable[[str], str | None]:
        """`left_out_rule` as this redactor's packs decide it: secret files are kept only when the
        user turned redaction off."""
        return left_out_rule(root, secret_files=not self.enabled, by_name=by_name)

    @property
    def warnings(self) -> list[str]:
        """What every answer made with this redactor must say: that redaction is off, if it is."""
        return [] if self.enabled else [REDACTION_OFF]

    def snippet(self, path: str, text: str) -> str:
        """Text taken from a file whose lines were read through `file_lines` (a signature, a doc
        comment): every secret found in that file is redacted wherever it appears in the text."""
        found = self.findings.get(path) if self.scanner else None
        if not found:
            return text
        return "\n".join(redact_line(line, found) for line in text.split("\n"))

    def derived(self, changed) -> Redactor:
        """A redactor sharing this one's scanner and cache, without the findings of `changed` files."""
        new = Redactor.__new__(Redactor)
        new.enabled, new.scanner = self.enabled, self.scanner
        gone = set(changed)
        new.findings = {p: v for p, v in self.findings.items() if p not in gone}
        return new

    def save(self) -> None:
        if self.scanner:
            self.scanner.save()
