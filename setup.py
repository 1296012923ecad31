"""The optional C parts of convo: the codec's lazy check (``convo/codec/_lazycheck.c``) and slot
copying for frozen values (``convo/_speedups.c``).

Everything else is in pyproject.toml. Where no C compiler (or no Python headers) is found, the
build goes on without them and convo does the same work in Python (``optional=True``).
"""

from setuptools import Extension, setup

setup(ext_modules=[
    Extension("convo.codec._lazycheck", ["convo/codec/_lazycheck.c"], optional=True),
    Extension("convo._speedups", ["convo/_speedups.c"], optional=True),
])
