"""Exact token counts, offline: bpe-openai's Rust BPE counts, tiktoken is the reference and does the rest.

Counting goes to bpe-openai where it has the encoding (o200k_base, cl100k_base, and o200k_harmony,
which is o200k_base plus special tokens), else to tiktoken; both give identical counts
(tests/test_tokens.py checks them against each other over this repository, the standard library and
random Unicode).

tiktoken normally downloads its encoding files on first use. repoctx never touches the network:
the files for `o200k_base` and `cl100k_base` ship inside the `bpe-openai` wheel (gzipped, byte-for-byte
the files tiktoken expects; tiktoken re-checks their sha256 on load). Before loading an encoding we
copy its file into tiktoken's cache under the key tiktoken itself would use, so plain
`tiktoken.get_encoding` works unmodified. Any other encoding works only if tiktoken already has it
cached; otherwise the user gets a clear error naming what is available.
"""
from __future__ import annotations

import hashlib
import os
import re
import sys
import tempfile
import threading
from functools import cache, cached_property
from typing import TYPE_CHECKING

from repoctx.files import write_atomic
from repoctx.index import seal

#: Preference order when no encoding is asked for: the newest OpenAI encoding first.
BUNDLED = ("o200k_base", "cl100k_base")
#: Encodings built only from the bundled files (o200k_harmony extends o200k_base).
OFFLINE = ("o200k_base", "cl100k_base", "o200k_harmony")
if TYPE_CHECKING:  # tiktoken loads when an encoding is named or tiktoken itself is needed
    import tiktoken

_URL = "https://openaipublic.blob.core.windows.net/encodings/{}.tiktoken"


class EncodingUnavailable(Exception):
    pass


def _cache_dir() -> str:
    """Where tiktoken looks for cached files (the same rule as tiktoken.load.read_file_cached)."""
    for var in ("TIKTOKEN_CACHE_DIR", "DATA_GYM_CACHE_DIR"):
        if os.environ.get(var):
            return os.environ[var]
    return os.path.join(tempfile.gettempdir(), "data-gym-cache")


def _cached_file(name: str) -> str:
    """Where tiktoken caches the file of encoding `name`."""
    return os.path.join(_cache_dir(), hashlib.sha1(_URL.format(name).encode()).hexdigest())


def _package_folders() -> list[str]:
    """bpe-openai's package folders, found without importing the package: its __init__ builds a model
    registry (~0.35 s) that counting never uses."""
    import importlib.util
    try:
        spec = importlib.util.find_spec("bpe_openai")
    except (ImportError, ValueError):
        return []
    return list(spec.submodule_search_locations or ()) if spec else []


def _bundled(name: str) -> str | None:
    """The path of the bundled (gzipped) file of `name`, or None: looked up on disk, not through
    `importlib.resources`, which imports the package (every run would pay for its registry while
    tiktoken's cache lacks the file, which is always when only bpe-openai counts)."""
    for folder in _package_folders():
        path = os.path.join(folder, "data", f"{name}.tiktoken.gz")
        if os.path.isfile(path):
            return path
    return None


def _seed_cache(name: str) -> None:
    """Put the bundled file for `name` where tiktoken will find it, atomically."""
    path = _cached_file(name)
    bundled = None if os.path.exists(path) else _bundled(name)
    if bundled is None:
        return
    import gzip
    try:
        with open(bundled, "rb") as f:
            raw = gzip.decompress(f.read())
    except OSError:
        return
    os.makedirs(os.path.dirname(path), exist_ok=True)
    write_atomic(path, raw)


def encoding_name(name: str | None = None) -> str:
    """The encoding `get_encoding(name)` loads, without loading it (a warm index, `stats` or `search`
    need only the name: loading o200k_base costs ~0.5 s)."""
    if name is None:
        for candidate in BUNDLED:
            if os.path.exists(_cached_file(candidate)) or _bundled(candidate) is not None:
                return candidate
        raise EncodingUnavailable("no token encoding is available offline; install the 'bpe-openai' package")
    if name in OFFLINE:
        return name
    import tiktoken
    if name not in tiktoken.list_encoding_names():
        try:
            name = tiktoken.encoding_name_for_model(name)
        except KeyError:
            raise EncodingUnavailable(
                f"unknown encoding or model {name!r}; use one of {', '.join(OFFLINE)} or a model name such as gpt-4o"
            ) from None
    if name not in OFFLINE:
        raise EncodingUnavailable(f"encoding {name!r} is not available offline; available: {', '.join(OFFLINE)}")
    return name


