"""Build configuration beyond pyproject.toml: the optional compiled ``.bed`` kernels.

herit works without them (numpy code does the same work, more slowly), so a
machine without a C compiler still installs it: the extension is optional.
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "heritcli.core._bedkernels",
            sources=["heritcli/core/_bedkernels.c", "heritcli/core/_bimtext.c"],
            extra_compile_args=["-O3"],
            optional=True,
        )
    ]
)
