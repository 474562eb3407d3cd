"""How server processes set up Python's cyclic garbage collector (``api.asgi`` calls it once
the app is built; ``bench.profile`` does the same, so a profile sees what a server runs)."""

from __future__ import annotations

import gc

# The youngest generation is collected once this many more container objects have been
# allocated than freed (CPython's default: 700). One request holds more than 700 at once (a
# 100-reading batch: a dict, a model and a row per reading; a 500-row timeline page: thousands),
# and a worker serves several at a time, so at 700 collections ran in the middle of requests,
# found little to free, and moved what they scanned to an older generation, whose own
# collections then scanned it again. At 10,000 most temporaries of the requests in flight are
# freed by their reference counts before a collection is due. Measured in process
# (``BENCH_PROFILE_MODE=cpu``, 8 requests in flight, 16 for single readings), time in the
# collector per request, 700 -> 10,000: 100-reading batch 0.25 -> 0.03 ms, 500-row timeline page
# 0.34 -> 0.03 ms, session record 0.25 -> 0.04 ms, single reading 0.08 -> 0.02 ms. The cost is
# memory: cyclic garbage, and whatever it refers to, waits longer to be freed. The
# process's peak resident size did not move on the batch, record and single loads and grew by
# 25 MB (181 -> 206 MB) on the timeline load; at 50,000 the batch load alone added 70 MB.
YOUNG_GENERATION_THRESHOLD = 10_000


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
