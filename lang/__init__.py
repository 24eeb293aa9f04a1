"""NPL front end: grammar, parser, AST, types, checker, diagnostics."""