class Encoding:
    """An encoding by name. Counts go to the fastest exact backend — bpe-openai's Rust BPE, 1.6× to
    3× tiktoken on code (1.2-1.7× on random Unicode), loaded in ~0.04 s against tiktoken's ~0.1-0.3 s (bench/token_backends.py)
    — or to tiktoken where bpe-openai lacks the encoding; everything else (`encode`, `decode`, ...)
    goes to tiktoken's Encoding, the reference, loaded on first use."""

    def __init__(self, name: str, counter=None):
        """`counter`: a function that returns bpe-openai's count function for this encoding (built
        on first count: ~0.05 s that a pack whose counts are all remembered never spends), or None."""
        self.name = name
        self._make_counter = counter
        self._counter = None
        self._warming: threading.Thread | None = None  # see warm
        self._blocks: dict[bytes, int] = {}  # see count_blockwise

    @cached_property
    def tiktoken(self) -> tiktoken.Encoding:
        return _load_tiktoken(self.name)

    def __getattr__(self, attr: str):
        if attr.startswith("__") or attr in ("name", "tiktoken", "_counter", "_make_counter", "_warming", "_blocks"):
            raise AttributeError(attr)  # not set yet (a copy being built): never recurse
        return getattr(self.tiktoken, attr)

    def __repr__(self) -> str:
        return f"<Encoding {self.name!r}>"

    def warm(self) -> None:
        """Build the counter in a thread, now: bpe-openai's tokenizer takes ~0.05 s to build, which a
        command that will count (a slice pack) spends while it waits on `git ls-files` and the index
        instead of at its first count. Not a daemon thread: the interpreter never ends while it is
        inside the extension."""
        if self._counter is None and self._make_counter is not None and self._warming is None:
            self._warming = threading.Thread(target=self._build, name="repoctx-tokenizer")
            self._warming.start()

    def settle(self) -> None:
        """Wait for a `warm` in progress: before forking (a thread inside the extension at a fork could
        leave a lock held in the child) and before the first count (never two builds)."""
        if self._warming is not None:
            self._warming.join()

    def _build(self) -> None:
        try:
            self._counter = self._make_counter()
        except (ImportError, OSError, ValueError):
            pass  # `count` tries again and, failing, counts with tiktoken

    def count(self, text: str) -> int:
        """Exact number of tokens `text` costs; special-token strings count as the plain text they are."""
        if self._counter is None:
            self.settle()
        if self._counter is None:
            if self._make_counter is None:
                return len(self.tiktoken.encode_ordinary(text))
            try:  # two threads may both build it: the same tokenizer
                self._counter = self._make_counter()
            except (ImportError, OSError, ValueError):  # tiktoken counts instead, as when bpe-openai is absent
                self._make_counter = None
                return len(self.tiktoken.encode_ordinary(text))
        try:
            return self._counter(text)
        except UnicodeEncodeError:  # lone surrogates: repaired exactly as tiktoken's encode_ordinary does
            return self._counter(text.encode("utf-16", "surrogatepass").decode("utf-16", "replace"))

    def count_blockwise(self, text: str) -> int:
        """`count` (of a bundled encoding) as the sum of the counts of the text's blocks, each
        remembered in this process by digest (not the text: a long-lived server keeps little). A block
        ends after a blank line before a character that is neither whitespace nor "/", where no token
        can cross (see `count_parts`), so the sum is exact. The packs a slice pack renders while
        fitting its budget share most blocks: only the new ones are counted (a gin query pack counted
        1.4 MB in 11 renderings, each in full)."""
        known, total, start = self._blocks, 0, 0
        if len(known) > BLOCKS_KEPT:
            known.clear()
        ends = [m.end() for m in _BLOCK_END.finditer(text)] + [len(text)]
        for end in ends:
            block = text[start:end]
            key = hashlib.blake2b(block.encode("utf-8", "surrogatepass"), digest_size=16).digest()
            n = known.get(key)
            if n is None:
                n = known[key] = self.count(block)
            total, start = total + n, end
        return total


