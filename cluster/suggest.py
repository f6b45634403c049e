"""Hints for names the user got almost right."""

from __future__ import annotations

import difflib
from typing import Any


def did_you_mean(word: str, candidates: Any) -> str:
    """` (did you mean 'X'?)` for a close match among candidates, else ''."""
    matches = difflib.get_close_matches(word, list(candidates), n=1, cutoff=0.6)
    if not matches:
        lowered = {str(c).lower(): c for c in candidates}
        matches = [lowered[word.lower()]] if word.lower() in lowered else []
    return f" (did you mean {matches[0]!r}?)" if matches else ""
