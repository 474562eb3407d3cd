"""How server processes set up Python's cyclic garbage collector (``api.asgi`` calls it once
the app is built; ``bench.profile`` does the same, so a profile sees what a server runs)."""

from __future__ import annotations

import gc

# The youngest generation is collected once this many more container objects have been
# allocated than freed (CPython's default: 700). One request holds more than 700 at once (a
# 100-reading batch: a dict, a model and a row per reading; a 500-row timeline page: thousands),
# and a worker serves several at a time, so at 700 collections ran in the middle of requests,
# found little to free, and moved what they scanned to an older generation, whose own
# collections then scanned it again. At 50,000 the temporaries of the requests in flight are
# freed by their reference counts before a collection is due. Measured in process
# (``BENCH_PROFILE_MODE=cpu``, 8 requests in flight), time in the collector per request:
# 100-reading batch 0.24-0.26 -> 0 ms, 500-row timeline page 0.35-0.42 -> 0 ms, session record
# 0.22 -> 0 ms, single reading (16 in flight) 0.09-0.11 -> 0.01 ms. The cost: up to ~50,000
# objects (a few MB) of cyclic garbage wait longer, and a collection, when one runs, scans up to
# that many.
YOUNG_GENERATION_THRESHOLD = 50_000


def settle_collector(young_threshold: int = YOUNG_GENERATION_THRESHOLD) -> None:
    """Call once start-up is done, before serving."""
    # Everything built so far (modules, the app, SQLAlchemy and pydantic schemas: ~150,000
    # objects) lives as long as the process. Freeze it out of the collector: a full collection
    # then scans only what requests allocated since. Measured on a 500-reading timeline load,
    # the worst full-collection pause went from ~100 ms to ~11 ms, and it was the p99 of every
    # read.
    gc.freeze()
    _, older, oldest = gc.get_threshold()
    gc.set_threshold(young_threshold, older, oldest)
