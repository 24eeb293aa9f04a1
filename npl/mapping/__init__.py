"""`npl map` and `npl.map`: a function of a program called on every record
of a data set, on all cores or on a Ray cluster (SPEC section 11;
docs/map.md).

    command.py       the `npl map` command: options, progress, summary, exit status
    run.py           the ways in: a data file to an output file, Python values
                     to Python values; which backend runs the batches
    jobs.py          batching, retries of records whose worker died, results
                     handed on in input order
    local.py         the local worker processes (a jobs.py Backend)
    ray_backend.py   Ray tasks (a jobs.py Backend); Ray is imported only there
    worker.py        one worker: the program loaded once, batches run
    records.py       the input formats (JSON Lines, CSV), the output lines,
                     resuming an output file
    program.py       the program checked once, shipped as plain data, loaded
                     once per worker
    progress.py      the progress bar and the summary line
"""
