"""herit: SNP-heritability estimation with linear mixed models.

The command line is a thin layer over these functions, each returning a dataclass with a
``to_dict()`` method (JSON-ready):

==================  ==========================  =====================================
function            command                     returns
==================  ==========================  =====================================
``make_grm``        ``herit make-grm``          ``MakeGrmResult``
``decompose``       ``herit eigen``             ``EigenResult``
``fit_reml``        ``herit reml``              ``RemlReport`` (one fit per phenotype)
``fit_mcem``        ``herit mcem``              ``McemReport``
``simulate``        ``herit simulate``          ``SimulationResult``
==================  ==========================  =====================================

The public functions are imported lazily so that ``import heritcli`` (and
``herit --help``) stay fast; numpy, scipy and h5py load on first use.

Examples
--------
Simulate a trait with h² = 0.5 on 600 samples, build the GRM, decompose it and fit REML
(a few seconds; everything is written to a temporary directory):

>>> import tempfile, numpy as np, heritcli
>>> from heritcli.io.plink import write_bfile
>>> workdir = tempfile.TemporaryDirectory()
>>> d = workdir.name
>>> rng = np.random.default_rng(42)
>>> write_bfile(f"{d}/toy", rng.binomial(2, rng.uniform(0.1, 0.9, (2000, 1)), (2000, 600)))
>>> sim = heritcli.simulate(f"{d}/toy", h2=0.5, causal=200, seed=1, out=f"{d}/sim")
>>> grm = heritcli.make_grm(f"{d}/toy", out=f"{d}/toy")
>>> grm.n_samples, grm.n_snps_used
(600, 2000)
>>> eig = heritcli.decompose(f"{d}/toy.h5", pcs=2)
>>> report = heritcli.fit_reml(heritcli.RemlOptions(grm=f"{d}/toy.h5", pheno=f"{d}/sim.pheno"))
>>> fit = report.phenotypes[0].fit
>>> abs(fit.h2 - 0.5) < 3 * fit.h2_se
True
>>> sorted(report.to_dict())[:3]
['grm', 'grm_fingerprint', 'herit_version']
>>> workdir.cleanup()
"""

from __future__ import annotations

from typing import Any

from heritcli._version import __version__

__all__ = [
    "McemOptions",
    "RemlOptions",
    "SimulateOptions",
    "__version__",
    "decompose",
    "export_grm",
    "fit_mcem",
    "fit_reml",
    "import_grm",
    "inspect_artifact",
    "make_grm",
    "simulate",
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
    "fit_mcem": "heritcli.mcem_run",
    "McemOptions": "heritcli.mcem_run",
    "simulate": "heritcli.simulate_run",
    "SimulateOptions": "heritcli.simulate_run",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'heritcli' has no attribute {name!r}")
