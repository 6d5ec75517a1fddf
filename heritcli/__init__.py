"""herit: SNP-heritability estimation with linear mixed models.

The public functions are imported lazily so that ``import heritcli`` (and
``herit --help``) stay fast; numpy, scipy and h5py load on first use.
"""

from __future__ import annotations

from typing import Any

from heritcli._version import __version__

__all__ = [
    "__version__",
    "export_grm",
    "import_grm",
    "inspect_artifact",
    "make_grm",
]

_API = {"export_grm", "import_grm", "inspect_artifact", "make_grm", "load_grm"}


def __getattr__(name: str) -> Any:
    if name in _API:
        from heritcli import api

        return getattr(api, name)
    raise AttributeError(f"module 'heritcli' has no attribute {name!r}")
