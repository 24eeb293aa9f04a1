"""Layer 4, filling: holes in, verified fills out.

filler.py runs the loop for a program's holes; sources.py is where fills
come from (a hand-written lock entry, the module library, the synthesizer in
synth/), model_source.py the model's fills (providers/, with prompt.py,
replies.py and the repair loop); trust.py and choice.py decide between
sources by their evidence;
candidate.py verifies each candidate (compile in place, gaming.py, then
checks.py's examples and properties inside sandbox.py's worker, with
tracing.py for repair feedback);
lockfile.py and library.py store what was accepted; audit.py re-verifies a
lock file. Runs candidates, so it comes after the runtime; it imports
nothing from npl/.
"""
