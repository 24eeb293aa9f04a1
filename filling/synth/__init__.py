"""The example-driven synthesizer: typed examples in, the smallest NPL
expression that fits them out (search.py; enumeration in enum.py, deduction
in deduce.py, operators in ops.py and table.py, constants in consts.py,
comprehension forms in forms.py, values in values.py)."""
