"""convo view's pages in a real browser: headless Chromium (Debian's ``chromium``) driven by
Playwright for Python. Nothing is downloaded: the browser is the system's, and these tests skip
(saying why) where it or Playwright is missing; CI installs both (``.ci/run``)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from convo.codec.lines import encode_value
from convo.pricing import builtin_prices
from convo.profiles import UnknownModelWarning
from convo.testing.showcase import HOSTILE_MARK, hostile, showcase
from convo.view import to_html

CHROMIUM = os.environ.get("CONVO_CHROMIUM", "/usr/bin/chromium")
ROOT = Path(__file__).parents[1]
TRANSCRIPTS = ROOT / "fixtures" / "transcripts.jsonl"

try:
    from playwright.sync_api import expect, sync_playwright
except ImportError:  # pragma: no cover - the skip below says so
    sync_playwright = None  # type: ignore[assignment]

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(sync_playwright is None, reason="playwright is not installed (pip install playwright)"),
    pytest.mark.skipif(not (os.path.isfile(CHROMIUM) and os.access(CHROMIUM, os.X_OK)),
                       reason=f"no Chromium at {CHROMIUM} (Debian: apt-get install chromium)"),
]

ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """One Chromium for the module, with a fresh profile directory of its own."""
    profile = tmp_path_factory.mktemp("chromium-profile")
    with sync_playwright() as p:
        context = p.chromium.launch_persistent_context(
            str(profile), executable_path=CHROMIUM, headless=True, args=ARGS,
            viewport={"width": 1280, "height": 900})
        try:
            yield context
        finally:
            context.close()


class Tab:
    """A page with everything it said on the console, every script error, and every request."""

    def __init__(self, context: Any) -> None:
        self.page = context.new_page()
        self.console: list[tuple[str, str]] = []
        self.errors: list[str] = []
        self.requests: list[str] = []
        self.page.on("console", lambda msg: self.console.append((msg.type, msg.text)))
        self.page.on("pageerror", lambda exc: self.errors.append(str(exc)))
        self.page.on("request", lambda req: self.requests.append(req.url))
        self.page.on("dialog", lambda d: (self.errors.append(f"dialog: {d.message}"), d.dismiss()))

    def open(self, path: Path) -> Any:
        self.page.goto(path.as_uri())
        self.page.wait_for_selector("body[data-ready='1']", timeout=30_000)
        return self.page

    @property
    def console_errors(self) -> list[str]:
        return [text for kind, text in self.console if kind == "error"] + self.errors

    def close(self) -> None:
        self.page.close()


@pytest.fixture
def tab(browser: Any) -> Iterator[Tab]:
    t = Tab(browser)
    yield t
    t.close()


def _run_view(*args: str) -> None:
    subprocess.run([sys.executable, "-m", "convo.cli", "view", "-q", *args], check=True, timeout=120)


@pytest.fixture(scope="module")
def pages(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The pages under test, written by the command (list pages) and by to_html (single ones)."""
    d = tmp_path_factory.mktemp("pages")
    lines = d / "mixed.jsonl"
    body = [encode_value(showcase()), encode_value(hostile())]
    body += TRANSCRIPTS.read_bytes().splitlines()[:60]
    lines.write_bytes(b"\n".join(body) + b"\n")
    out = {"mixed": d / "mixed.html", "showcase": d / "showcase.html", "hostile": d / "hostile.html"}
    _run_view(str(lines), "-o", str(out["mixed"]))
    out["showcase"].write_text(to_html(showcase(), prices=builtin_prices()), encoding="utf-8")
    with warnings.catch_warnings():  # the hostile record's model has no profile, on purpose
        warnings.simplefilter("ignore", UnknownModelWarning)
        out["hostile"].write_text(to_html(hostile(), prices=builtin_prices()), encoding="utf-8")
    return out


class TestLoads:
    @pytest.mark.parametrize("name", ["showcase", "hostile", "mixed"])
    def test_no_console_errors(self, tab: Tab, pages: dict[str, Path], name: str) -> None:
        """Each page opens, its script runs to the end, and nothing is logged as an error."""
        page = tab.open(pages[name])
        if name == "mixed":
            page.locator("#rows-body tr").first.wait_for()
            page.locator("#rows-body tr").nth(1).click()
            page.wait_for_selector("#detail article")
        assert tab.console_errors == []

    @pytest.mark.parametrize("name", ["showcase", "mixed"])
    def test_fetches_nothing(self, tab: Tab, pages: dict[str, Path], name: str) -> None:
        """The page asks for nothing but itself: no CDN, no font, no remote image (the
        showcase's web results and citations are links, never loaded)."""
        tab.open(pages[name])
        assert tab.requests == [pages[name].as_uri()]


