"""Layer 3, the runtime: verified IR in, a running program out.

codegen.py turns IR into Python code objects (the reference interpreter);
jit.py and the numba_* modules compile hot functions and @kernel functions
with Numba, cuda.py runs kernels on an NVIDIA GPU; errors.py gives NPL stack
traces; testing.py runs examples and properties. Imports lang/, compiler/
and stdlib/ (the built-ins, which are the same layer).
"""
