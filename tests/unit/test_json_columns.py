"""JSON columns keep whatever a sender sent, even what orjson cannot write."""

from __future__ import annotations

import json

from api.db import json_dumps


def test_an_integer_beyond_64_bits_is_written_not_refused() -> None:
    # Found by fuzzing the device push: a quarantined item holding such a number was a 500.
    item = {"code": "spo2", "value": 10**30, "unit": "%"}
    assert json.loads(json_dumps(item)) == item


def test_ordinary_documents_keep_orjson_output() -> None:
    assert json_dumps({"a": 1, 2: "b"}) == '{"a":1,"2":"b"}'
