"""o200k_base token counting with tiktoken, working offline.

tiktoken fetches ``o200k_base.tiktoken`` from a blob store this machine cannot reach. benchmarks/setup.sh instead
takes the same ranks from the npm package ``tiktoken`` (``encoders/o200k_base.json``), rebuilds the ``.tiktoken``
file byte for byte and stores it in tiktoken's cache layout under ``benchmarks/.cache/tiktoken``. tiktoken then
loads it from the cache and checks it against the SHA-256 it pins for o200k_base, so a wrong file cannot load.

    python tokens.py --install-from PATH/o200k_base.json   # setup step: build the cache file
    python tokens.py "some text"                           # print the count
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
from functools import cache
from pathlib import Path

import tiktoken

ENCODING = "o200k_base"
# What tiktoken_ext.openai_public passes to load_tiktoken_bpe for o200k_base: the cache key is sha1(url).
O200K_URL = "https://openaipublic.blob.core.windows.net/encodings/o200k_base.tiktoken"
O200K_SHA256 = "446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d"
CACHE_DIR = Path(__file__).resolve().parent / ".cache" / "tiktoken"


def cache_path(cache_dir: Path = CACHE_DIR) -> Path:
    return cache_dir / hashlib.sha1(O200K_URL.encode()).hexdigest()


def install_from_npm_json(npm_json: Path, cache_dir: Path = CACHE_DIR) -> Path:
    """Rebuild o200k_base.tiktoken from the npm ``tiktoken`` package's compressed ranks; verify; store in cache."""
    data = json.loads(npm_json.read_text(encoding="utf-8"))
    ranks: dict[str, int] = {}
    # Each line: "<label> <first rank> <base64 token> <base64 token> ..."; ranks run consecutively.
    for line in data["bpe_ranks"].split("\n"):
        if not line:
            continue
        _, offset, *tokens = line.split(" ")
        for i, token in enumerate(tokens):
            ranks[token] = int(offset) + i
    blob = "".join(f"{tok} {rank}\n" for tok, rank in sorted(ranks.items(), key=lambda kv: kv[1])).encode()
    digest = hashlib.sha256(blob).hexdigest()
    if digest != O200K_SHA256:
        raise ValueError(f"rebuilt o200k_base has sha256 {digest}, expected {O200K_SHA256}")
    target = cache_path(cache_dir)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(".tmp")
    tmp.write_bytes(blob)
    tmp.replace(target)
    return target


@cache
def encoding() -> tiktoken.Encoding:
    if not cache_path().exists():
        raise RuntimeError(f"{cache_path()} missing: run benchmarks/setup.sh first")
    # tiktoken reads TIKTOKEN_CACHE_DIR when the encoding is first loaded; point it at our cache.
    previous = os.environ.get("TIKTOKEN_CACHE_DIR")
    os.environ["TIKTOKEN_CACHE_DIR"] = str(CACHE_DIR)
    try:
        return tiktoken.get_encoding(ENCODING)
    finally:
        if previous is None:
            del os.environ["TIKTOKEN_CACHE_DIR"]
        else:
            os.environ["TIKTOKEN_CACHE_DIR"] = previous


def count_tokens(text: str) -> int:
    """Number of o200k_base tokens in ``text`` (special-token strings are counted as ordinary text)."""
    return len(encoding().encode(text, disallowed_special=()))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--install-from", type=Path, help="npm tiktoken's encoders/o200k_base.json")
    parser.add_argument("text", nargs="?", help="text to count (default: stdin)")
    args = parser.parse_args(argv)
    if args.install_from:
        print(install_from_npm_json(args.install_from))
        return 0
    print(count_tokens(sys.stdin.read() if args.text is None else args.text))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
