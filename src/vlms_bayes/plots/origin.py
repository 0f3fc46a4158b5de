"""Figure of the origin probabilities' sensitivity (returns the Figure; the caller saves)."""

from __future__ import annotations

from typing import Any

import numpy as np

_LABELS = {"radius_rj": "companion radius R_p [RJ]", "q_prime_planet": "planet Q'_p",
           "horizon_gyr": "horizon [Gyr]"}


def probability_sensitivity_figure(table: Any, *, target: str = "") -> Any:
    """P(KL origin) with its 95 % interval against R_p, Q'_p and the horizon.

    Parameters
    ----------
    table : pandas.DataFrame
        :func:`vlms_bayes.feasibility.probability.kl_sensitivity` output.
    target : str
        Companion name for the title.

    Returns
    -------
    matplotlib.figure.Figure
    """
    from matplotlib.figure import Figure  # heavy: matplotlib

    params = list(dict.fromkeys(table["parameter"]))
    fig = Figure(figsize=(4.2 * len(params), 3.6), layout="constrained")
    axes = fig.subplots(1, len(params), sharey=True, squeeze=False)[0]
    for ax, name in zip(axes, params, strict=True):
        t = table[table["parameter"] == name].sort_values("value")
        x, p = t["value"].to_numpy(), t["p_kl"].to_numpy()
        err = np.vstack([p - t["low"].to_numpy(), t["high"].to_numpy() - p])
        ax.errorbar(x, p, yerr=err, marker="o", capsize=3)
        ref = t[t["reference"]]
        ax.plot(ref["value"], ref["p_kl"], "r*", ms=12, label="run's setting")
        if name != "radius_rj":
            ax.set_xscale("log")
        ax.set_xlabel(_LABELS.get(name, name))
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("P(Kozai-Lidov origin)")
    axes[0].legend(loc="best", fontsize=8)
    fig.suptitle(f"{target}: sensitivity of P(KL origin) (same systems in every point)")
    return fig
