"""Cross-check tokens.count_tokens against an independent o200k_base implementation (npm ``gpt-tokenizer``, pure JS,
its own bundled ranks) run in node. Needs benchmarks/setup.sh to have installed it under .cache/npm.

    python verify_tokenizer.py [EXTRA_FILE ...]
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tokens import count_tokens, encoding

HERE = Path(__file__).resolve().parent
NPM_DIR = HERE / ".cache" / "npm"
# Known o200k_base counts (the pair the brief pins; both also agree with gpt-tokenizer).
EXPECTED = {"hello world": 2, "The quick brown fox jumps over the lazy dog.": 10}
SAMPLES = [
    *EXPECTED,
    "",
    "   leading and trailing whitespace \n\n\t",
    "naïve café — 東京 🚀 Привет мир, नमस्ते दुनिया",
    "def f(x: int) -> int:\n    return x ** 2  # comment\n",
    "1234567890 3.14159 -42 0xdeadbeef",
    "I'm you're they'll it's WE'VE",
    '{"name":"listVMs","inputSchema":{"type":"object","required":["org_id"]}}',
]
NODE_JS = """
const {encode} = require('gpt-tokenizer/encoding/o200k_base');
const texts = JSON.parse(require('fs').readFileSync(0, 'utf8'));
process.stdout.write(JSON.stringify(texts.map((t) => encode(t))));
"""


def reference_ids(texts: list[str]) -> list[list[int]]:
    out = subprocess.run(
        ["node", "-e", NODE_JS], cwd=NPM_DIR, input=json.dumps(texts), capture_output=True, text=True, check=True
    )
    return json.loads(out.stdout)


def main(argv: list[str]) -> int:
    texts = SAMPLES + [Path(p).read_text(encoding="utf-8") for p in argv]
    failures = [f"{t!r}: {count_tokens(t)} != {n}" for t, n in EXPECTED.items() if count_tokens(t) != n]
    enc = encoding()
    for text, ref in zip(texts, reference_ids(texts), strict=True):
        ours = enc.encode(text, disallowed_special=())
        if ours != ref:
            failures.append(f"{text[:40]!r}...: tiktoken {len(ours)} tokens, gpt-tokenizer {len(ref)} (ids differ)")
    for failure in failures:
        print("FAIL", failure, file=sys.stderr)
    total = sum(count_tokens(t) for t in texts)
    checks = len(EXPECTED) + len(texts)
    print(f"{checks - len(failures)} passed, {len(failures)} failed ({total} tokens compared id by id)")
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
