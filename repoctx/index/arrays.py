"""Arrays on disk, memory-mapped: what a warm query reads of a large index without loading it.

One file holds named numpy arrays (a JSON header of names, dtypes, shapes and offsets, then the
raw data, each array 64-byte aligned). The header is checked as it is read — known dtypes only, every
array inside the file — so a damaged or crafted header fails with a ValueError, never a huge
allocation; the data itself is guarded by the file's seal (`index/cache.py`, `index/seal.py`). `read_arrays` maps the file: an array costs nothing until
its pages are touched, and the pages are the page cache's, shared between processes. Strings go
in as `StringTable`s: the UTF-8 of every string in id order, with offsets and a sorted order for
lookups by binary search — no dict of millions of strings is built by a process that looks up
fifty of them.

    write_arrays(path, {"postings": a, **StringTable.columns("vocab", terms)})
    arrays = read_arrays(path)
    vocab = StringTable.of(arrays, "vocab");  vocab["token"] → id;  vocab.name(7) → "token"
"""
from __future__ import annotations

import json
import mmap
import os
from collections.abc import Iterator, Mapping, Sequence

import numpy as np

from repoctx.files import write_atomic

_MAGIC = b"RCTXARR2"
_ALIGN = 64
#: The dtypes repoctx stores (numpy's `dtype.str`); a header naming another is refused.
DTYPES = frozenset({"|u1", "|i1", "|b1", "<i4", "<u4", "<i8", "<u8", "<f4", "<f8"})


def write_arrays(path: str, arrays: dict[str, np.ndarray], extra=None) -> None:
    """The arrays (and `extra`, any JSON value) as one file at `path`, replaced atomically; each
    array is written from its own memory, never copied into one buffer first."""
    header, offset = {}, 0
    for name, a in arrays.items():
        if a.dtype.str not in DTYPES:
            raise TypeError(f"array {name}: dtype {a.dtype.str} is not one write_arrays stores")
        header[name] = (a.dtype.str, a.shape, offset)
        offset += a.nbytes + -a.nbytes % _ALIGN
    head = json.dumps([header, extra], separators=(",", ":")).encode()
    start = len(_MAGIC) + 8 + len(head)
    start += -start % _ALIGN
    prefix = _MAGIC + start.to_bytes(8, "little") + head

    def parts():
        yield prefix + b"\0" * (start - len(prefix))
        for a in arrays.values():
            yield memoryview(np.ascontiguousarray(a)).cast("B")
            yield b"\0" * (-a.nbytes % _ALIGN)
    write_atomic(path, parts())


