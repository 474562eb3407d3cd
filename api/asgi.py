"""The ASGI application for servers (``uvicorn api.asgi:app``)."""

from api.collector import settle_collector
from api.main import create_app

app = create_app()
settle_collector()
