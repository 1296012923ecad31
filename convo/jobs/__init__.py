"""Jobs: resumable work over files, whose state outlives a process.

Layer: jobs, above the executor (which sends conversations and reads answers, and opens no
file) and below the command. A job reads input files, keeps what it has done on disk, and
resumes after a kill without paying twice:

- :func:`run_file` (:mod:`convo.jobs.run`): request lines through any executor, one exchange
  record per line in input order (``convo run``);
- :class:`BatchExecutor` (:mod:`convo.jobs.batch`): the same through the Message Batches API, with
  a state file, a lock and reconciled creates (``convo batch``, ``convo run --via batch``).

``convo.executor.BatchExecutor`` and ``convo.executor.run_file`` are these same objects.
"""

from __future__ import annotations

from convo.jobs.batch import BatchExecutor, BatchInfo, BatchStatus, read_state
from convo.jobs.run import RunSummary, run_file

__all__ = ["BatchExecutor", "BatchInfo", "BatchStatus", "RunSummary", "read_state", "run_file"]
