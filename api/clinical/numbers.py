"""What counts as a number in the clinical rules: an int or float that is finite; a bool (an
int to Python) never is."""

from __future__ import annotations

import math
from typing import TypeGuard


def is_finite_number(value: object) -> TypeGuard[int | float]:
    return not isinstance(value, bool) and isinstance(value, int | float) and math.isfinite(value)
