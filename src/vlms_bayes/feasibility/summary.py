"""Text of the origin probabilities for the console, ``SUMMARY.txt`` and the report.

Pure functions of :class:`~vlms_bayes.feasibility.probability.OriginProbability` results;
the feasibility summary leads with these lines, the grid map follows as the explanation.
"""

from __future__ import annotations

import textwrap

from vlms_bayes.feasibility.probability import OriginProbability


def origin_lines(target: str, kl: OriginProbability | None,
                 disk: OriginProbability | None) -> list[str]:
    """Lines stating both probabilities, their intervals and what they assume.

    Parameters
    ----------
    target : str
        Companion name.
    kl, disk : OriginProbability or None
        The two routes (None: not computed, said so).

    Returns
    -------
    list of str
    """
    lines = [f"Origin of {target}: probabilities over published priors (95% intervals); "
             "the perturber-grid map below explains them"]
    for label, r in (("Kozai-Lidov origin", kl), ("disk migration", disk)):
        if r is None:
            lines.append(f"  P({label}): not computed in this run")
            continue
        lines.append("  " + r.line(target))
        if r.loss_share:
            top = sorted(r.loss_share.items(), key=lambda kv: -kv[1])
            lines.append("    systems lost by criterion: " + ", ".join(
                f"{k} {100 * v:.0f}%" for k, v in top if v >= 0.005))
        lines.extend(textwrap.wrap("assumes: " + r.assumptions, width=96,
                                   initial_indent="    ", subsequent_indent="      "))
    return lines
