"""Tokens: exact counts, offline, for the encodings repoctx bundles; clear errors for the rest.

repoctx counts with the Rust BPE tokenizer of the `bpe-openai` wheel (the same vocabulary files as
tiktoken, a different algorithm and code base); every count is checked against tiktoken's, the
reference, over a large corpus: this repository's source, a slice of the standard library and random
Unicode with lone surrogates and special-token text."""
from __future__ import annotations

import json
import random
import sysconfig
from pathlib import Path
import subprocess
import sys

import pytest
from bpe_openai import _bindings as rust_bpe
from hypothesis import given, settings
from hypothesis import strategies as st

from repoctx.tokens import BUNDLED, EncodingUnavailable, count, count_parts, get_encoding

TEXTS = [
    "",
    "hello world",
    "def parse_http_header(raw: bytes) -> dict[str, str]:\n    return {k.strip(): v for k, v in pairs(raw)}\n",
    "export const retryWithBackoff = async (fn, n = 3) => { try { return await fn(); } catch (e) { throw e; } };",
    'func (c *Cart) Total() float64 {\n\tsum := 0.0\n\tfor _, v := range c.Items {\n\t\tsum += v\n\t}\n}\n',
    "Grüße, café, naïve — 日本語のテキスト, 中文, Ελληνικά, עברית, العربية 🎉👩‍💻🇪🇺",
    "    \t\t\n\n\r\n   trailing   ",
    "<|endoftext|> and <|fim_prefix|> are plain text in a file",
    "x" * 3000 + " " + "ab" * 777,
    "0123456789" * 50 + " 3.14159e-10 0xDEADBEEF",
]


RUST = {name: rust_bpe.tokenizer_for_encoding(name) for name in BUNDLED}


@pytest.fixture(scope="module", params=BUNDLED)
def pair(request):
    return get_encoding(request.param), RUST[request.param]


@pytest.mark.parametrize("text", TEXTS, ids=range(len(TEXTS)))
def test_counts_equal_an_independent_tokenizer(pair, text):
    enc, rust = pair
    n = count(text, enc)
    assert n == rust.count(text) == len(rust.encode(text))
    assert enc.decode(enc.encode_ordinary(text)) == text


@settings(max_examples=150, deadline=None)
@given(text=st.text(max_size=300))
def test_counts_equal_an_independent_tokenizer_on_any_text(text):
    for name in BUNDLED:
        assert count(text, get_encoding(name)) == RUST[name].count(text)


def test_known_token_ids():
    assert get_encoding("cl100k_base").encode_ordinary("hello world") == [15339, 1917]
    assert get_encoding("o200k_base").encode_ordinary("hello world") == [24912, 2375]


def test_special_token_text_counts_as_the_plain_text_it_is():
    enc = get_encoding("o200k_base")
    with pytest.raises(ValueError):  # what plain tiktoken does with it
        enc.encode("<|endoftext|>")
    assert count("<|endoftext|>", enc) == RUST["o200k_base"].count("<|endoftext|>") > 1


@pytest.mark.parametrize("name,encoding", [
    (None, "o200k_base"), ("o200k_base", "o200k_base"), ("cl100k_base", "cl100k_base"),
    ("gpt-4o", "o200k_base"), ("gpt-4o-mini", "o200k_base"), ("gpt-4", "cl100k_base"),
    ("gpt-3.5-turbo", "cl100k_base"), ("text-embedding-3-small", "cl100k_base"), ("o200k_harmony", "o200k_harmony"),
])
def test_model_names_map_to_their_encoding(name, encoding):
    assert get_encoding(name).name == encoding


def test_an_unknown_name_lists_the_encodings():
    with pytest.raises(EncodingUnavailable) as e:
        get_encoding("o300k_base")
    message = str(e.value)
    assert message == ("unknown encoding or model 'o300k_base'; use one of o200k_base, cl100k_base, o200k_harmony "
                       "or a model name such as gpt-4o")


@pytest.mark.parametrize("name", ["r50k_base", "p50k_base", "text-davinci-003"])
def test_an_encoding_not_bundled_says_what_is_available_offline(name):
    with pytest.raises(EncodingUnavailable, match=r"is not available offline; available: o200k_base, cl100k_base"):
        get_encoding(name)


OFFLINE = r"""
import json, os, socket, sys
def refuse(*args, **kwargs):
    raise OSError("network is off in this test")
socket.socket.connect = socket.create_connection = socket.getaddrinfo = refuse
from repoctx.tokens import count, get_encoding
counts = {n: count(sys.argv[1], get_encoding(n)) for n in ("o200k_base", "cl100k_base", "gpt-4o")}
reference = {n: len(get_encoding(n).encode_ordinary(sys.argv[1])) for n in ("o200k_base", "cl100k_base", "gpt-4o")}
print(json.dumps({"counts": counts, "reference": reference, "cache": sorted(os.listdir(os.environ["TIKTOKEN_CACHE_DIR"]))}))
"""