class TestToolLinks:
    def test_tool_use_links_to_its_result_and_back(self, tab: Tab, pages: dict[str, Path]) -> None:
        """Clicking a tool_use's link goes to its tool_result (the target is highlighted) and the
        result's link comes back to the call."""
        page = tab.open(pages["showcase"])
        call = page.locator(".tool-use", has_text="get_weather").first
        call.locator("a.link").click()
        target = page.evaluate("location.hash")
        result = page.locator(target)
        assert "tool_result" in result.inner_text() and "18 °C" in result.inner_text()
        assert page.evaluate("document.querySelector(':target').id") == target[1:]
        result.locator("a.link").click()
        back = page.evaluate("location.hash")
        assert "get_weather" in page.locator(back).inner_text()
        assert page.locator(back).locator(".tool-use").count() == 1

    def test_error_result_is_marked(self, tab: Tab, pages: dict[str, Path]) -> None:
        """The failed run_sql result is drawn as an error."""
        page = tab.open(pages["showcase"])
        err = page.locator(".tool-result.error")
        assert err.count() == 1
        assert "permission denied" in err.inner_text()
        assert err.locator(".err-flag").is_visible()


class TestThinking:
    def test_thinking_is_folded_and_expands(self, tab: Tab, pages: dict[str, Path]) -> None:
        """Thinking starts folded; a click on its summary shows the text."""
        page = tab.open(pages["showcase"])
        box = page.locator("details.thinking").first
        text = box.locator(".text")
        assert not text.is_visible()
        box.locator("summary").click()
        assert text.is_visible()
        assert "get_weather for Paris" in text.inner_text()

    def test_expand_all_button(self, tab: Tab, pages: dict[str, Path]) -> None:
        """The button opens every thinking block at once (and closes them again)."""
        page = tab.open(pages["showcase"])
        page.click("#toggle-thinking")
        assert page.evaluate("[...document.querySelectorAll('details.thinking')].every(d => d.open)")
        page.click("#toggle-thinking")
        assert page.evaluate("[...document.querySelectorAll('details.thinking')].every(d => !d.open)")


class TestListPage:
    def _count(self, page: Any) -> int:
        return int(re.match(r"([\d,]+) of", page.inner_text("#status")).group(1).replace(",", ""))  # type: ignore[union-attr]

    def test_search_filters_by_text(self, tab: Tab, pages: dict[str, Path]) -> None:
        """Typing words keeps only the lines holding all of them; clearing shows all again."""
        page = tab.open(pages["mixed"])
        total = self._count(page)
        assert total == 62
        page.fill("#q", "payroll server")
        expect(page.locator("#status")).to_have_text(re.compile(r"^1 of"))
        assert page.locator("#rows-body tr").count() == 1
        page.locator("#rows-body tr").first.click()
        page.wait_for_selector("#detail .banner.refusal")
        assert "payroll server" in page.inner_text("#detail")
        page.fill("#q", "")
        expect(page.locator("#status")).to_have_text(re.compile(rf"^{total} of"))

    def test_filters_by_model_and_rule(self, tab: Tab, pages: dict[str, Path]) -> None:
        """The model and rule menus keep only the lines of that model / breaking that rule."""
        page = tab.open(pages["mixed"])
        option = page.locator("#model option", has_text="claude-sonnet-4-5-20250929")
        expected = int(re.search(r"\((\d+)\)", option.inner_text()).group(1))  # type: ignore[union-attr]
        page.select_option("#model", value=option.get_attribute("value"))
        expect(page.locator("#status")).to_have_text(re.compile(rf"^{expected} of"))
        rows = page.locator("#rows-body tr")
        assert rows.count() == expected
        assert all("claude-sonnet-4-5-20250929" in rows.nth(i).inner_text() for i in range(rows.count()))
        page.select_option("#model", value="")
        rule = page.locator("#rule option", has_text="sampling.removed")
        n = int(re.search(r"\((\d+)\)", rule.inner_text()).group(1))  # type: ignore[union-attr]
        page.select_option("#rule", value=rule.get_attribute("value"))
        expect(page.locator("#status")).to_have_text(re.compile(rf"^{n} of"))
        page.locator("#rows-body tr").first.click()
        page.wait_for_selector("#detail .violations")
        assert "sampling.removed" in page.inner_text("#detail .violations")

    def test_paging(self, tab: Tab, pages: dict[str, Path], tmp_path: Path) -> None:
        """250 lines are 3 pages of 100; next and previous move between them."""
        src = tmp_path / "many.jsonl"
        line = TRANSCRIPTS.read_bytes().splitlines()[0]
        src.write_bytes(b"\n".join([line] * 250) + b"\n")
        out = tmp_path / "many.html"
        _run_view(str(src), "-o", str(out), "--no-validate")
        page = tab.open(out)
        assert page.inner_text("#page") == "page 1 of 3"
        assert page.locator("#rows-body tr").count() == 100
        page.click("#next")
        page.click("#next")
        assert page.inner_text("#page") == "page 3 of 3"
        assert page.locator("#rows-body tr").count() == 50
        assert page.locator("#rows-body tr td.n").first.inner_text() == "201"
        assert page.locator("#next").is_disabled()

    def test_deep_link_opens_a_line(self, tab: Tab, pages: dict[str, Path]) -> None:
        """``#item-N`` in the address opens line N's detail."""
        tab.page.goto(pages["mixed"].as_uri() + "#item-1")
        tab.page.wait_for_selector("body[data-ready='1']")
        assert HOSTILE_MARK in tab.page.inner_text("#detail")  # the hostile record, shown as text


