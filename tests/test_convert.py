"""runtime/convert.py, the one converter: host values, JSON data and CSV
text to NPL values by type, NPL values to JSON; where a value does not fit,
the message says where, what was expected and what was found."""
from __future__ import annotations

import math

import numpy as np
import pytest

from npl.lang.types import (BOOL, FLOAT, INT, STR, ArrayT, CounterT, DictT, ListT, OptionalT, SetT,
                            StructT, TupleT)
from npl.runtime.convert import HOST, JSON, ConversionError, convert, from_text, to_json


class Point:
    npl_fields = ("x", "y")

    def __init__(self, x, y):
        self.x, self.y = x, y

    def __eq__(self, other):
        return type(other) is Point and (self.x, self.y) == (other.x, other.y)


STRUCTS = {"Point": (Point, [("x", INT), ("y", FLOAT)])}
POINTS = ListT(StructT("Point"))


def test_json_data_converts_by_type():
    assert convert([{"x": 1, "y": 2}], POINTS, STRUCTS, "p", JSON) == [Point(1, 2.0)]
    assert convert([[1, "a"]], DictT(INT, STR), {}, "d", JSON) == {1: "a"}
    assert convert([1, 2, 2], SetT(INT), {}, "s", JSON) == {1, 2}
    assert convert([1, "a"], TupleT((INT, STR)), {}, "t", JSON) == (1, "a")
    assert math.isinf(convert("-inf", FLOAT, {}, "f", JSON))
    grid = convert([[1.0, 2], [3, 4]], ArrayT(FLOAT, 2), {}, "a", JSON)
    assert grid.dtype == np.float64 and grid.shape == (2, 2)


@pytest.mark.parametrize("data, t, message", [
    ([{"x": 1, "y": "two"}], POINTS, 'line 3, argument \'ps\'[0].y: expected float, found "two"'),
    ([{"x": 1}], POINTS, "argument 'ps'[0]: expected Point (an object with exactly the fields x, y)"),
    ({"a": [1, True]}, DictT(STR, ListT(INT)), "argument 'ps'['a'][1]: expected int, found true"),
    ([[1, 2], [3]], ArrayT(INT, 2), "expected array[int, 2] (a 2-D array of int)"),
    ({"1": "a"}, DictT(INT, STR), "expected dict[int, str] (an array of [key, value] pairs)"),
])
def test_a_value_that_does_not_fit_says_where(data, t, message):
    where = "line 3, argument 'ps'" if "line 3" in message else "argument 'ps'"
    with pytest.raises(ConversionError) as info:
        convert(data, t, STRUCTS, where, JSON)
    assert message in str(info.value)


def test_a_counter_comes_in_as_a_counter_and_goes_out_as_a_dict():
    from collections import Counter
    from npl.runtime.values import conforms
    words = convert({"a": 2, "b": 1}, CounterT(STR), {}, "c", JSON)
    assert type(words) is Counter and words["z"] == 0 and words == Counter("aab")
    assert type(convert({1: 3}, CounterT(INT), {}, "c", HOST)) is Counter
    assert conforms(words, CounterT(STR), {}) and conforms(words, DictT(STR, INT), {})
    assert not conforms({"a": 2}, CounterT(STR), {})
    with pytest.raises(ConversionError, match="c\\['a'\\]: expected int"):
        convert({"a": 1.5}, CounterT(STR), {}, "c", JSON)
    assert to_json(Counter("aab")) == {"a": 2, "b": 1}


def test_host_values_are_read_through_their_base_type():
    class Sneaky(int):
        def __int__(self):
            return 99
    assert convert(Sneaky(3), INT, {}, "x") == 3 and type(convert(Sneaky(3), INT, {}, "x")) is int
    assert convert(np.int64(4), FLOAT, {}, "x") == 4.0
    assert convert({"x": 1, "y": 2, "z": 0}, StructT("Point"), STRUCTS, "p", HOST) == Point(1, 2.0)
    with pytest.raises(ConversionError, match=r"x: expected int, got bool True"):
        convert(True, INT, {}, "x", HOST)


def test_csv_cells_are_text_none_or_json():
    assert from_text("007", STR, {}, "c") == "007"
    assert from_text("", OptionalT(INT), {}, "c") is None
    assert from_text("TRUE", BOOL, {}, "c") is True
    assert from_text(" 12 ", INT, {}, "c") == 12
    assert from_text('[1, 2]', ListT(INT), {}, "c") == [1, 2]
    with pytest.raises(ConversionError, match='c: expected int, found "twelve"'):
        from_text("twelve", INT, {}, "c")


def test_values_come_out_as_json():
    assert to_json({1: {2, 1}, 2: set()}) == [[1, [1, 2]], [2, []]]
    assert to_json((Point(1, math.nan), [np.arange(2)])) == [{"x": 1, "y": "nan"}, [[0, 1]]]
    with pytest.raises(TypeError):
        to_json(len)
