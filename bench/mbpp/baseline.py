"""The baseline arm: the model asked once to write the function in Python.

    baseline_messages(problem) -> chat     the request: the signature (in
                                           Python), the task text as its
                                           docstring, the shown test as an
                                           `assert`, the reply format
    python_code(reply, name) -> str        the code of the reply

The request carries what NPL's first request for the same hole carries
(filling/prompt_template.txt: signature, description, visible example,
reply format), written for Python instead of NPL, and no repair turn.
"""
from __future__ import annotations

import re

from problem import Problem, call_text, docstring, literal, python_signature

SYSTEM = ("You are an expert Python programmer. Write straightforward, general code: "
          "never special-case the example inputs.")

USER = """Write this Python function.

```python
{signature}
    \"\"\"{description}\"\"\"
```

It must satisfy:
```python
{asserts}
```

Reply with only the complete function in one ```python code block: the `def` line exactly as given, then its body. You may add imports and small helper functions before it."""

FENCE = re.compile(r"```[ \t]*([\w+-]*)[^\n]*\n(.*?)(?:```|\Z)", re.S)


def baseline_messages(p: Problem) -> list[dict]:
    asserts = "\n".join(f"assert {call_text(p, args)} == {literal(expected)}"
                        for args, expected in p.shown)
    user = USER.format(signature=python_signature(p), description=docstring(p.description),
                       asserts=asserts)
    return [{"role": "system", "content": SYSTEM}, {"role": "user", "content": user}]


def python_code(reply: str, name: str) -> str:
    """The code block of `reply` that defines `name` (else its first code
    block, else the whole reply): what a user would paste."""
    blocks = [(lang.lower(), body) for lang, body in FENCE.findall(reply)]
    blocks = [body for lang, body in blocks if lang in ("", "python", "py", "python3")]
    for body in blocks:
        if re.search(rf"^\s*def\s+{re.escape(name)}\s*\(", body, re.M):
            return body
    return blocks[0] if blocks else reply
