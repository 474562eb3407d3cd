"""The ASGI application for servers (``uvicorn api.asgi:app``)."""

import gc

from api.main import create_app

app = create_app()

# Everything built so far (modules, the app, SQLAlchemy and pydantic schemas: ~150,000 objects)
# lives as long as the process. Freeze it out of the cyclic collector: a full collection then
# scans only what requests allocated since. Measured on a 500-reading timeline load, the worst
# full-collection pause went from ~100 ms to ~11 ms, and it was the p99 of every read.
gc.freeze()
