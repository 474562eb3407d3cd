"""Log lines carry the request id; they never carry patient data or secrets."""

from __future__ import annotations

import logging

from api.middleware import request_id_var


class RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id_var.get()
        return True


def configure_logging(level: str) -> None:
    handler = logging.StreamHandler()
    handler.addFilter(RequestIdFilter())
    handler.setFormatter(
        logging.Formatter("%(asctime)s %(levelname)s %(name)s [req=%(request_id)s] %(message)s")
    )
    root = logging.getLogger("vigil")
    root.handlers[:] = [handler]
    root.setLevel(level)
    root.propagate = False
