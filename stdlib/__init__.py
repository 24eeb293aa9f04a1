"""Layer 3, beside the runtime: the built-in functions' implementations."""
