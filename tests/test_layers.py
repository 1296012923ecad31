"""The house stays as drawn: every import runs down the layers, and no modules import each other
in a circle (``convo/__init__.py``'s docstring and the README's "Architecture" show the map)."""

from __future__ import annotations

import ast

import pytest

from tests._imports import cycles, graph, modules

# Each layer, lowest first, with the module prefixes it holds. A module may import its own layer
# and every layer of a lower rank; layers of the same rank are side by side and never import
# each other.
LAYERS: list[tuple[str, int, tuple[str, ...]]] = [
    ("base", 0, ("convo.errors", "convo._json", "convo._images", "convo._samples", "convo._frozen",
                 "convo._frozen_code", "convo._gencode", "convo._gencode_data", "convo._slots", "convo._speedups",
                 "convo._resources")),
    ("model", 1, ("convo.model", "convo._predicates")),  # (the rules' predicates, shared with the transforms)
    ("profiles", 2, ("convo.profiles", "convo.pricing")),
    ("rules", 3, ("convo.rules",)),
    ("transforms", 4, ("convo.transforms",)),
    ("codec", 5, ("convo.codec",)),
    ("strategies", 5, ("convo.strategies",)),
    ("executor", 6, ("convo.executor",)),
    # Arrow tables and Hugging Face datasets (optional extras): above the codec, below the line
    # engine, whose Parquet sources and sinks use them; beside the executor, which they never need
    ("datasets", 6, ("convo.arrow", "convo.hf")),
    ("view", 6, ("convo.view",)),  # pages of conversations: above the codec and rules, below the command
    ("jobs", 7, ("convo.jobs",)),
    ("stream", 7, ("convo.stream",)),
    ("testing", 7, ("convo.testing",)),
    ("dask", 8, ("convo.dask",)),
    ("cli", 9, ("convo.cli",)),
]

# The package's face (``import convo``): the values, rules, transforms and codec, nothing that
# loads httpx, hypothesis or the command.
FACE = ("convo", {"base", "model", "profiles", "rules", "transforms", "codec"})

# Imports that run up, each with its reason. Nothing else may.
ALLOWED_UP = {
    ("convo.executor", "convo.jobs"): "the names users know from convo.executor (BatchExecutor, "
    "run_file, RunSummary, BatchStatus, BatchInfo) are the jobs layer's, loaded on first use "
    "by the package's __getattr__",
}

ARGPARSE_ALLOWED = ("convo.cli", "convo.testing.emulator")  # the command, and the emulator's own `python -m`


def layer_of(module: str) -> tuple[str, int]:
    """The layer a module belongs to (the longest matching prefix)."""
    if module == FACE[0]:
        return "face", 100
    best: tuple[str, int, int] | None = None
    for name, rank, prefixes in LAYERS:
        for prefix in prefixes:
            inside = module == prefix or module.startswith(prefix + ".")
            if inside and (best is None or len(prefix) > best[2]):
                best = (name, rank, len(prefix))
    if best is None:
        raise AssertionError(f"{module} belongs to no layer: add it to LAYERS")
    return best[0], best[1]


def allowed(src: str, dst: str) -> bool:
    """Whether module *src* may import module *dst*."""
    (sl, sr), (dl, dr) = layer_of(src), layer_of(dst)
    if sl == "face":
        return dl in FACE[1]
    if dl == "face":
        return False  # nothing inside imports the package's face: it would import everything
    if sl == dl or dr < sr:
        return True
    return any(src == a and (dst == b or dst.startswith(b + ".")) for a, b in ALLOWED_UP)


def stdlib_imports(module: str) -> set[str]:
    """The top-level names of what *module* imports (``argparse``, ``os``, ...; a C extension
    imports nothing)."""
    if modules()[module].suffix == ".c":
        return set()
    tree = ast.parse(modules()[module].read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
            found.add(node.module.split(".")[0])
    return found


class TestLayers:
    def test_every_module_has_a_layer(self):
        """Each module of the package is in exactly one layer of the table."""
        for module in modules():
            layer_of(module)  # raises for a module in no layer

    def test_imports_run_down(self):
        """No module imports a module of a higher layer (or of a side-by-side one), bar ALLOWED_UP."""
        wrong = [
            f"{src} -> {dst} ({layer_of(src)[0]} -> {layer_of(dst)[0]})"
            for src, targets in sorted(graph().items())
            for dst in sorted(targets)
            if not allowed(src, dst)
        ]
        assert wrong == []

    def test_allowed_up_is_still_needed(self):
        """Every exception in ALLOWED_UP is still an import the code makes (stale ones go)."""
        g = graph()
        for src, dst in ALLOWED_UP:
            assert any(t == dst or t.startswith(dst + ".") for t in g[src]), (src, dst)

    def test_the_checker_catches_a_wrong_import(self):
        """The rule itself: the model importing the codec, or the codec the command, is refused."""
        assert not allowed("convo.model", "convo.codec")
        assert not allowed("convo.codec.lines", "convo.cli._common")
        assert not allowed("convo.jobs.run", "convo.stream.sinks")  # side by side
        assert allowed("convo.cli.run", "convo.jobs")
        assert allowed("convo.executor", "convo.jobs.batch")  # the one exception

    def test_no_cycles(self):
        """No modules import each other in a circle, counting imports inside functions."""
        assert cycles(graph()) == []

    def test_the_cycle_finder_finds_one(self):
        """The finder itself, on a small graph with one circle and one tail."""
        g = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
        assert cycles(g) == [["a", "b", "c"]]

    @pytest.mark.parametrize("module", sorted(modules()))
    def test_only_the_command_parses_arguments(self, module):
        """argparse is imported only by the command (and the emulator's own entry point)."""
        if not module.startswith(ARGPARSE_ALLOWED):
            assert "argparse" not in stdlib_imports(module)