class TestHostile:
    @pytest.mark.parametrize("name", ["hostile", "mixed"])
    def test_a_hostile_transcript_runs_no_script(self, tab: Tab, pages: dict[str, Path], name: str) -> None:
        """Every string that tries to be markup is shown as text: no script of the transcript's
        runs (its handlers would set window.__convo_pwned), no dialog opens, no image loads."""
        page = tab.open(pages[name])
        if name == "mixed":
            page.locator("#rows-body tr").nth(1).click()
            page.wait_for_selector("#detail article")
        page.click("#toggle-thinking")
        page.wait_for_timeout(300)
        assert page.evaluate(f"typeof window.{HOSTILE_MARK}") == "undefined"
        text = page.inner_text("body")
        assert f"<script>window.{HOSTILE_MARK}=1</script>" in text
        assert f'<img src=x onerror="window.{HOSTILE_MARK}=2">' in text
        assert page.locator("svg[onload], img[onerror], script:not([type]) + script:not([type])").count() == 0
        assert page.locator("a[href^='javascript']").count() == 0
        assert tab.errors == []

    def test_the_policy_stops_a_script_that_got_in(self, tab: Tab, pages: dict[str, Path], tmp_path: Path) -> None:
        """Defence in depth: markup spliced into the page by hand (as a missed escape would) is
        refused by the page's Content-Security-Policy, and the page's own script still runs."""
        html = pages["showcase"].read_text(encoding="utf-8")
        evil = (f"<script>window.{HOSTILE_MARK}=1</script><img src=x onerror=\"window.{HOSTILE_MARK}=2\">"
                f"<svg onload=\"window.{HOSTILE_MARK}=3\"></svg>")
        spliced = tmp_path / "spliced.html"
        spliced.write_text(html.replace("</h1>", "</h1>" + evil, 1), encoding="utf-8")
        page = tab.open(spliced)
        page.wait_for_timeout(300)
        assert page.evaluate(f"typeof window.{HOSTILE_MARK}") == "undefined"
        assert any("Content Security Policy" in text for kind, text in tab.console if kind == "error")


class TestReports:
    def test_diff_and_stats_pages(self, tab: Tab, tmp_path: Path) -> None:
        """convo diff --html and convo stats --html open without console errors and show their
        tables, the side-by-side pairs and the charts."""
        from convo.codec.lines import RawLine, decode_line
        from convo.testing.showcase import reruns

        convs = []
        for i, raw in enumerate(TRANSCRIPTS.read_bytes().splitlines()[:40], 1):
            try:
                convs.append(decode_line(RawLine("t", i, raw)).value)
            except Exception:  # noqa: S112 - the corpus's broken lines
                continue
        before, after = tmp_path / "b.jsonl", tmp_path / "a.jsonl"
        pairs = list(reruns(convs, seed=2, change=0.5))
        before.write_bytes(b"".join(encode_value(b) + b"\n" for b, _ in pairs))
        after.write_bytes(b"".join(encode_value(a) + b"\n" for _, a in pairs))
        report, charts = tmp_path / "diff.html", tmp_path / "stats.html"
        subprocess.run([sys.executable, "-m", "convo.cli", "diff", str(before), str(after), "--html", str(report),
                        "--model", "claude-opus-4-8", "-q"], check=True, capture_output=True)
        subprocess.run([sys.executable, "-m", "convo.cli", "stats", str(before), "--html", str(charts), "-q"],
                       check=True, capture_output=True)
        page = tab.open(report)
        assert page.locator("section.pair").count() > 0 and page.locator("section.pair .side article").count() >= 2
        assert page.locator("table.summary").first.is_visible()
        page = tab.open(charts)
        assert page.locator(".chart svg").count() >= 4 and page.locator(".chart svg rect.bar").first.is_visible()
        assert tab.console_errors == []
        assert all(url.startswith("file://") for url in tab.requests)


class TestScreenshot:
    def test_the_layout_renders(self, tab: Tab, pages: dict[str, Path], tmp_path: Path) -> None:
        """A screenshot of the list page is a real picture, and what it must show is visible:
        the summary, the search box, the list, the chosen line's turns, its rule violations,
        a decoded image thumbnail and the refusal banner."""
        page = tab.open(pages["mixed"])
        page.locator("#rows-body tr").first.click()
        page.wait_for_selector("#detail .banner.refusal")
        shot = tmp_path / "list.png"
        page.screenshot(path=str(shot))
        data = shot.read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n"
        width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
        assert (width, height) == (1280, 900)
        assert len(data) > 20_000  # a blank page of this size compresses to a few KB
        for sel in (".pagehead h1", "#q", "#rows-body tr", "#detail .turn.user", "#detail .violations",
                    "#detail .banner.refusal", "#detail img.thumb"):
            assert page.locator(sel).first.is_visible(), sel
        assert page.evaluate("document.querySelector('#detail img.thumb').naturalWidth") == 96
        colours = page.evaluate("getComputedStyle(document.querySelector('#detail .banner.refusal')).borderTopColor")
        assert colours != "rgba(0, 0, 0, 0)"

