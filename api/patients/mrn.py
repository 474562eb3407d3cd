"""MRNs are unique regardless of letter case (SPEC §9).

The comparison key is the MRN after Unicode case folding (full folding: ``ß`` and ``SS`` are
one key), between two NFC normalizations so that composed and decomposed accents agree. The
app computes it (never the database), so SQLite and PostgreSQL compare the same way; the
``patients.mrn_key`` column holds it under a unique constraint.
"""

from __future__ import annotations

import unicodedata


def mrn_key(mrn: str) -> str:
    return unicodedata.normalize("NFC", unicodedata.normalize("NFC", mrn).casefold())
