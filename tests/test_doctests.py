"""The examples in herit's docstrings run and give the output they show.

Every module of the package is checked (``heritcli.__main__`` runs the program when imported, so
it is left out); the public API modules must have examples.  Examples write only to temporary
directories.
"""

from __future__ import annotations

import doctest
import importlib
import importlib.util
import pkgutil

import pytest

import heritcli

MODULES = sorted(
    m.name
    for m in pkgutil.walk_packages(heritcli.__path__, "heritcli.")
    if not m.name.endswith("__main__")
)
#: Modules whose docstrings must hold runnable examples (the documented Python API).
WITH_EXAMPLES = {
    "heritcli",
    "heritcli.simulate_run",
    "heritcli.core.simulate",
    "heritcli.core.reml",
    "heritcli.cli.help",
    "heritcli.plot",
}


@pytest.mark.parametrize("name", ["heritcli", *MODULES])
def test_doctests(name: str) -> None:
    if name == "heritcli.plot" and importlib.util.find_spec("matplotlib") is None:
        pytest.skip("matplotlib is not installed (the herit[plot] extra)")
    module = importlib.import_module(name)
    result = doctest.testmod(
        module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE, report=True
    )
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples failed in {name}"
    if name in WITH_EXAMPLES:
        assert result.attempted > 0, f"{name} has no runnable examples"


def test_doctests__public_modules_exist() -> None:
    assert WITH_EXAMPLES <= {"heritcli", *MODULES}
