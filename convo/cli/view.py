"""``convo view``: a transcript page you can share, or a coloured, paged view in the terminal.

Layer: cli (the pages are :mod:`convo.view`'s). Reads the files, picks the lines, checks them
with ``convo.validate`` (for ``--model`` or each line's own model), and writes one
self-contained HTML file (``-o``); with no ``-o`` on a terminal it shows the lines there instead
(through ``$PAGER``, default ``less -R``; ``rich`` draws them when installed).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import IO, Any

from convo.cli._common import (
    EXIT_OK,
    UsageError,
    add_api_version,
    command_parser,
    inputs_of,
    positive,
    say,
)
from convo.cli._report import mb
from convo.stream.sources import display_name

__all__ = ["add_parser", "command", "prices_of"]

EPILOG = """\
Shows what the API sees: the system prompt (top-level and mid-conversation), every turn, text
with citations, images and documents, thinking (folded), each tool_use beside its tool_result
(linked both ways, errors marked), server tools, stop_reason and stop_details (a refusal stands
out), usage and cost, and every rule violation at its $.path with its rule id and hint. Strings
from the transcript are shown, never run. The page loads nothing from the network.

examples:
  convo view migrated.jsonl -o migrated.html --open          # the whole file: search, filters, paging
  convo view exchanges.jsonl --line 12 -o line12.html       # one line as a page of its own
  convo view exchanges.jsonl --id 'requests.jsonl:12'       # one record, in the terminal
  convo view transcripts.jsonl --model claude-opus-4-8      # checked for the model you migrate to
  convo view session.jsonl --from claude-code -o s.html     # a foreign format, read as convert does
"""


def add_parser(sub: Any) -> None:
    """Register ``convo view`` on the ``convo`` subparsers *sub*."""
    p = command_parser(sub, "view", "a self-contained HTML page (or a terminal view) of conversations", EPILOG)
    p.add_argument("inputs", nargs="*", metavar="FILE",
                   help="JSONL files or directories (their *.jsonl and *.jsonl.gz); '-' or nothing: stdin")
    pick = p.add_mutually_exclusive_group()
    pick.add_argument("--line", metavar="N", help="only line N (FILE:N with several files)")
    pick.add_argument("--id", metavar="ID", help="only the record with this id (exchange id or custom_id)")
    p.add_argument("-o", "--output", metavar="PAGE", help="write the HTML page here ('-': stdout)")
    p.add_argument("--open", action="store_true", help="open the written page in a browser (needs -o)")
    p.add_argument("--text", action="store_true", help="the terminal view, even when stdout is not a terminal")
    p.add_argument("--no-pager", action="store_true", help="on a terminal: print, do not page")
    p.add_argument("--color", choices=("auto", "always", "never"), default="auto",
                   help="colour the terminal view (auto: on a terminal, unless NO_COLOR is set)")
    p.add_argument("--thinking", action="store_true", help="terminal view: unfold thinking blocks")
    p.add_argument("--model", metavar="M", help="check every line for model M (default: each line's own model)")
    add_api_version(p)
    p.add_argument("--no-validate", action="store_true", help="do not run convo.validate")
    p.add_argument("--prices", metavar="FILE", help="a prices file over the built-in table (convo/profiles.json)")
    p.add_argument("--from", dest="from_", metavar="FORMAT",
                   help="read a foreign format (openai, sharegpt, hf, hh, inspect, claude-code, ...)")
    p.add_argument("--title", metavar="T", help="the page's title")
    p.add_argument("--max-image-kb", type=positive, default=512, metavar="N",
                   help="embed inline images and PDFs up to N KB of base64 (default 512); larger ones are described")
    p.add_argument("--max-line-bytes", type=positive, default=64 * 1024 * 1024, metavar="N",
                   help="longer lines are shown as unreadable without being read (default: 64 MiB)")
    p.add_argument("-q", "--quiet", action="store_true", help="no summary")
    p.set_defaults(func=command)


def prices_of(path: str | None) -> Any:
    """The price table: the built-ins, with a user's file over them."""
    from convo.errors import ProfileError
    from convo.pricing import builtin_prices, load_prices

    try:
        return load_prices(path) if path else builtin_prices()
    except ProfileError as e:
        raise UsageError(str(e)) from None


