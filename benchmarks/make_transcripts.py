"""Write fixtures/transcripts.jsonl: the README quickstart's logged transcripts (seeded, reproducible).

200 lines: 195 conversations as they were logged for older models (claude-sonnet-4-5,
claude-3-7-sonnet-20250219, claude-opus-4-5, ...; with prefill, temperature / top_k, budget
thinking, base64 images, tool loops, system prompts) from convo's seeded generator, and 5 broken
lines of the kinds real logs hold (a line cut short, a log prefix, wrong types), so the quickstart's
summary shows rejects. Run from the repository root:

    python benchmarks/make_transcripts.py            # rewrites fixtures/transcripts.jsonl
    python benchmarks/make_transcripts.py --check    # exit 1 if the committed file differs
"""

from __future__ import annotations

import sys
from pathlib import Path

from convo import dumps
from convo.testing.fixtures import logged_conversations

SEED = "readme-quickstart"
TARGET = Path(__file__).resolve().parents[1] / "fixtures" / "transcripts.jsonl"


def broken_lines(good: list[bytes]) -> dict[int, bytes]:
    """The broken lines, by the 0-based position they take in the file."""
    return {
        23: good[23][: len(good[23]) // 2],  # the writer died mid-line
        61: b'2025-06-01T12:00:00Z INFO request=' + good[61][:120],  # a log line, not JSON
        97: b'{"model": "claude-sonnet-4-5", "max_tokens": 1024, "messages": "Summarise this."}',
        142: b'{"model": "claude-opus-4-5", "max_tokens": "1024", "messages": [{"role": "user", "content": "Hi"}]}',
        188: b'{"model": "claude-sonnet-4-5", "max_tokens": 512, "messages": [{"role": "user", "content": [{"type": "text"}]}]}',
    }


def build() -> bytes:
    """The bytes of fixtures/transcripts.jsonl."""
    good = [dumps(c) for c in logged_conversations(200, SEED, max_turns=14)]
    broken = broken_lines(good)
    lines = [broken.get(i, line) for i, line in enumerate(good)]
    return b"\n".join(lines) + b"\n"


def main(argv: list[str]) -> int:
    data = build()
    if "--check" in argv:
        same = TARGET.exists() and TARGET.read_bytes() == data
        print(f"{TARGET}: {'up to date' if same else 'DIFFERS from the generator'}")
        return 0 if same else 1
    TARGET.parent.mkdir(parents=True, exist_ok=True)
    TARGET.write_bytes(data)
    n = data.count(b"\n")
    print(f"wrote {TARGET} ({n} lines, {len(data) / 1e6:.2f} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
