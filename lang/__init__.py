"""Layer 1, the front end: source text in, a checked program out.

lexer and parser (Lark grammar) -> AST (every node has a span) -> checker
(types, names, narrowing, kernels) -> CheckedProgram, with diagnostics.
errors.py is the root of NPL's error hierarchy and its exit codes. This
layer imports no other part of NPL.
"""
