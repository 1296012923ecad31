"""The stream engine: one operation over every line of many JSONL inputs, in order, in flat memory.

Layer: stream (above the codec; used by the command and by :mod:`convo.dask`). It may open paths:
the inputs it reads and the outputs it writes.

- :mod:`~convo.stream.sources`: inputs expanded (files, directories, stdin, gzip by magic bytes)
  and read in chunks of whole lines; over-long lines streamed to a spool file, never held;
- :mod:`~convo.stream.operation`: the per-line :class:`~convo.stream.operation.Operation`, built
  from plain data (an :class:`~convo.stream.operation.OpSpec`) in any worker process;
- :mod:`~convo.stream.ops` (transform, validate, stats) and :mod:`~convo.stream.convert`: the
  built-in operations; :mod:`~convo.stream.pipelines`: ``-t`` specs (parsed, never evaluated) and
  pipeline files;
- :mod:`~convo.stream.engine`: chunks through an operation on one process or a pool with a bounded
  window, results in input order; :mod:`~convo.stream.ranges`: the same with no bulk data through
  pipes, when inputs are regular files and the output a plain file;
- :mod:`~convo.stream.runner`: all of it for a list of inputs, with counts and progress;
- :mod:`~convo.stream.rejects`, :mod:`~convo.stream.sinks` and :mod:`~convo.stream.counts`: reject
  records with the original bytes, outputs written atomically, and ``in = out + rejected``.
"""
