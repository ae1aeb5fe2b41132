"""The built client's first load stays within its budget of compressed JavaScript."""

from __future__ import annotations

import gzip
import re

from tests.e2e.browser.conftest import WEB_BUILD

BUDGET = 250 * 1024


def test_first_load_javascript_is_within_budget() -> None:
    assert WEB_BUILD.is_file(), "the web client is not built: run `make web`"
    html = WEB_BUILD.read_text()
    scripts = re.findall(r'(?:src|href)="/(assets/[^"]+\.js)"', html)
    assert scripts, "index.html loads no script"
    sizes = {s: len(gzip.compress((WEB_BUILD.parent / s).read_bytes(), 9)) for s in scripts}
    total = sum(sizes.values())
    print(f"\nfirst load: {total / 1024:.1f} KB of gzip JavaScript ({sizes})")
    assert total <= BUDGET
    lazy = [p.name for p in (WEB_BUILD.parent / "assets").glob("Chat-*.js")]
    assert lazy and all(name not in html for name in lazy)  # chat is split off the first load
