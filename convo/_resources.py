"""The data files shipped inside the package (``profiles.json``, ``schema.json``), read as bytes.

Layer: base. Read from beside this module where the package is on a file system (always, for a
pip install): ``importlib.resources`` imports ``tempfile`` and with it ``random``, about 11M
instructions (~7 ms) of a data command's start; a package imported from a zip file falls back
to it.
"""

from __future__ import annotations

import os

__all__ = ["read"]


def read(name: str) -> bytes:
    """The bytes of the file *name* of the ``convo`` package.

    >>> read("profiles.json")[:1]
    b'{'
    """
    try:
        with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), name), "rb") as f:
            return f.read()
    except (FileNotFoundError, NotADirectoryError):  # not on a file system (a zip): ask the loader
        import importlib.resources

        return importlib.resources.files("convo").joinpath(name).read_bytes()
