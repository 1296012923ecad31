"""Tests for convo.view: the page components, the list page's data, the terminal view, and the
``convo view`` command on real files (the browser tests are in test_view_browser.py)."""

from __future__ import annotations

import base64
import html.parser
import os
import pty
import re
import subprocess
import sys
import zlib
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from convo import model as m
from convo.codec.lines import encode_value
from convo.pricing import builtin_prices
from convo.testing.showcase import HOSTILE_MARK, hostile, showcase
from convo.view import Item, Page, to_html, to_text
from convo.view._html import clean, el, esc, json_for_script, safe_url
from convo.view.page import item_text, item_title, single_page
from convo.view.render import Context, home_of, render_item
from convo.view.text import rich_renderables, sections

ROOT = Path(__file__).parents[1]
TRANSCRIPTS = ROOT / "fixtures" / "transcripts.jsonl"
REALWORLD = Path(__file__).parents[1].parent / "shared" / "realworld"


class Tags(html.parser.HTMLParser):
    """Every start tag with its attributes, and the text, of a piece of HTML."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, tuple[str, ...]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, tuple(sorted(k for k, _ in attrs))))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def parse(markup: str) -> Tags:
    p = Tags()
    p.feed(markup)
    p.close()
    return p


def article(value: Any, **kw: Any) -> str:
    return render_item(Item(value), Context(prefix="c", prices=builtin_prices(), **kw))


def page_data(page_html: str, element_id: str) -> Any:
    """The JSON a list page keeps deflated in one of its data elements."""
    start = page_html.index(f'id="{element_id}">') + len(f'id="{element_id}">')
    b64 = page_html[start:page_html.index("</script>", start)]
    return orjson.loads(zlib.decompress(base64.b64decode(b64), -15))


class TestEscaping:
    def test_esc_and_el(self) -> None:
        """Text is escaped in content and attributes; markup this package wrote is not."""
        assert esc("<a href='x'>&</a>") == "&lt;a href=&#x27;x&#x27;&gt;&amp;&lt;/a&gt;"
        assert el("b", el("i", "<x>"), title='"') == '<b title="&quot;"><i>&lt;x&gt;</i></b>'

    @given(st.text())
    def test_any_text_stays_text(self, text: str) -> None:
        """Property: whatever a user turn, a tool input or a system prompt says, the page's
        structure (its tags and attribute names) is the same as for a harmless string, and the
        text reads back as written (control characters made visible)."""
        def conv(s: str) -> m.Conversation:
            return m.Conversation(model="claude-opus-4-8", max_tokens=8, system=s or "x").user(s or "x").assistant(
                m.ToolUse("t1", "lookup", {"q": s})).user(m.ToolResult("t1", content=s or "x"))

        got, base = parse(article(conv(text))), parse(article(conv("x")))
        assert got.tags == base.tags
        if text.strip():
            assert clean(text) in "".join(got.text)

    def test_json_for_script_cannot_close_the_element(self) -> None:
        """JSON in a data element carries no '<', so no '</script>' can end it."""
        out = json_for_script({"a": "</script><!--", "b": "\u2028"})
        assert "<" not in out and orjson.loads(str(out)) == {"a": "</script><!--", "b": "\u2028"}

    def test_only_web_links(self) -> None:
        """A link goes only to an http(s) URL; anything else is shown as text."""
        assert safe_url("HTTPS://x.example/a") == "HTTPS://x.example/a"
        for bad in ("javascript:alert(1)", "data:text/html,x", " vbscript:x", "https://a b", "//evil", None, 3):
            assert safe_url(bad) is None

    def test_hostile_record_is_inert(self) -> None:
        """The hostile record: no script, handler or javascript: link gets into the markup."""
        out = to_html(hostile())
        tags = parse(out).tags
        assert sum(1 for t, _ in tags if t == "script") == 1  # the page's own
        assert not any(a.startswith("on") for _, attrs in tags for a in attrs)
        assert 'href="javascript' not in out.lower()
        assert "<svg" not in out and "<img src=x" not in out
        assert f"window.{HOSTILE_MARK}=1" in out  # shown, as text


class TestComponents:
    def test_every_block_of_the_showcase_is_drawn(self) -> None:
        """The showcase's blocks each become their element: system prompts (top-level and
        mid-conversation), image, documents, citations, thinking, tools, web search, refusal, usage."""
        out = article(showcase())
        for needle in ('class="turn system top"', "mid-conversation", 'class="thumb"', "Board deck", "download the PDF",
                       'class="citations"', 'class="thinking"', 'class="thinking redacted"', "web_search_tool_result",
                       "Paris forecast", 'class="banner refusal"', "category: cyber", 'class="usage"',
                       'class="tool-result error"'):
            assert needle in out, needle

    def test_tool_use_and_result_link_both_ways(self) -> None:
        """A tool_use links to the element of its result, which links back to it."""
        out = article(showcase())
        assert 'href="#c-messages-2-content-0"' in out and 'id="c-messages-2-content-0"' in out
        assert 'href="#c-messages-1-content-2"' in out and 'id="c-messages-1-content-2"' in out
        orphan = article(m.Conversation().user(m.ToolResult("nope", content="x")))
        assert "answers no tool_use" in orphan

    def test_violations_are_shown_at_their_path(self) -> None:
        """--model runs the rules: each violation is listed with rule, path (a link to the element
        showing it), message and hint, and the element itself is marked."""
        from convo.rules import validate

        conv = m.Conversation(model="claude-opus-4-8", max_tokens=8, temperature=0.5).user("Hi").assistant("Sure ")
        report = validate(conv)
        out = render_item(Item(conv), Context(prefix="c", violations=report.violations))
        assert 'href="#c-temperature"' in out and 'class="chip bad"' in out
        assert "prefill.unsupported" in out and 'href="#c-messages-1"' in out
        assert out.count('class="violation error"') >= 2
        assert home_of("$.messages[1].content[0].text") == "$.messages[1].content[0]"

    def test_cost_of_a_response(self) -> None:
        """The usage table prices the response from the table (1234 in, 18 out, 800 read, 96
        written, one web search on Opus 4.8)."""
        cost = 1234 * 5e-6 + 18 * 25e-6 + 800 * 0.5e-6 + 96 * 6.25e-6 + 0.01
        assert f"${cost:,.6f}" in article(showcase())

    def test_large_images_are_described_not_embedded(self) -> None:
        """An image over the limit is described with its size; one of another type not shown."""
        img = m.Image(m.Base64Source("image/png", "A" * 4000))
        out = render_item(Item(m.Conversation().user(img)), Context(max_image_chars=1000))
        assert "not embedded" in out and "data:image" not in out


class TestListPage:
    def test_nothing_is_lost(self) -> None:
        """Every line becomes a row and an HTML entry, in order, across many chunks; bad lines
        are rows too."""
        page = Page(chunk_chars=2000, text_chunk_chars=3000, validate=False)
        lines = TRANSCRIPTS.read_bytes().splitlines()
        from convo.codec.lines import RawLine, decode_line
        from convo.errors import DecodeError

        for i, raw in enumerate(lines, 1):
            try:
                page.add(decode_line(RawLine("t.jsonl", i, raw)).value, file="t.jsonl", line=i)
            except DecodeError as e:
                page.add_error(file="t.jsonl", line=i, error=str(e), raw=raw)
        out = page.html()
        meta = orjson.loads(out[out.index('id="convo-meta">') + 16:out.index("</script>", out.index('id="convo-meta">'))])
        rows = page_data(out, "convo-index")
        assert [r[0] for r in rows] == list(range(1, len(lines) + 1))
        assert len(meta["chunks"]) > 10 and len(meta["text_chunks"]) > 5
        htmls = [h for i in range(len(meta["chunks"])) for h in page_data(out, f"convo-h{i}")]
        texts = [t for i in range(len(meta["text_chunks"])) for t in page_data(out, f"convo-t{i}")]
        assert len(htmls) == len(texts) == len(lines)
        for i in (0, 57, len(lines) - 1):  # each line's entry is found where the script looks
            c = max(k for k, s in enumerate(meta["chunks"]) if s <= i)
            assert page_data(out, f"convo-h{c}")[i - meta["chunks"][c]] == htmls[i]
            assert f'id="L{i}"' in htmls[i]
        bad = [r for r in rows if r[7] & 16]
        assert len(bad) == 5 and all(htmls[r[0] - 1].count("could not be read") == 1 for r in bad)

    def test_text_and_title(self) -> None:
        """Search text holds the turns, tool calls and response, lower-cased; the title is the
        first user text."""
        item = Item(showcase())
        assert "payroll server" in item_text(item) and "get_weather" in item_text(item)
        assert "i can't help" in item_text(item)
        assert item_title(item).startswith("What's the weather in Paris")

    def test_flags_and_filters_data(self) -> None:
        """Rows carry the refusal, tool-error and rule flags the menus filter on."""
        out = to_html([showcase(), m.Conversation(model="claude-opus-4-8", max_tokens=5).user("ok")])
        rows = page_data(out, "convo-index")
        assert rows[0][7] & 4 and rows[0][7] & 8 and rows[0][7] & 1  # refusal, tool error, rule error
        assert not rows[1][7] & (1 | 4 | 8)


class TestTerminal:
    def test_plain_text(self) -> None:
        """The terminal text: roles, folded thinking, the tool pairing, the refusal and usage."""
        out = to_text(showcase(), prices=builtin_prices())
        for needle in ("SYSTEM top-level", "SYSTEM #3 mid-conversation", "▸ thinking", "→ result in #2",
                       "for #1 (run_sql)  ERROR", "REFUSED · category: cyber", "usage  in 1,234", "sampling.removed"):
            assert needle in out, needle
        assert "\x1b" not in out
        assert "get_weather for Paris" in to_text(showcase(), thinking=True)

    def test_colour_and_escapes(self) -> None:
        """Colour adds ANSI codes; a transcript's own escape codes are made visible, never sent."""
        out = to_text(hostile(), color=True, validate=False)
        assert "\x1b[1;36m" in out
        assert "\\x1b[2J" in out and "\x1b[2J" not in out and "\\u202e" in out

    def test_rich_panels(self) -> None:
        """With rich installed, sections become panels with the role as title."""
        from rich.console import Console

        console = Console(record=True, width=100, force_terminal=False)
        for r in rich_renderables(sections(Item(showcase()))):
            console.print(r)
        text = console.export_text()
        assert "╭─ USER #0" in text and "REFUSED" in text


