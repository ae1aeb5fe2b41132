"""The chat text shortcut gives exactly what the HTML sanitizer would, or is not taken."""

from __future__ import annotations

import random

from townsquare.core.text import plain, sanitize
from townsquare.domains.chat.actions import NEEDS_SANITIZER, sanitize_text

PLANES = [
    *range(1, 0x3000),
    *range(0xE000, 0x10000),
    *range(0x1F300, 0x1F700),
    0x10FFFF,
    0x1FFFE,
]
ALPHABET = [chr(c) for c in PLANES if not 0xD800 <= c <= 0xDFFF]


def test_shortcut_matches_the_sanitizer_on_random_text() -> None:
    rng = random.Random(20261122)
    taken = 0
    for _ in range(20_000):
        raw = "".join(rng.choice(ALPHABET) for _ in range(rng.randint(0, 40)))
        clean = sanitize(raw)
        assert sanitize_text(raw) == (clean, plain(clean).strip()), repr(raw)
        taken += NEEDS_SANITIZER.search(raw) is None
    assert taken > 1000  # the shortcut was exercised, not only the sanitizer


def test_markup_still_goes_through_the_sanitizer() -> None:
    stored, visible = sanitize_text(' <script>x</script><b onclick="y">hi</b> &amp;')
    assert "<script" not in stored and "onclick" not in stored and "x" not in visible
    assert stored.startswith("<b>hi</b>") and visible.split() == ["hi", "&"]
