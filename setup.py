"""Build the Cython extensions of tradeoff.

Every ``.pyx`` under ``src/tradeoff`` becomes an extension module. The compiler
directives are set here and nowhere else. ``TRADEOFF_DEBUG=1`` at build time turns
bounds, wraparound and initialization checks back on (and keeps asserts and
debug symbols), which the test suite runs under at least once in CI.
"""
import os
from pathlib import Path

import numpy
from Cython.Build import cythonize
from setuptools import Extension, setup

DEBUG = os.environ.get("TRADEOFF_DEBUG", "") not in ("", "0")
# for development: TRADEOFF_ONLY=messaging builds only the modules whose name holds it
ONLY = os.environ.get("TRADEOFF_ONLY", "")

directives = {
    "language_level": 3,
    "embedsignature": True,
    "boundscheck": DEBUG,
    "wraparound": DEBUG,
    "initializedcheck": DEBUG,
    "cdivision": not DEBUG,
}

if DEBUG:
    compile_args = ["-O0", "-g3", "-UNDEBUG"]
else:
    compile_args = ["-O3"]

extensions = []
for pyx in sorted(Path("src").rglob("*.pyx")):
    module = ".".join(pyx.relative_to("src").with_suffix("").parts)
    if ONLY not in module:
        continue
    extensions.append(
        Extension(
            module,
            [str(pyx)],
            include_dirs=[numpy.get_include()],
            define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION"),
                           ("TRADEOFF_DEBUG_BUILD", "1" if DEBUG else "0")],
            extra_compile_args=compile_args,
        )
    )

setup(
    ext_modules=cythonize(
        extensions,
        compiler_directives=directives,
        include_path=["src"],
        # generated C goes to build/, one folder per mode, so that a debug build
        # never reuses C generated with other directives (and src/ stays clean)
        build_dir="build/cython-debug" if DEBUG else "build/cython",
        quiet=True,
    ),
)
