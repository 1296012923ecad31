"""The machinery behind the ``convo`` command (layer: the top, beside :mod:`convo.cli`).

``convo.cli`` parses arguments, prints and reads the environment; these private modules do the
work it hands them:

- :mod:`~convo._cli.sources`: inputs expanded (files, directories, stdin, gzip by magic bytes)
  and read in chunks of whole lines; over-long lines streamed to a spool file, never held;
- :mod:`~convo._cli.base` and :mod:`~convo._cli.engine`: per-line operations built from plain
  data, run in order on one process or a spawn-safe pool with a bounded window;
- :mod:`~convo._cli.ranges`: the same with no bulk data through pipes, when inputs are regular
  files and the output a plain file (workers read byte ranges and append their output in turn);
- :mod:`~convo._cli.ops` (transform, validate, stats) and :mod:`~convo._cli.convert`;
- :mod:`~convo._cli.pipelines`: ``-t`` specs (parsed, never evaluated) and pipeline files;
- :mod:`~convo._cli.rejects` and :mod:`~convo._cli.sinks`: reject records with the original
  bytes, and outputs written atomically;
- :mod:`~convo._cli.report`: the progress bar and the summary;
- :mod:`~convo._cli.fixtures`: the seeded generator of ``convo fixtures``.

Like ``convo.cli`` they may open paths; nothing else in convo does (``convo.dask`` aside, which
is the same engine on a cluster).
"""
