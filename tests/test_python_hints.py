"""What the checker advises for a Python name NPL lacks (lang/builtin_sigs.py
python_hint); the spec test tests/spec/errors/E010_raise_function shows it
in a diagnostic."""
from __future__ import annotations

import pytest

from npl.lang.builtin_sigs import PYTHON_ONLY_HINTS, python_hint
from npl.lang.lexer import NO_EXCEPTIONS


@pytest.mark.parametrize("name", ["raise_value_error", "raiseValueError", "raise_error",
                                  "RaiseException", "raise_type_error"])
def test_a_made_up_raise_gets_the_advice_for_raise(name):
    assert python_hint(name) == NO_EXCEPTIONS


@pytest.mark.parametrize("name", ["raised", "raise_count", "raise_", "errors", "praise_error"])
def test_other_names_get_no_such_advice(name):
    assert python_hint(name) is None


def test_known_python_names_keep_their_advice():
    assert python_hint("defaultdict") == PYTHON_ONLY_HINTS["defaultdict"]
    assert "Counter is built in" in python_hint("collections")
    assert python_hint("Counter") is None           # built in, so never undefined