def read_arrays(path: str) -> tuple[dict[str, np.ndarray], object]:
    """(name → read-only array mapped from the file, extra); ValueError for a file that is not one."""
    with open(path, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        if size < len(_MAGIC) + 8:
            raise ValueError(f"not an array file: {path}")
        mm = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
    if mm[:len(_MAGIC)] != _MAGIC:
        raise ValueError(f"not an array file: {path}")
    start = int.from_bytes(mm[len(_MAGIC):len(_MAGIC) + 8], "little")
    if not len(_MAGIC) + 8 <= start <= size:
        raise ValueError(f"damaged array file: {path}")
    try:
        header, extra = json.loads(mm[len(_MAGIC) + 8:start].rstrip(b"\0"))
        entries = [(str(name), dtype, [int(n) for n in shape], int(offset))
                   for name, (dtype, shape, offset) in header.items()]
    except (ValueError, TypeError, AttributeError) as exc:
        raise ValueError(f"damaged array file: {path} ({exc})") from None
    out = {}
    for name, dtype, shape, offset in entries:
        if dtype not in DTYPES or len(shape) > 2 or min(shape, default=0) < 0 or offset < 0:
            raise ValueError(f"damaged array file: {path} (array {name})")
        dt = np.dtype(dtype)
        count = 1
        for n in shape:
            count *= n
        if start + offset + count * dt.itemsize > size:
            raise ValueError(f"truncated array file: {path}")
        out[name] = np.frombuffer(mm, dtype=dt, count=count, offset=start + offset).reshape(shape) if count \
            else np.zeros(shape, dtype=dt)
    return out, extra


class StringTable(Mapping):
    """Strings by id and ids by string, over three arrays: the UTF-8 bytes of all strings in id order,
    where each starts (n + 1 offsets), and the ids in string order (for a binary search). Iterates
    the strings in id order."""

    #: Lookups remembered per table (a long-running server asks for the same nodes edit after edit).
    MEMO = 1 << 16

    def __init__(self, blob: np.ndarray, offsets: np.ndarray, order: np.ndarray):
        self._blob, self._offsets, self._order = blob, offsets, order
        self._memo: dict[str, int] = {}  # key → id, or -1 for a key not in the table

    @staticmethod
    def columns(prefix: str, strings: Sequence[str]) -> dict[str, np.ndarray]:
        """The three arrays of `strings` (id = position), named `prefix.blob` … for `write_arrays`."""
        encoded = [s.encode("utf-8", "surrogatepass") for s in strings]
        offsets = np.zeros(len(encoded) + 1, dtype=np.int64)
        np.cumsum([len(b) for b in encoded], out=offsets[1:])
        order = np.array(sorted(range(len(strings)), key=strings.__getitem__), dtype=np.int64)
        return {f"{prefix}.blob": np.frombuffer(b"".join(encoded), dtype=np.uint8),
                f"{prefix}.offsets": offsets, f"{prefix}.order": order}

    @classmethod
    def of(cls, arrays: dict[str, np.ndarray], prefix: str) -> StringTable:
        return cls(arrays[f"{prefix}.blob"], arrays[f"{prefix}.offsets"], arrays[f"{prefix}.order"])

    def strings(self) -> Sequence[str]:
        """The strings as a sequence by id (each decoded when it is read)."""
        return _Strings(self)

    def name(self, i: int) -> str:
        """The string of id `i`."""
        a, b = self._offsets[i], self._offsets[i + 1]
        return self._blob[a:b].tobytes().decode("utf-8", "surrogatepass")

    def __getitem__(self, key: str) -> int:
        i = self._memo.get(key)
        if i is None:
            i = self._search(key)
            if len(self._memo) < self.MEMO:
                self._memo[key] = i
        if i < 0:
            raise KeyError(key)
        return i

    def _search(self, key: str) -> int:
        """The id of `key` by binary search over the strings in order; -1 when it is none of them."""
        order = self._order
        lo, hi = 0, len(order)
        while lo < hi:
            mid = (lo + hi) // 2
            found = self.name(int(order[mid]))
            if found < key:
                lo = mid + 1
            elif found > key:
                hi = mid
            else:
                return int(order[mid])
        return -1

    def __contains__(self, key) -> bool:
        if not isinstance(key, str):
            return False
        try:
            self[key]
        except KeyError:
            return False
        return True

    def __len__(self) -> int:
        return len(self._offsets) - 1

    def __iter__(self) -> Iterator[str]:
        raw, bounds = self._blob.tobytes(), self._offsets.tolist()
        if raw.isascii():  # byte offsets are character offsets: slice one decoded string
            blob = raw.decode("ascii")
            return (blob[bounds[i]:bounds[i + 1]] for i in range(len(self)))
        return (raw[bounds[i]:bounds[i + 1]].decode("utf-8", "surrogatepass") for i in range(len(self)))


class _Strings(Sequence):
    def __init__(self, table: StringTable):
        self._table = table

    def __len__(self) -> int:
        return len(self._table)

    def __getitem__(self, i):
        if isinstance(i, slice):
            return [self._table.name(k) for k in range(*i.indices(len(self)))]
        return self._table.name(i)


class ListTable(Mapping):
    """String → list of ints (a `StringTable` of keys, and each key's values as one run of a flat
    array, CSR style)."""

    def __init__(self, keys: StringTable, indptr: np.ndarray, values: np.ndarray):
        self._keys, self._indptr, self._values = keys, indptr, values

    @staticmethod
    def columns(prefix: str, table: Mapping[str, Sequence[int]]) -> dict[str, np.ndarray]:
        keys = list(table)
        indptr = np.zeros(len(keys) + 1, dtype=np.int64)
        np.cumsum([len(table[k]) for k in keys], out=indptr[1:])
        values = np.fromiter((v for k in keys for v in table[k]), dtype=np.int64, count=int(indptr[-1]))
        return {**StringTable.columns(f"{prefix}.keys", keys), f"{prefix}.indptr": indptr, f"{prefix}.values": values}

    @classmethod
    def of(cls, arrays: dict[str, np.ndarray], prefix: str) -> ListTable:
        return cls(StringTable.of(arrays, f"{prefix}.keys"), arrays[f"{prefix}.indptr"], arrays[f"{prefix}.values"])

    def __getitem__(self, key: str) -> list[int]:
        i = self._keys[key]
        return self._values[self._indptr[i]:self._indptr[i + 1]].tolist()

    def __contains__(self, key) -> bool:
        return key in self._keys

    def __len__(self) -> int:
        return len(self._keys)

    def __iter__(self) -> Iterator[str]:
        return iter(self._keys)


class StringListTable(ListTable):
    """String → list of strings: a `ListTable` of ids into a `StringTable` of the distinct values."""

    def __init__(self, ids: ListTable, values: StringTable):
        super().__init__(ids._keys, ids._indptr, ids._values)
        self._strings = values

    @staticmethod
    def columns(prefix: str, table: Mapping[str, Sequence[str]]) -> dict[str, np.ndarray]:
        value_id: dict[str, int] = {}
        ids = {k: [value_id.setdefault(v, len(value_id)) for v in vs] for k, vs in table.items()}
        return {**ListTable.columns(f"{prefix}.ids", ids), **StringTable.columns(f"{prefix}.values", list(value_id))}

    @classmethod
    def of(cls, arrays: dict[str, np.ndarray], prefix: str) -> StringListTable:
        return cls(ListTable.of(arrays, f"{prefix}.ids"), StringTable.of(arrays, f"{prefix}.values"))

    def __getitem__(self, key: str) -> list[str]:
        return [self._strings.name(i) for i in super().__getitem__(key)]
