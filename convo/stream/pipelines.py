"""Pipelines from the command line: ``-t`` specs (parsed, never evaluated) and pipeline files.

Kept apart from the operations so that validate and stats never import the transforms.
"""

from __future__ import annotations

import runpy
from collections.abc import Callable, Sequence

from convo import model as m
from convo.transforms import ChangeLog, Transform, parse, pipeline

__all__ = ["FunctionTransform", "load_pipeline", "load_pipeline_file"]


def load_pipeline_file(path: str) -> Transform:
    """Run a user's pipeline file and return its ``PIPELINE`` (or ``pipeline``).

    The file is TRUSTED code: it runs as any Python script does (in every worker process, once).
    It must bind ``PIPELINE`` (or ``pipeline``) to a Transform, or to a plain
    ``Conversation -> Conversation`` function (reported as one change per line it changes). The
    file starts with ``t`` (:mod:`convo.transforms`) and ``pipeline`` already bound, so
    a one-line file ``PIPELINE = pipeline(t.strip_thinking(), t.drop_images())`` works as is.

    >>> import os, tempfile, pathlib
    >>> path = os.path.join(tempfile.mkdtemp(), "pipe.py")
    >>> _ = pathlib.Path(path).write_text("from convo import transforms as t\\nPIPELINE = t.strip_thinking()\\n")
    >>> load_pipeline_file(path)
    strip_thinking()
    >>> _ = pathlib.Path(path).write_text("PIPELINE = pipeline(t.strip_thinking(), t.drop_images())\\n")
    >>> load_pipeline_file(path)
    pipeline(strip_thinking(), drop_images())
    """
    from convo import transforms

    given = {"t": transforms, "pipeline": pipeline}
    namespace = runpy.run_path(path, init_globals=given, run_name="convo_pipeline")
    for name in ("PIPELINE", "pipeline"):
        found = namespace.get(name)
        if found is None or found is pipeline:  # `from convo import pipeline` is not one
            continue
        if isinstance(found, Transform):
            return found
        if callable(found):
            return FunctionTransform(found)
        raise ValueError(f"{path}: {name} is a {type(found).__name__}, not a transform")
    raise ValueError(
        f"{path}: defines no pipeline: bind PIPELINE to a transform, e.g. "
        "PIPELINE = pipeline(t.drop_images(), t.strip_thinking())"
    )


def load_pipeline(specs: Sequence[str] = (), pipeline_path: str | None = None) -> Transform:
    """The transform a command line asks for: the pipeline file's (if any), then each ``-t``
    spec parsed with :func:`convo.transforms.parse` (literals only, never ``eval``).

    >>> load_pipeline(["drop_images()", 'inject_system("Be terse.", where="top")'])
    pipeline(drop_images(), inject_system('Be terse.', where='top'))
    """
    parts: list[Transform] = []
    if pipeline_path:
        parts.append(load_pipeline_file(pipeline_path))
    parts.extend(parse(s) for s in specs)
    return pipeline(*parts)


class FunctionTransform(Transform):
    """A plain ``Conversation -> Conversation`` function from a pipeline file, as a Transform."""

    __slots__ = ("fn",)

    def __init__(self, fn: Callable[[m.Conversation], m.Conversation]) -> None:
        name = getattr(fn, "__qualname__", None) or type(fn).__name__
        super().__init__(name)
        self.fn = fn

    def apply(self, conv: m.Conversation, log: ChangeLog) -> m.Conversation:
        new = self.fn(conv)
        if not isinstance(new, m.Conversation):
            raise TypeError(f"{self.name} returned {type(new).__name__}, not a Conversation")
        if new is not conv:
            log.add("changed the conversation", "$", "a function from the pipeline file")
        return new

    def __repr__(self) -> str:
        return self.name