def test_encodings_load_from_installed_packages_with_the_network_off(tmp_path):
    cache = tmp_path / "empty-cache"  # nothing cached yet: a download would be the only other source
    text = TEXTS[2]
    r = subprocess.run([sys.executable, "-c", OFFLINE, text], capture_output=True, text=True, timeout=120,
                       env={"PATH": "/usr/bin:/bin", "TIKTOKEN_CACHE_DIR": str(cache), "HOME": str(tmp_path)})
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["counts"] == out["reference"] == {"o200k_base": count(text, get_encoding("o200k_base")),
                                                 "cl100k_base": count(text, get_encoding("cl100k_base")),
                                                 "gpt-4o": count(text, get_encoding("o200k_base"))}
    # tiktoken's own cache keys: sha1 of the download URL of each bundled file
    keys = sorted(["fb374d419588a4632f3f557e76b4b70aebbca790", "9b5ad71b2ce5302211f9c61530b329a4922fc6a4"])
    assert [c for c in out["cache"] if "." not in c] == keys
    # beside each, the parsed ranks that later processes load instead of parsing the file again
    assert sorted(c.split(".")[0] for c in out["cache"] if c.endswith(".repoctx-ranks.marshal")) == keys


def test_a_damaged_ranks_copy_is_rebuilt_and_counts_stay_exact(tmp_path):
    code = ("import glob, os, sys; from repoctx.tokens import get_encoding; "
            "[open(p, 'wb').write(b'garbage' if i % 2 else b'i\\x05\\x00\\x00\\x00') for i, p in "
            "enumerate(glob.glob(os.path.join(os.environ['TIKTOKEN_CACHE_DIR'], '*.marshal')))] if sys.argv[1] == 'spoil' else None; "
            "print(len(get_encoding('o200k_base').encode_ordinary(sys.argv[2])), len(get_encoding('cl100k_base').encode_ordinary(sys.argv[2])))")
    env = {"PATH": "/usr/bin:/bin", "TIKTOKEN_CACHE_DIR": str(tmp_path / "cache"), "HOME": str(tmp_path)}
    text = TEXTS[2]
    expected = f"{count(text, get_encoding('o200k_base'))} {count(text, get_encoding('cl100k_base'))}"
    for step in ("first", "spoil", "again"):
        r = subprocess.run([sys.executable, "-c", code, step, text], capture_output=True, text=True, timeout=120, env=env)
        assert r.returncode == 0, r.stderr
        assert r.stdout.split() == expected.split(), step


ROOT = Path(__file__).resolve().parent.parent


def _corpus() -> list[str]:
    own = [p.read_text(errors="replace") for p in sorted(ROOT.glob("*/**/*")) if p.suffix in (".py", ".md", ".lua", ".ts")
           and not any(part.startswith(".") or part == "node_modules" for part in p.parts[len(ROOT.parts):]) and p.is_file()]
    stdlib = sorted(Path(sysconfig.get_paths()["stdlib"]).rglob("*.py"))
    stdlib = [p.read_text(errors="replace") for p in stdlib if "site-packages" not in p.parts][::8]
    rng = random.Random(13)
    alphabet = [chr(c) for c in rng.sample(range(0x110000), 60000)]  # every plane, lone surrogates too
    alphabet += list(" \n\t\r") * 2000 + ["<|endoftext|>", "<|fim_prefix|>", "<|endofprompt|>", "\ud83d\ude00"] * 200
    noise = ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, 5000))) for _ in range(60)]
    return own + stdlib + noise


@pytest.mark.parametrize("name", [*BUNDLED, "o200k_harmony"])
def test_counts_equal_tiktoken_over_a_large_corpus(name):
    enc = get_encoding(name)
    reference = enc.tiktoken  # tiktoken's own Encoding
    texts = _corpus()
    assert sum(map(len, texts)) > 5_000_000
    assert [count(t, enc) for t in texts] == [len(reference.encode_ordinary(t)) for t in texts]



@pytest.mark.parametrize("name", [*BUNDLED, "o200k_harmony"])
def test_counting_by_parts_is_exact_and_remembered(tmp_path, name):
    enc = get_encoding(name)
    rng = random.Random(7)
    texts = _corpus()[::7]
    heads = ["<file>", "## a.py", "=== b ===", "x", "7", "é", "<|endoftext|>", "'s", "/x", " lead", "\ttab", "\nnl", "/"]
    parts = [rng.choice(heads) + rng.choice(["", "\n", " \n", "}\n\n", "\r\n", "/\n"]) + t + rng.choice(["", "\n", "  ", "\r"])
             for t in texts]
    cache = str(tmp_path / "counts.marshal")
    for sep in ("\n\n", "\n", " \n", "\n\n\n"):
        joined = sep.join(parts)
        expected = len(enc.tiktoken.encode_ordinary(joined))
        assert count_parts(parts, sep, enc, cache) == expected == count_parts(parts, sep, enc, cache)
        safe = [p for p in parts if not p[0].isspace() and p[0] != "/"]
        expected = len(enc.tiktoken.encode_ordinary(sep.join(safe)))
        assert count_parts(safe, sep, enc, cache) == expected == count_parts(safe, sep, enc, cache)
        changed = [p + "changed" for p in safe[:3]] + safe[3:]  # remembered parts are reused, new ones counted
        assert count_parts(changed, sep, enc, cache) == len(enc.tiktoken.encode_ordinary(sep.join(changed)))
