"""The optional C part of convo: the codec's lazy check (``convo/codec/_lazycheck.c``).

Everything else is in pyproject.toml. Where no C compiler (or no Python headers) is found, the
build goes on without it and convo runs the same check in Python (``optional=True``).
"""

from setuptools import Extension, setup

setup(ext_modules=[Extension("convo.codec._lazycheck", ["convo/codec/_lazycheck.c"], optional=True)])
