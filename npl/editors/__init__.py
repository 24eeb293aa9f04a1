"""Editor support for NPL.

`npl.editors.lexer.NplLexer` is the Pygments lexer (registered under the
`pygments.lexers` entry point, so `pygmentize -l npl FILE` works); the VS
Code extension with the TextMate grammar lives in `editors/vscode/` at the
repository root.
"""
from .lexer import HOLE, NplLexer

__all__ = ["HOLE", "NplLexer"]
