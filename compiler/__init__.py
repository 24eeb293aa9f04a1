"""Layer 2, the compiler: a checked program and fills in, verified IR out.

driver.compile() is the pipeline: front end (lang/), holes and their keys
(holes.py), fill text applied in place (fills.py), lowering (lower.py) to the
IR (ir.py, printed by irprint.py), and the IR verifier (irverify.py).
Imports only lang/.
"""
