"""``python -m convo.cli``: the ``convo`` program."""

from convo.cli import entry

entry()
