"""Make the README's picture of ``convo view``: docs/view.png.

    python benchmarks/screenshot.py              # writes docs/view.png
    python benchmarks/screenshot.py -o /tmp/x.png

The page is what ``convo view`` writes for a small file: convo.testing.showcase's exchange (every
kind of block, a refusal, a tool error, a rule violation) followed by the bundled transcripts
whose first user turn is in Latin script (the machine's Chromium may lack fonts for the others).
Headless Chromium (the system's, through Playwright) opens it, chooses the showcase line, and
takes a 1280x800 screenshot. Nothing is downloaded.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).parents[1]
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run", "--hide-scrollbars"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("-o", "--output", default=str(ROOT / "docs" / "view.png"))
    ap.add_argument("--chromium", default="/usr/bin/chromium")
    args = ap.parse_args()

    import orjson
    from playwright.sync_api import sync_playwright

    from convo.codec.lines import RawLine, decode_line, encode_value
    from convo.testing.showcase import showcase

    lines = [encode_value(showcase())]
    for n, raw in enumerate((ROOT / "fixtures" / "transcripts.jsonl").read_bytes().splitlines(), 1):
        try:
            decode_line(RawLine("t", n, raw))
            obj = orjson.loads(raw)
            first = next(m["content"] for m in obj["messages"] if m["role"] == "user")
        except Exception:  # noqa: S112 - the corpus's broken lines are not for the picture
            continue
        if isinstance(first, str) and first.isascii() and len(lines) < 30:
            lines.append(raw)
    with tempfile.TemporaryDirectory() as d:
        src, page = Path(d) / "transcripts.jsonl", Path(d) / "page.html"
        src.write_bytes(b"\n".join(lines) + b"\n")
        subprocess.run([sys.executable, "-m", "convo.cli", "view", str(src), "-o", str(page), "-q",
                        "--title", "convo view · transcripts.jsonl"], check=True)
        with sync_playwright() as p:
            ctx = p.chromium.launch_persistent_context(str(Path(d) / "profile"), executable_path=args.chromium,
                                                       headless=True, args=ARGS,
                                                       viewport={"width": 1280, "height": 800})
            tab = ctx.new_page()
            tab.goto(page.as_uri())
            tab.wait_for_selector("body[data-ready='1']")
            tab.locator("#rows-body tr").first.click()
            tab.wait_for_selector("#detail .banner.refusal")
            tab.locator("#detail details.thinking").first.locator("summary").click()
            tab.evaluate("document.getElementById('detail').scrollTop = 240")
            Path(args.output).parent.mkdir(parents=True, exist_ok=True)
            tab.screenshot(path=args.output)
            ctx.close()
    print(f"wrote {args.output} ({Path(args.output).stat().st_size / 1024:.0f} KB)")


if __name__ == "__main__":
    main()