#: Where `count_blockwise` cuts: after a blank line, before a character no token can reach back over.
_BLOCK_END = re.compile(r"\n\n(?=[^\s/])")
#: Texts counted block by block (shorter ones at once), and the blocks remembered at most.
BLOCKWISE_CHARS = 16_384
BLOCKS_KEPT = 100_000


@cache
def get_encoding(name: str | None = None) -> Encoding:
    """An encoding by encoding name or model name ("gpt-4o"); None picks the best available."""
    if name is None:
        for candidate in BUNDLED:
            try:
                return get_encoding(candidate)
            except EncodingUnavailable:
                continue
        raise EncodingUnavailable("no token encoding is available offline; install the 'bpe-openai' package")
    name = encoding_name(name)
    try:
        counter = _bpe_openai(name)
    except (ImportError, OSError, ValueError):
        counter = None
    enc = Encoding(name, counter)
    if counter is None:
        enc.tiktoken  # noqa: B018 — fail now, with the clear error, when nothing can count
    return enc


def warm_up(name: str | None) -> None:
    """Start building the counter of the encoding `name` (or the best available) names, as
    `Encoding.warm`; an encoding that cannot load says so later, where it is used."""
    try:
        get_encoding(encoding_name(name)).warm()
    except EncodingUnavailable:
        pass


def _load_tiktoken(name: str) -> tiktoken.Encoding:
    for bundled in BUNDLED:
        _seed_cache(bundled)
    try:
        return _fast_load(name)
    except Exception as exc:  # noqa: BLE001 — the bundle is missing, so tiktoken tried (and failed) to download
        raise EncodingUnavailable(
            f"encoding {name!r} could not be loaded offline ({type(exc).__name__}); install 'bpe-openai'"
        ) from None


def _fast_load(name: str) -> tiktoken.Encoding:
    """`tiktoken.get_encoding(name)`, with the parsed ranks read from a sealed marshal copy beside
    tiktoken's cached file (keyed by that file's size and mtime): parsing the base64 file and
    checking its sha256 costs ~0.3 s, reading the copy ~0.05 s. The copy sits in a shared temporary
    folder, so it is sealed (index/seal.py): another user's file, or a damaged one, is never decoded.
    The Encoding is built by tiktoken's own constructor from the same arguments (name, pattern,
    ranks, special tokens)."""
    import tiktoken
    import tiktoken_ext.openai_public as public
    constructor = getattr(public, name, None)
    source = _cached_file("o200k_base" if name.startswith("o200k") else name)
    if constructor is None or not os.path.exists(source):
        return tiktoken.get_encoding(name)
    st = os.stat(source)
    copy = f"{source}.{st.st_size}-{st.st_mtime_ns}.repoctx-ranks.marshal"  # sealed marshal
    with _LOAD_LOCK:  # the constructor's loader is swapped for the duration
        return _build(constructor, copy)


_LOAD_LOCK = threading.Lock()


def _build(constructor, copy: str) -> tiktoken.Encoding:
    import tiktoken
    import tiktoken_ext.openai_public as public
    original = public.load_tiktoken_bpe
    context = f"tiktoken-ranks/{os.path.basename(copy)}"
    ranks = seal.read_sealed(copy, context, "token ranks copy")
    if isinstance(ranks, dict):
        public.load_tiktoken_bpe = lambda *a, **k: ranks
    else:
        def load_and_keep(*args, **kwargs):
            ranks = original(*args, **kwargs)
            try:
                write_atomic(copy, seal.dump(ranks, context))
            except OSError:
                pass  # only costs time next run
            return ranks
        public.load_tiktoken_bpe = load_and_keep
    try:
        return tiktoken.Encoding(**constructor())
    finally:
        public.load_tiktoken_bpe = original


