"""herit: SNP-heritability estimation with linear mixed models.

The public functions are imported lazily so that ``import heritcli`` (and
``herit --help``) stay fast; numpy, scipy and h5py load on first use.
"""

from __future__ import annotations

from typing import Any

from heritcli._version import __version__

__all__ = [
    "RemlOptions",
    "__version__",
    "decompose",
    "export_grm",
    "fit_reml",
    "import_grm",
    "inspect_artifact",
    "make_grm",
]

_LAZY = {
    "export_grm": "heritcli.api",
    "import_grm": "heritcli.api",
    "inspect_artifact": "heritcli.api",
    "make_grm": "heritcli.api",
    "load_grm": "heritcli.api",
    "decompose": "heritcli.eigen_run",
    "fit_reml": "heritcli.reml_run",
    "RemlOptions": "heritcli.reml_run",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'heritcli' has no attribute {name!r}")