def _line_filter(args: argparse.Namespace, sources: list[str]) -> tuple[str | None, int] | None:
    if args.line is None:
        return None
    text = args.line
    file: str | None = None
    if ":" in text:
        file, _, text = text.rpartition(":")
    try:
        n = int(text)
    except ValueError:
        raise UsageError(f"--line: expected N or FILE:N, got {args.line!r}") from None
    if n < 1:
        raise UsageError(f"--line: lines count from 1, got {n}")
    if file is None and len(sources) > 1:
        raise UsageError(f"--line {n}: say which file (--line FILE:{n}); {len(sources)} files are given")
    return file, n


def _items(args: argparse.Namespace, sources: list[str]) -> Iterator[Any]:
    """Every line of the inputs as an Item (a decoded value, or why not), in order."""
    from convo.codec.jsonl import iter_lines
    from convo.codec.lines import decode_line
    from convo.errors import DecodeError
    from convo.view import Item

    kind = None
    for source in sources:
        name = display_name(source)
        if args.from_:
            yield from _foreign(args.from_, source, name)
            continue
        for raw in iter_lines(sys.stdin.buffer if source == "-" else source, max_line_bytes=args.max_line_bytes):
            try:
                rec = decode_line(raw if raw.file == name else _renamed(raw, name), kind=kind)
            except DecodeError as e:
                yield Item(None, file=name, line=raw.line, error=str(e), raw=raw.data)
                continue
            yield Item(rec.value, file=name, line=raw.line)


def _renamed(raw: Any, name: str) -> Any:
    import attrs

    return attrs.evolve(raw, file=name)


def _foreign(fmt_name: str, source: str, name: str) -> Iterator[Any]:
    from convo.codec import formats
    from convo.errors import DecodeError
    from convo.view import Item

    try:
        fmt = formats.get(fmt_name)
    except (KeyError, ValueError) as e:
        raise UsageError(str(e)) from None
    if source == "-":
        raise UsageError("--from reads files, not stdin")
    n = 0
    try:
        for conv in fmt.read_file(source):
            n += 1
            line = _line_no(conv.source, n)
            yield Item(conv.conversation, file=name, line=line)
    except DecodeError as e:
        yield Item(None, file=name, line=n + 1, error=str(e))


def _line_no(source: str | None, n: int) -> int:
    if source and ":" in source:
        tail = source.rpartition(":")[2]
        if tail.isdigit():
            return int(tail)
    return n


def _select(args: argparse.Namespace, items: Iterator[Any], sources: list[str]) -> Iterator[Any]:
    want = _line_filter(args, sources)
    if want is not None:
        file, n = want
        found = False
        for it in items:
            if it.line == n and (file is None or it.file == file or os.path.abspath(it.file) == os.path.abspath(file)):
                found = True
                yield it
                break
        if not found:
            where = file or display_name(sources[0])
            raise UsageError(f"{where} has no line {n}")
        return
    if args.id is not None:
        for it in items:
            v = it.value
            ident = getattr(v, "id", None) if type(v).__name__ == "Exchange" else getattr(v, "custom_id", None)
            if ident is not None and str(ident) == args.id:
                yield it
                return
        raise UsageError(f"no record has the id {args.id!r}")
    yield from items


