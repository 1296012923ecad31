"""The engine: an operation over every chunk of the input, on one process or many, in order.

With one worker the chunks are processed in this process. With N workers a process pool (fork
server, or spawn) runs them: each worker builds the operation once from its :class:`~convo.stream.operation.OpSpec`
(plain data, so nothing unpicklable ever crosses), chunks are submitted as they are read, and the
results come back in input order through a bounded window of in-flight chunks, so memory stays
flat however large the input and the output bytes are the same as with one worker.
:func:`run_spans` is the range mode of :mod:`convo.stream.ranges` on the same pool machinery.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
import warnings
from collections import deque
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

from convo.codec.jsonl import start_writeback
from convo.stream.operation import OPERATIONS, Operation, OpSpec, Result
from convo.stream.sources import Chunk, Oversize

if TYPE_CHECKING:  # multiprocessing and concurrent.futures are imported when workers start
    import multiprocessing.context
    from concurrent.futures import Future, ProcessPoolExecutor

    from convo.stream.ranges import Span, SpanResult

__all__ = ["build_operation", "run_chunks", "run_spans"]

def build_operation(spec: OpSpec) -> Operation:
    """Build the operation a spec names (importing the built-in operations first).

    >>> build_operation(OpSpec("stats")).name
    'stats'
    """
    import convo.stream.ops

    cls = OPERATIONS.get(spec.name)
    if cls is None:
        import convo.stream.convert  # noqa: F401 - registers convert (its formats cost ~6 ms to import)

        try:
            cls = OPERATIONS[spec.name]
        except KeyError:
            raise ValueError(f"unknown operation {spec.name!r}") from None
    return cls(**dict(spec.options))


_WORKER_OP: Operation | None = None
_SYNC: tuple[Any, Any, Any] | None = None  # range mode: (condition, turn, abort flag)
_OUT_FDS: dict[str, int] = {}


def _init_worker(spec: OpSpec, sync: tuple[Any, Any, Any] | None = None, parent: int | None = None) -> None:
    # Ctrl-C reaches the whole process group; the main process alone decides how to stop.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if parent is not None:
        _die_with(parent)
    from convo.profiles import UnknownModelWarning

    warnings.simplefilter("ignore", UnknownModelWarning)  # as in the main process (convo.cli)
    global _WORKER_OP, _SYNC
    _WORKER_OP = build_operation(spec)
    _SYNC = sync


_PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


def _die_with(parent: int) -> None:
    """End this worker when the process that started the pool ends, however it ends.

    A worker left running by a killed command goes on writing into a temporary file nobody will
    commit, then waits forever for work, holding the caller's pipes open. On Linux the kernel
    kills it when its parent dies (``PR_SET_PDEATHSIG``: the parent is the command's process, or
    the fork server, which ends with the command); elsewhere a thread checks every half second.
    """
    for s in ("SIGTERM", "SIGHUP"):  # a forked worker inherits the command's handlers: not its own
        if hasattr(signal, s):
            signal.signal(getattr(signal, s), signal.SIG_DFL)
    watched = False
    if sys.platform.startswith("linux"):
        try:
            import ctypes

            libc = ctypes.CDLL(None, use_errno=True)
            watched = libc.prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0) == 0
        except (OSError, AttributeError):  # no libc to call: watch instead
            watched = False
    if not _alive(parent):  # it died before the kernel was asked: nobody would tell
        os._exit(1)
    if not watched:
        threading.Thread(target=_watch, args=(parent,), name="convo-watch-parent", daemon=True).start()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # EPERM: it exists
        return True
    return True


def _watch(parent: int) -> None:
    import time

    while _alive(parent):
        time.sleep(0.5)
    os._exit(1)


def _work(chunk: Chunk) -> Result:
    assert _WORKER_OP is not None
    return _WORKER_OP.process(chunk)


def _work_span(task: tuple[int, Span, int, str | None]) -> SpanResult:
    assert _WORKER_OP is not None
    from convo.stream.ranges import work_span

    index, span, chunk_bytes, out_path = task
    res, outs = work_span(_WORKER_OP, span, chunk_bytes)
    if out_path is not None:
        res.out_bytes = _write_in_turn(index, out_path, outs)
    return res


def _write_in_turn(index: int, path: str, outs: list[bytes]) -> int:
    """Append *outs* to the output once every span before *index* has been written."""
    assert _SYNC is not None
    cond, turn, abort = _SYNC
    with cond:
        while turn.value != index:
            if abort.value:
                raise RuntimeError("the run was stopped")
            cond.wait(0.5)
    fd = _OUT_FDS.get(path)
    if fd is None:
        fd = _OUT_FDS[path] = os.open(path, os.O_WRONLY | os.O_APPEND)
    written = 0
    for block in outs:
        view = memoryview(block)
        while view:
            n = os.write(fd, view)
            view = view[n:]
            written += n
    end = os.lseek(fd, 0, os.SEEK_CUR)
    start_writeback(fd, end - written, end)  # the commit's fsync then finds little left to write
    with cond:
        turn.value = index + 1
        cond.notify_all()
    return written


def _context() -> multiprocessing.context.BaseContext:
    """The start method for workers: fork where that is safe, else a fork server, else spawn.

    Fork (on Linux, while this process runs a single thread) starts a worker in about a
    millisecond with convo already imported; a fork server or a spawned interpreter would first
    import convo again, which costs as much CPU as a tenth of a second of work (measured with
    ``benchmarks/cli.py``). Fork is never used with other threads running (a fork copies locks
    held by them) nor on macOS, whose system libraries are not fork-safe. Every start method
    pickles what a worker gets, which is why only plain data crosses.
    """
    import multiprocessing

    methods = multiprocessing.get_all_start_methods()
    if sys.platform.startswith("linux") and "fork" in methods and threading.active_count() == 1:
        return multiprocessing.get_context("fork")
    if "forkserver" in methods:
        ctx = multiprocessing.get_context("forkserver")
        ctx.set_forkserver_preload(["convo.stream.ops", "convo.stream.convert", "convo.stream.pipelines"])
        return ctx
    return multiprocessing.get_context("spawn")


def _pool(workers: int, ctx: multiprocessing.context.BaseContext, initargs: tuple[Any, ...]) -> ProcessPoolExecutor:
    from concurrent.futures import ProcessPoolExecutor

    # A forked worker flushes the standard streams it inherited when it exits: empty them first.
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    # the workers end with this process, however it ends (see _die_with)
    initargs = (*initargs, *([None] * (2 - len(initargs))), os.getpid())
    return ProcessPoolExecutor(max_workers=workers, mp_context=ctx, initializer=_init_worker, initargs=initargs)


def _done(result: Result) -> Future[Result]:
    from concurrent.futures import Future

    f: Future[Result] = Future()
    f.set_result(result)
    return f


def run_chunks(
    items: Iterable[Chunk | Oversize],
    spec: OpSpec,
    *,
    workers: int = 1,
    window: int | None = None,
    operation: Operation | None = None,
) -> Iterator[Result]:
    """The :class:`Result` of every item, in input order.

    *operation* (one built from *spec*) is reused for in-process work and for over-long lines;
    *window* bounds the chunks in flight (default ``4 * workers``).

    >>> from convo.stream.operation import OpSpec
    >>> from convo.stream.sources import Chunk
    >>> [r.n_in for r in run_chunks([Chunk.of("a", 1, b"\\n")], OpSpec("stats"))]
    [0]
    """
    op = operation if operation is not None else build_operation(spec)
    if workers <= 1:
        for item in items:
            yield op.run(item)
        return
    limit = window if window is not None else 4 * workers
    pool = _pool(workers, _context(), (spec,))
    pending: deque[Future[Result]] = deque()
    ok = False
    try:
        for item in items:
            if isinstance(item, Oversize):
                pending.append(_done(op.oversize(item)))
            else:
                pending.append(pool.submit(_work, item))
            while len(pending) >= limit:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()
        ok = True
    finally:
        # on an error or an early stop, drop queued work instead of finishing it
        pool.shutdown(wait=True, cancel_futures=not ok)


def run_spans(
    spans: Iterable[Span],
    spec: OpSpec,
    *,
    workers: int,
    out_path: str | None,
    chunk_bytes: int,
    window: int | None = None,
) -> Iterator[tuple[Span, SpanResult]]:
    """Range mode (:mod:`convo.stream.ranges`): each span and its result, in input order.

    Workers append their output to the file at *out_path* themselves, in span order (None: the
    operation has no output); only small results cross the pipes.
    """
    limit = window if window is not None else 4 * workers
    ctx = _context()
    cond = ctx.Condition()
    turn = ctx.RawValue("q", 0)
    abort = ctx.RawValue("b", 0)
    pool = _pool(workers, ctx, (spec, (cond, turn, abort)))
    pending: deque[tuple[Span, Future[SpanResult]]] = deque()
    ok = False
    try:
        for index, span in enumerate(spans):
            pending.append((span, pool.submit(_work_span, (index, span, chunk_bytes, out_path))))
            while len(pending) >= limit:
                s, f = pending.popleft()
                yield s, f.result()
        while pending:
            s, f = pending.popleft()
            yield s, f.result()
        ok = True
    finally:
        if not ok:  # workers waiting for their turn give up; queued spans are dropped
            with cond:
                abort.value = 1
                cond.notify_all()
        pool.shutdown(wait=True, cancel_futures=not ok)
        if not ok:  # spooled over-long lines of results never collected go too
            for _s, f in pending:
                if f.done() and not f.cancelled() and f.exception() is None:
                    _discard(f.result())


def _discard(res: SpanResult) -> None:
    for path in res.rejects:
        if isinstance(path, str):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)
