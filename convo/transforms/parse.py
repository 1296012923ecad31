"""Text to transforms: ``parse("keep_last_turns(n=8)")``, literals only, never ``eval``.

Layer: transforms. The CLI's ``-t`` options and ``--dry-run`` output go through here: a
transform's repr is the text that parses back to it. The text is read with :mod:`ast`; the call
must name a registered transform and every argument must be a literal (string, number,
True/False/None, or a list, tuple, dict or set of literals), read with ``ast.literal_eval``. A
name, an attribute, a call, an operator or ``*args`` inside an argument is refused, so nothing in
the text can run code or look anything up.
"""

from __future__ import annotations

import ast
import inspect
import re
from collections.abc import Iterable
from typing import Any, NamedTuple

from convo.transforms._base import REGISTRY, Transform, pipeline

__all__ = ["TransformInfo", "catalog", "catalog_markdown", "parse", "parse_pipeline"]

_MAX_TEXT = 100_000  # a transform's text is short; this bounds the parser's work on hostile input


def _known() -> str:
    return ", ".join(sorted([*REGISTRY, "pipeline"]))


def _unknown(text: str, name: str) -> ValueError:
    """The error for a call of a name no transform has: the closest names first, then the list."""
    import difflib  # (an error's hint only)

    close = difflib.get_close_matches(name, [*REGISTRY, "pipeline"], n=3, cutoff=0.6)
    hint = f"; did you mean {' or '.join(f'{c}()' for c in close)}?" if close else ""
    return ValueError(f"{text!r}: unknown transform {name!r}{hint} (known: {_known()})")


def _literal(node: ast.expr, where: str, text: str) -> Any:
    try:
        return ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        src = ast.get_source_segment(text, node) or ast.dump(node)
        raise ValueError(
            f"{where} is not a literal: {src} (arguments may only be strings, numbers, "
            "True/False/None, or lists, tuples, dicts and sets of those)"
        ) from None


def _call(node: ast.expr, text: str) -> Transform:
    if not isinstance(node, ast.Call):
        if isinstance(node, ast.Name) and node.id in REGISTRY:
            raise ValueError(f"{text!r}: a transform is a call; did you mean {node.id}()?")
        raise ValueError(f"{text!r} is not a transform call like keep_last_turns(n=8) (known: {_known()})")
    if not isinstance(node.func, ast.Name):
        src = ast.get_source_segment(text, node.func) or "?"
        raise ValueError(f"{text!r}: {src} is not a transform name; use the bare name (known: {_known()})")
    name = node.func.id
    if name == "pipeline":
        if node.keywords:
            raise ValueError(f"{text!r}: pipeline() takes transforms only, no keywords")
        return pipeline(*(_call(arg, text) for arg in node.args))
    factory = REGISTRY.get(name)
    if factory is None:
        raise _unknown(text, name)
    args = []
    for k, arg in enumerate(node.args):
        if isinstance(arg, ast.Starred):
            raise ValueError(f"{text!r}: *arguments are not allowed")
        args.append(_literal(arg, f"argument {k + 1} of {name}()", text))
    kwargs: dict[str, Any] = {}
    for kw in node.keywords:
        if kw.arg is None:
            raise ValueError(f"{text!r}: **arguments are not allowed")
        kwargs[kw.arg] = _literal(kw.value, f"argument {kw.arg}= of {name}()", text)
    try:
        return factory(*args, **kwargs)
    except TypeError as e:
        raise ValueError(f"{text!r}: {e}") from None
    except ValueError as e:
        raise ValueError(f"{text!r}: {e}") from None


def parse(text: str) -> Transform:
    """The transform a text like ``keep_last_turns(n=8)`` describes (its repr parses back).

    >>> parse('inject_system("Be terse.", where="top")')
    inject_system('Be terse.', where='top')
    >>> parse("pipeline(drop_images(), keep_last_turns(n=8))")
    pipeline(drop_images(), keep_last_turns(n=8))
    >>> parse("keep_last_turns(n=N)")
    Traceback (most recent call last):
    ...
    ValueError: argument n= of keep_last_turns() is not a literal: N (arguments may only be strings, numbers, True/False/None, or lists, tuples, dicts and sets of those)
    >>> parse("drop_image()")
    Traceback (most recent call last):
    ...
    ValueError: 'drop_image()': unknown transform 'drop_image'; did you mean drop_images()? (known: ...)
    """
    if not isinstance(text, str):
        raise TypeError(f"parse() takes a string, got {type(text).__name__}")
    if len(text) > _MAX_TEXT:
        raise ValueError(f"a transform's text is at most {_MAX_TEXT} characters")
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError as e:
        raise ValueError(f"cannot parse {text!r} as a transform call: {e.msg}") from None
    except (MemoryError, RecursionError):
        raise ValueError(f"cannot parse {text!r}: nested too deeply") from None
    return _call(tree.body, text.strip())


def parse_pipeline(texts: Iterable[str]) -> Transform:
    """One transform from several texts, applied in order (the CLI's repeated ``-t``).

    >>> parse_pipeline(["drop_images()", "strip_thinking()"])
    pipeline(drop_images(), strip_thinking())
    """
    if isinstance(texts, str):
        raise TypeError("parse_pipeline() takes a list of texts; use parse() for one")
    return pipeline(*(parse(t) for t in texts))


class TransformInfo(NamedTuple):
    """One registered transform as ``convo transform --list`` shows it."""

    name: str
    parameters: str  # the signature, as typed on the command line
    summary: str  # the first sentence of its docstring
    from_text: bool  # whether -t can build it (a parameter that takes a function cannot)




def _summary(doc: str | None) -> str:
    paragraph = " ".join((doc or "").strip().split("\n\n", 1)[0].split())
    sentence = re.split(r"(?<=[.!?])\s", paragraph, maxsplit=1)[0]
    return sentence.replace("``", "`").replace(":func:", "").replace(":class:", "").replace("~", "")


def catalog() -> list[TransformInfo]:
    """Every registered transform, by name: its parameters and what it does.

    >>> info = {i.name: i for i in catalog()}["keep_last_turns"]
    >>> info.parameters, info.from_text
    ('keep_last_turns(n: int)', True)
    >>> info.summary
    'Keep the last *n* messages (at most), cutting only where a conversation may start.'
    """
    out = []
    for name, factory in sorted(REGISTRY.items()):
        sig = inspect.signature(factory).replace(return_annotation=inspect.Signature.empty)
        params = f"{name}{sig}".replace("'", "").replace('"', "")
        # a parameter that only a function can fill (map_text's fn) cannot come from -t's literals
        usable = not any("Callable" in str(p.annotation) for p in sig.parameters.values())
        out.append(TransformInfo(name, params, _summary(factory.__doc__), usable))
    return out


def catalog_markdown() -> str:
    """The catalog as the README's table (checked against the code by a test)."""
    rows = ["| transform | what it does |", "|---|---|"]
    for info in catalog():
        note = "" if info.from_text else " (library only: it takes a function)"
        params = info.parameters.replace("|", "\\|")  # a table cell's pipe, even in code
        rows.append(f"| `{params}` | {info.summary}{note} |")
    return "\n".join(rows)
