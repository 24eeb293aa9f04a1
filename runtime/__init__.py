"""NPL runtime: IR execution (Python code objects), Numba JIT, CUDA."""
