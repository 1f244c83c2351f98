"""The benchmark of issue 5: our export against the physical limit (the SRC rate limit) and two baselines.

``bench/run`` (or ``python -m bench``) starts the SRC sandbox and moto's S3 server on 127.0.0.1, runs
each contender in a subprocess of its own against them, and prints and writes the results table.
Not part of CI.
"""
