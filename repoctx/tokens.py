"""Exact token counts with tiktoken, offline.

tiktoken normally downloads its encoding files on first use. repoctx never touches the network:
the files for `o200k_base` and `cl100k_base` ship inside the `bpe-openai` wheel (gzipped, byte-for-byte
the files tiktoken expects; tiktoken re-checks their sha256 on load). Before loading an encoding we
copy its file into tiktoken's cache under the key tiktoken itself would use, so plain
`tiktoken.get_encoding` works unmodified. Any other encoding works only if tiktoken already has it
cached; otherwise the user gets a clear error naming what is available.
"""
from __future__ import annotations

import gzip
import hashlib
import os
import tempfile
from functools import lru_cache
from importlib import resources

import tiktoken

from repoctx.files import write_atomic

#: Preference order when no encoding is asked for: the newest OpenAI encoding first.
BUNDLED = ("o200k_base", "cl100k_base")
#: Encodings built only from the bundled files (o200k_harmony extends o200k_base).
OFFLINE = ("o200k_base", "cl100k_base", "o200k_harmony")
_URL = "https://openaipublic.blob.core.windows.net/encodings/{}.tiktoken"


class EncodingUnavailable(Exception):
    pass


def _cache_dir() -> str:
    """Where tiktoken looks for cached files (the same rule as tiktoken.load.read_file_cached)."""
    for var in ("TIKTOKEN_CACHE_DIR", "DATA_GYM_CACHE_DIR"):
        if os.environ.get(var):
            return os.environ[var]
    return os.path.join(tempfile.gettempdir(), "data-gym-cache")


def _seed_cache(name: str) -> None:
    """Put the bundled file for `name` where tiktoken will find it, atomically."""
    path = os.path.join(_cache_dir(), hashlib.sha1(_URL.format(name).encode()).hexdigest())
    if os.path.exists(path):
        return
    try:
        raw = gzip.decompress(resources.files("bpe_openai.data").joinpath(f"{name}.tiktoken.gz").read_bytes())
    except (ModuleNotFoundError, FileNotFoundError, OSError):
        return
    os.makedirs(os.path.dirname(path), exist_ok=True)
    write_atomic(path, raw)


@lru_cache(maxsize=None)
def get_encoding(name: str | None = None) -> tiktoken.Encoding:
    """Load an encoding by encoding name or model name ("gpt-4o"); None picks the best available."""
    if name is None:
        for candidate in BUNDLED:
            try:
                return get_encoding(candidate)
            except EncodingUnavailable:
                continue
        raise EncodingUnavailable("no token encoding is available offline; install the 'bpe-openai' package")
    if name not in tiktoken.list_encoding_names():
        try:
            name = tiktoken.encoding_name_for_model(name)
        except KeyError:
            raise EncodingUnavailable(
                f"unknown encoding or model {name!r}; encodings: {', '.join(tiktoken.list_encoding_names())}"
            ) from None
    if name not in OFFLINE:
        raise EncodingUnavailable(f"encoding {name!r} is not available offline; available: {', '.join(OFFLINE)}")
    for bundled in BUNDLED:
        _seed_cache(bundled)
    try:
        return tiktoken.get_encoding(name)
    except Exception as exc:  # the bundle is missing, so tiktoken tried (and failed) to download
        raise EncodingUnavailable(
            f"encoding {name!r} could not be loaded offline ({type(exc).__name__}); install 'bpe-openai'"
        ) from None


def count(text: str, encoding: tiktoken.Encoding) -> int:
    """Exact number of tokens `text` costs; special-token strings count as the plain text they are."""
    return len(encoding.encode_ordinary(text))