def command(args: argparse.Namespace) -> int:
    """``convo view``."""
    from convo.view import Page
    from convo.view.page import single_page

    if args.open and (not args.output or args.output == "-"):
        raise UsageError("--open needs -o PAGE.html (the page has to outlive this command)")
    sources = inputs_of(args)
    prices = prices_of(args.prices)
    model = args.model
    if model:
        from convo.profiles import builtin_profiles

        if builtin_profiles().resolve(model) is None:
            say(args, f"convo view: note: no profile for {model!r}; it is checked with the permissive default")
    validate = not args.no_validate
    started = time.perf_counter()
    items = _select(args, _items(args, sources), sources)
    one = args.line is not None or args.id is not None
    terminal = args.text or (args.output is None and sys.stdout.isatty())
    if terminal:
        return _terminal(args, items, prices)
    out_path = args.output or "-"
    from convo.stream.sinks import Sink

    n = bad = 0
    with Sink(out_path) as sink:
        if one:
            item = next(items)
            n, bad = 1, int(item.error is not None)
            html = single_page(item, validate=validate, model=model, api_version=args.api_version,
                               prices=prices, max_image_kb=args.max_image_kb, title=args.title)
            sink.write(html.encode("utf-8"))
        else:
            title = args.title or "convo view · " + ", ".join(display_name(s) for s in sources[:3]) + (
                f" and {len(sources) - 3} more" if len(sources) > 3 else "")
            page = Page(title=title, validate=validate, model=model, api_version=args.api_version,
                        prices=prices, max_image_kb=args.max_image_kb)
            for it in items:
                page.add_item(it)
            n = page.lines
            bad = page.flag_counts.get(16, 0)
            writer = _SinkWriter(sink)
            page.write(writer)
    size = sink.bytes_written
    elapsed = time.perf_counter() - started
    where = args.output if args.output and args.output != "-" else "stdout"
    say(args, f"convo view: {n:,} line{'s' if n != 1 else ''}"
              + (f" ({bad:,} undecodable, shown as such)" if bad else "")
              + f" -> {where}, {mb(size)}, {elapsed:.2f} s")
    if args.open:
        import pathlib
        import webbrowser

        webbrowser.open(pathlib.Path(args.output).resolve().as_uri())
    return EXIT_OK


class _SinkWriter:
    """A Sink as the binary file ``Page.write`` expects."""

    def __init__(self, sink: Any) -> None:
        self.sink = sink

    def write(self, data: bytes) -> int:
        self.sink.write(data)
        return len(data)


def _use_color(args: argparse.Namespace) -> bool:
    if args.color == "always":
        return True
    if args.color == "never":
        return False
    return sys.stdout.isatty() and not os.environ.get("NO_COLOR")


def _terminal(args: argparse.Namespace, items: Iterator[Any], prices: Any) -> int:
    """The terminal view: each item's sections, through a pager on a terminal."""
    from convo.view.text import render_sections, sections

    color = _use_color(args)
    width = shutil.get_terminal_size((100, 24)).columns if sys.stdout.isatty() else 100
    width = max(60, min(width, 160))
    check = _checker(args)
    use_rich = False
    if color:
        try:
            import rich  # noqa: F401 - the optional extra: convo[view]
            use_rich = True
        except ImportError:
            use_rich = False
    paging = sys.stdout.isatty() and not args.no_pager
    with _pager(paging) as out:
        console = None
        if use_rich:
            from rich.console import Console

            console = Console(file=out, force_terminal=True, width=width, highlight=False, soft_wrap=False)
        for it in items:
            secs = sections(it, violations=check(it), prices=prices, width=width - (4 if use_rich else 0),
                            thinking=args.thinking)
            if console is not None:
                from convo.view.text import rich_renderables

                for r in rich_renderables(secs):
                    console.print(r)
            else:
                for line in render_sections(secs, color=color):
                    out.write(line + "\n")
            out.write("\n")
    return EXIT_OK


def _checker(args: argparse.Namespace) -> Any:
    if args.no_validate:
        return lambda item: ()
    from convo.view.page import Checker

    check = Checker(True, args.model, args.api_version)
    return lambda item: check(item.value) if item.error is None else ()


@contextlib.contextmanager
def _pager(paging: bool) -> Iterator[IO[str]]:
    """stdout, or the stdin of ``$PAGER`` (default ``less -R``, which keeps colours and quits at
    once when the text fits on one screen)."""
    if not paging:
        yield sys.stdout
        sys.stdout.flush()
        return
    import shlex

    cmd = os.environ.get("PAGER") or "less"
    argv = shlex.split(cmd)
    env = dict(os.environ)
    if os.path.basename(argv[0]) == "less":
        env.setdefault("LESS", "FRX")  # colours, quit if one screen, leave the screen as it was
    try:
        proc = subprocess.Popen(argv, stdin=subprocess.PIPE, env=env, text=True, encoding="utf-8",  # noqa: S603 - the user's own pager
                                errors="replace")
    except OSError:
        yield sys.stdout
        return
    assert proc.stdin is not None
    try:
        yield proc.stdin
    except BrokenPipeError:
        pass  # the reader quit the pager early: nothing more to show
    finally:
        with contextlib.suppress(BrokenPipeError, OSError):
            proc.stdin.close()
        proc.wait()

