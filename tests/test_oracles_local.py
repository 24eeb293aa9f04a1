"""An oracle answered by the real local model (Qwen2.5-Coder-1.5B through
llama.cpp), its decoding constrained by the GBNF grammar of the return type:
a struct of three fields for ten different inputs, with no reply that fails
to parse or check. Marked `local_model`; skipped, with the reason, where the
model is not installed."""
from __future__ import annotations

import pytest

import npl
from npl.filling.providers.local import local_model_available

AVAILABLE, WHY_NOT = local_model_available()
pytestmark = [pytest.mark.local_model, pytest.mark.skipif(not AVAILABLE, reason=WHY_NOT)]

PROGRAM = '''\
struct Contact:
    name: str
    age: int
    city: str | None

@oracle
def contact(text: str) -> Contact:
    """The person's name, their age in years, and the city they live in (None when the text names none)."""
    ...

example contact("Maria is 34 and lives in Lisbon.") == Contact("Maria", 34, "Lisbon")
'''

TEXTS = ["Tom, 41, from Oslo.", "Aiko is twenty years old and lives in Kyoto.",
         "Our new hire Ben (29) moved to Leeds.", "Grandma Rosa turned 88 last week.",
         "Lukas lives in Graz; he is 52.", "Priya, aged 31, Mumbai.", "Sam is 7.",
         "Olga, 45, lives in Riga with her cat.", "Call Ahmed (age 60) in Cairo.",
         "Zoe just turned 19 and lives in Perth."]


def test_a_struct_oracle_answers_ten_inputs_well_typed(tmp_path):
    path = tmp_path / "c.npl"
    path.write_text(PROGRAM)
    prog = npl.load(str(path), frozen=False, model="local/qwen2.5-coder-1.5b")
    answers = [prog.call("contact", t) for t in TEXTS]
    stats = prog.oracles.stats
    assert stats.asked == 10 and stats.requests == 10, stats        # no retry was needed
    for a in answers:
        assert isinstance(a.name, str) and isinstance(a.age, int)
        assert a.city is None or isinstance(a.city, str)
    assert answers[0].name == "Tom" and answers[0].age == 41