# --------------------------------------------------------------------------- the command


def convo(*args: str, **kw: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "convo.cli", *args], capture_output=True, text=True, timeout=300, **kw)


@pytest.fixture
def records(tmp_path: Path) -> Path:
    p = tmp_path / "records.jsonl"
    p.write_bytes(encode_value(showcase()) + b"\n" + b"{not json\n" + encode_value(hostile()) + b"\n")
    return p


class TestCommand:
    def test_a_whole_file(self, records: Path, tmp_path: Path) -> None:
        """-o writes one page with every line (the bad one shown as such) and says so."""
        out = tmp_path / "page.html"
        r = convo("view", str(records), "-o", str(out))
        assert r.returncode == 0, r.stderr
        assert "3 lines (1 undecodable, shown as such)" in r.stderr
        rows = page_data(out.read_text(encoding="utf-8"), "convo-index")
        assert [row[0] for row in rows] == [1, 2, 3] and rows[1][7] & 16

    def test_one_line_and_one_id(self, records: Path, tmp_path: Path) -> None:
        """--line N and --id ID write that record alone, as a page that needs no script."""
        out = tmp_path / "one.html"
        assert convo("view", str(records), "--line", "1", "-o", str(out)).returncode == 0
        page = out.read_text(encoding="utf-8")
        assert 'id="convo-index"' not in page and "payroll server" in page
        assert convo("view", str(records), "--id", "showcase:1", "-o", str(out)).returncode == 0
        assert "payroll server" in out.read_text(encoding="utf-8")

    @pytest.mark.parametrize(("args", "message"), [
        (["--line", "9"], "has no line 9"),
        (["--id", "nope"], "no record has the id 'nope'"),
        (["--line", "x"], "expected N or FILE:N"),
        (["--open"], "--open needs -o"),
    ])
    def test_mistakes(self, records: Path, tmp_path: Path, args: list[str], message: str) -> None:
        """A line that is not there, a bad --line, --open without -o: exit 2, the reason, no page."""
        out = tmp_path / "x.html"
        extra = [] if "--open" in args else ["-o", str(out)]
        r = convo("view", str(records), *args, *extra)
        assert r.returncode == 2 and message in r.stderr
        assert not out.exists()

    def test_stdout_is_html_when_piped(self, records: Path) -> None:
        """Without -o and not on a terminal, the page goes to stdout; --text gives the text view."""
        r = convo("view", str(records), "--line", "1", "-q")
        assert r.stdout.startswith("<!DOCTYPE html>")
        r = convo("view", str(records), "--line", "1", "--text", "-q")
        assert r.stdout.startswith("── ") and "REFUSED" in r.stdout and "\x1b[" not in r.stdout

    def test_terminal_view_on_a_tty(self, records: Path) -> None:
        """On a terminal (a pty here) with no -o: the coloured terminal view through the pager."""
        env = {**os.environ, "PAGER": "cat", "COLUMNS": "100", "NO_COLOR": ""}
        env.pop("NO_COLOR")
        leader, follower = pty.openpty()
        proc = subprocess.Popen([sys.executable, "-m", "convo.cli", "view", str(records), "--line", "1"],
                                stdout=follower, stderr=subprocess.PIPE, env=env)
        os.close(follower)
        chunks = []
        while True:
            try:
                data = os.read(leader, 65536)
            except OSError:
                break
            if not data:
                break
            chunks.append(data)
        proc.wait(timeout=60)
        os.close(leader)
        screen = b"".join(chunks).decode("utf-8", "replace")
        assert proc.returncode == 0
        plain = re.sub(r"\x1b\[[0-9;]*m", "", screen)
        assert "\x1b[" in screen and "USER #0" in plain and "REFUSED" in plain and "╭" in plain

    def test_model_and_api_version(self, tmp_path: Path) -> None:
        """--model checks every line for that model: the transcripts' prefills and sampling
        parameters show up as that model's violations; --no-validate shows none."""
        out = tmp_path / "p.html"
        assert convo("view", str(TRANSCRIPTS), "--model", "claude-opus-4-8", "-o", str(out), "-q").returncode == 0
        page = out.read_text(encoding="utf-8")
        assert "prefill.unsupported" in page and "checked for claude-opus-4-8" in page
        assert convo("view", str(TRANSCRIPTS), "--no-validate", "-o", str(out), "-q").returncode == 0
        assert "prefill.unsupported" not in out.read_text(encoding="utf-8")
        r = convo("view", str(TRANSCRIPTS), "--line", "2", "--text", "--api-version", "2023-06-01", "--model", "claude-opus-4-8")
        assert "2026-10-21" not in r.stdout

    @pytest.mark.skipif(not REALWORLD.is_dir(), reason="needs ../shared/realworld")
    def test_the_realworld_tree(self, tmp_path: Path) -> None:
        """The whole realworld tree: every non-blank line of every JSONL file is a row (lines of
        other formats are listed as undecodable, with why), none is lost."""
        out = tmp_path / "rw.html"
        folders = sorted(str(p) for p in REALWORLD.iterdir() if p.is_dir())  # a directory gives its own files
        r = convo("view", *folders, "-o", str(out))
        assert r.returncode == 0, r.stderr
        from convo.stream.sources import expand

        shown = expand(folders)
        expected = sum(1 for f in shown for line in Path(f).read_bytes().splitlines() if line.strip())
        rows = page_data(out.read_text(encoding="utf-8"), "convo-index")
        assert len(rows) == expected

    @pytest.mark.skipif(not REALWORLD.is_dir(), reason="needs ../shared/realworld")
    def test_a_claude_code_session(self, tmp_path: Path) -> None:
        """--from claude-code reads a session as convert does and shows it as a conversation."""
        out = tmp_path / "s.html"
        session = REALWORLD / "claude-code-sessions" / "spotter__tool_heavy.jsonl"
        r = convo("view", str(session), "--from", "claude-code", "-o", str(out), "--no-validate")
        assert r.returncode == 0, r.stderr
        rows = page_data(out.read_text(encoding="utf-8"), "convo-index")
        assert rows and rows[0][5] > 2  # one conversation of several turns

    def test_readme_quickstart_view(self, tmp_path: Path) -> None:
        """The README's quickstart line that views the migrated file runs and writes its page."""
        readme = (ROOT / "README.md").read_text(encoding="utf-8")
        (line,) = [x for x in readme.splitlines() if x.startswith(".venv/bin/convo view migrated.jsonl")]
        args = line.split()[1:]
        assert args[:2] == ["view", "migrated.jsonl"] and "--open" in args
        migrated = tmp_path / "migrated.jsonl"
        r = convo("transform", str(TRANSCRIPTS), "-t", 'migrate(model="claude-opus-4-8")', "-o", str(migrated), "-q")
        assert r.returncode == 0, r.stderr
        r = convo(*[a for a in args if a != "--open"], cwd=str(tmp_path))
        assert r.returncode == 0, r.stderr
        rows = page_data((tmp_path / "migrated.html").read_text(encoding="utf-8"), "convo-index")
        assert len(rows) == 195 and not any(row[7] & 1 for row in rows)  # migrated: no rule errors
        assert (ROOT / "docs" / "view.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"  # the picture it shows

    def test_single_page_reads_without_script(self) -> None:
        """A single page holds its article in the markup itself."""
        out = single_page(Item(showcase()))
        assert "<article" in out and "JSON of the line" in out
