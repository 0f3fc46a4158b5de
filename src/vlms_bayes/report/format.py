"""Number formatting shared by every report: a leaf that imports nothing of the package.

Any layer may use it (the fit's own read-out does), which is why it is kept apart from
the report modules that read run folders.
"""

from __future__ import annotations

import math
from typing import Any


def fmt(x: Any, nd: int = 3) -> str:
    """A number with ``nd`` significant digits for the text and HTML reports.

    ``n/a`` for NaN/None, integers as integers, ``∞`` for infinity; other values as text.
    """
    if x is None:
        return "n/a"
    if isinstance(x, bool):
        return str(x)
    try:
        xf = float(x)
    except (TypeError, ValueError):
        return str(x)
    if math.isnan(xf):
        return "n/a"
    if math.isinf(xf):
        return "∞" if xf > 0 else "-∞"
    if xf == int(xf) and abs(xf) < 1e6:
        return str(int(xf))
    return f"{xf:.{nd}g}"


def fmt_prob(p: Any, n_draws: int | None = None, nd: int = 3) -> str:
    """A probability to ``nd`` decimals, or a bound where it shows as 0 or 1.

    A posterior probability estimated from draws is never exactly 0 or 1: where it would
    print as 0 or 1 at ``nd`` decimals, a bound is printed instead, with (when the
    probability is a fraction of ``n_draws`` posterior draws) how many draws fell on the
    other side, e.g. ``"> 0.999 (0 of 4000 draws otherwise)"`` or ``"< 0.001 (2 of 4000
    draws)"``. Without ``n_draws`` (e.g. a mean of per-draw probabilities) only the bound.
    ``n/a`` for None/NaN.
    """
    if p is None:
        return "n/a"
    pf = float(p)
    if math.isnan(pf):
        return "n/a"
    shown = f"{pf:.{nd}f}"
    step = 10.0**-nd
    if 0.0 < float(shown) < 1.0:
        return shown
    high = float(shown) >= 1.0
    txt = f"> {1.0 - step:.{nd}f}" if high else f"< {step:.{nd}f}"
    if n_draws:
        k = round((1.0 - pf if high else pf) * n_draws)
        txt += f" ({k} of {n_draws} draws{' otherwise' if high else ''})"
    return txt
