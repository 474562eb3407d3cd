"""Server processes set up the cyclic garbage collector as ``api.collector`` says (checked in a
fresh interpreter: freezing and re-tuning the test process itself would outlive the test)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from api.collector import YOUNG_GENERATION_THRESHOLD

ROOT = Path(__file__).resolve().parents[2]


def _collector_after(statement: str) -> tuple[int, int, int, int]:
    code = f"import gc; {statement}; print(*gc.get_threshold(), gc.get_freeze_count())"
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    young, older, oldest, frozen = (int(n) for n in out)
    return young, older, oldest, frozen


def test_the_server_module_freezes_start_up_and_raises_the_youngest_threshold() -> None:
    young, older, oldest, frozen = _collector_after("import api.asgi")
    default = _collector_after("pass")
    assert young == YOUNG_GENERATION_THRESHOLD > default[0]
    assert (older, oldest) == default[1:3]  # the older generations keep CPython's settings
    assert frozen > 10_000  # the app, its modules and schemas are out of the collector's way
    assert default[3] == 0
