"""Fill order: a hole comes after the function holes its verification will
run — through its tests' calls, or named in its description."""
from __future__ import annotations

from npl.compiler.driver import compile
from npl.filling.filler import dependency_levels

PROGRAM = '''
def sentences(text: str) -> list[str]:
    """Split text into sentences at '.'."""
    ...

def lengths(ss: list[str]) -> list[int]:
    """The number of words in each sentence."""
    ...

def summary(text: str) -> str:
    """Describe text using sentences and lengths."""
    ...

def shout(text: str) -> str:
    """text in capitals."""
    ...

def loud_summary(text: str) -> str:
    return shout(summary(text))

example summary("a. b") == "2 sentences"
example shout("a") == "A"
'''


def names(levels):
    return [sorted(s.name for s in level) for level in levels]


def test_description_and_call_dependencies_order_the_levels():
    comp = compile(PROGRAM, "order.npl")
    levels = names(dependency_levels(comp.holes, comp.program))
    assert levels[0] == ["lengths", "sentences", "shout"]
    assert levels[1] == ["summary"]            # its description names the first two
    assert len(levels) == 2


def test_independent_holes_share_one_level():
    comp = compile('def a(x: int) -> int:\n    """One more."""\n    ...\n\n'
                   'def b(x: int) -> int:\n    """One less."""\n    ...\n', "ind.npl")
    assert names(dependency_levels(comp.holes, comp.program)) == [["a", "b"]]
