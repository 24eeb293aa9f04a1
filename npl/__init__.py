"""NPL: a small statically typed language with Python's look, whose
programs leave parts unwritten as holes that a model (or the library, or the
synthesizer) fills once; fills are verified, locked and run natively.

Embedding API (see docs/embedding.md):

    import npl
    prog = npl.load("prog.npl")
    prog.call("main_fn", 1, 2)
"""
from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["load", "compile_source", "map", "Program", "NplError", "NplTypeError", "CompileError",
           "NplRuntimeError", "SourceFileError", "MapError", "MapRecordError"]


def __getattr__(name):
    # Lazy: `import npl` stays cheap (the CLI's start-up time matters).
    if name in ("load", "compile_source", "Program", "NplTypeError", "HoleState"):
        from . import api
        return getattr(api, name)
    if name == "map":
        from npl.mapping.run import map_values
        return map_values
    if name in ("MapError", "MapRecordError"):
        from npl.mapping import run
        return getattr(run, name)
    if name == "NplError":
        from npl.lang.errors import NplError
        return NplError
    if name == "CompileError":
        from npl.lang.diagnostics import CompileError
        return CompileError
    if name == "SourceFileError":
        from npl.project import SourceFileError
        return SourceFileError
    if name == "NplRuntimeError":
        from npl.runtime.errors import NplRuntimeError
        return NplRuntimeError
    raise AttributeError(f"module 'npl' has no attribute {name!r}")