def _bpe_openai(name: str):
    """A function that builds bpe-openai's Rust tokenizer for encoding `name` (its o200k_base for
    o200k_harmony, which has the same ranks and pattern and differs only in special tokens, which
    ordinary counting never uses) and returns its count function, or None when bpe-openai lacks the
    encoding. Its extension module is loaded now, on its own (~1 ms: the package's __init__ builds a
    model registry that costs ~0.35 s); the tokenizer, ~0.05 s, when the function is called."""
    base = {"o200k_harmony": "o200k_base"}.get(name, name)
    module = sys.modules.get("bpe_openai._bindings")
    if module is None:
        import importlib.machinery
        import importlib.util
        found = [os.path.join(d, f) for d in _package_folders() for f in sorted(os.listdir(d))
                 if f.startswith("_bindings") and f.endswith(tuple(importlib.machinery.EXTENSION_SUFFIXES))]
        if not found:
            return None
        loader = importlib.machinery.ExtensionFileLoader("bpe_openai._bindings", found[0])
        module = importlib.util.module_from_spec(importlib.util.spec_from_loader(loader.name, loader))
        loader.exec_module(module)
        sys.modules[loader.name] = module
    if base not in module.supported_encodings():
        return None
    return lambda: module.tokenizer_for_encoding(base).count


def counts_cache(index_path: str | None) -> str | None:
    """Where the counts of pack parts are remembered for the index at `index_path` (None: nowhere)."""
    return os.path.join(os.path.dirname(index_path), "counts.sealed") if index_path else None


def count_parts(parts: list[str], sep: str, encoding: Encoding, cache_path: str | None = None) -> int:
    """Exact count of `sep.join(parts)` as the sum of its parts' counts, each remembered by content
    in `cache_path` (a warm whole pack then counts only what changed). Exact because each part after
    the first starts where no token of the bundled encodings can cross: after a separator that ends
    in a newline, at a character that is neither whitespace nor "/" (no pre-token holds a line break
    followed by anything else, and none looks behind). Otherwise the joined text is counted."""
    if not (sep.endswith("\n") and encoding.name in OFFLINE
            and all(p[:1] and not p[0].isspace() and p[0] != "/" for p in parts[1:])):
        return count(sep.join(parts), encoding)
    return sum(count_each(parts, sep, encoding, cache_path))


def count_each(parts: list[str], sep: str, encoding: Encoding, cache_path: str | None = None) -> list[int]:
    """The count of each part followed by `sep` (the last one alone), remembered by content in
    `cache_path` as `count_parts` does."""
    known: dict[bytes, int] = {}
    if cache_path:  # sealed (index/seal.py): a damaged or forged count is never believed
        stored = seal.read_sealed(cache_path, "counts", "token counts cache")
        if isinstance(stored, tuple) and len(stored) == 2 and stored[0] == (COUNTS_VERSION, encoding.name) \
                and isinstance(stored[1], dict):
            known = stored[1]
    used: dict[bytes, int] = {}
    each = []
    for i, part in enumerate(parts):
        piece = part + sep if i < len(parts) - 1 else part
        key = hashlib.blake2b(piece.encode("utf-8", "surrogatepass"), digest_size=16).digest()
        n = known.get(key)
        if n is None:
            n = count(piece, encoding)
        used[key] = n
        each.append(n)
    if cache_path and used.keys() - known.keys():
        keep = {**known, **used} if len(known) + len(used) <= COUNTS_KEPT else used  # other formats' parts too
        try:  # a failure only costs counting again next time
            write_atomic(cache_path, seal.dump(((COUNTS_VERSION, encoding.name), keep), "counts"))
        except OSError:
            pass
    return each


COUNTS_VERSION = 1
#: Parts remembered at most (beyond that only the last text's are kept).
COUNTS_KEPT = 200_000


def count(text: str, encoding: Encoding | tiktoken.Encoding) -> int:
    """Exact number of tokens `text` costs; special-token strings count as the plain text they are."""
    if isinstance(encoding, Encoding):
        if len(text) >= BLOCKWISE_CHARS and encoding.name in OFFLINE:
            return encoding.count_blockwise(text)
        return encoding.count(text)
    return len(encoding.encode_ordinary(text))
