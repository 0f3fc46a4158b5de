"""A fit that failed the diagnostics gate: keep its draws, say why and what to change.

A posterior that fails the gate (:func:`vlms_bayes.inference.diagnostics.diagnose`) is not
published as the fit's result: ``posterior.nc``, ``memberships.csv`` and the rest are
written only when the gate passes (or with ``--allow-bad-diagnostics``). The sampling
is not thrown away either: :func:`write_rejected` puts it into a folder of its own
(``OUTDIR/rejected/`` for ``vlms-bayes fit`` and ``run``), replaced as a whole so that it
never mixes two fits.

Files of a rejected folder
--------------------------
``posterior.nc``
    The last attempt's draws (ArviZ DataTree, attribute ``gate = "failed"``; ``classify``
    and ``compare`` refuse it).
``posterior_attempt1.nc``
    The first attempt's draws, when the gate retried with a higher target acceptance.
``diagnostics.csv``
    R-hat and bulk/tail ESS of every parameter of every attempt, failing ones first.
``fit_summary.json``
    ``"gate": "failed"``, ``"rejected": true``, the failed checks, the verdict, the advice,
    every attempt, the configuration, the objects left out and the population parameters
    of the last attempt.
``VERDICT.txt``
    The same verdict in plain words.
``stacked_used.csv``
    The rows the model was fitted to.
``run.json``
    Provenance, when the command gives one.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from vlms_bayes.data_io.outputs import StagedOutputDir, write_csv, write_json, write_text
from vlms_bayes.inference.diagnostics import (
    Diagnostics,
    GateConfig,
    ess_needed,
    parameter_diagnostics,
)

#: Name of the folder beside a command's outputs that holds its rejected fit.
REJECTED_DIR = "rejected"


def gate_advice(diag: Diagnostics, *, gate: GateConfig, draws: int, tune: int, chains: int,
                n_components: int, tried_target_accept: Sequence[float]) -> list[str]:
    """What to change so that the next fit passes, from which checks failed.

    Parameters
    ----------
    diag : Diagnostics
        The gate's outcome of the last attempt.
    gate : GateConfig
        Its thresholds.
    draws, tune, chains : int
        Sampler settings of the rejected fit.
    n_components : int
        Number of populations fitted.
    tried_target_accept : sequence of float
        Target acceptances of the attempts.

    Returns
    -------
    list of str
        One sentence per remedy, most specific first; the last names
        ``--allow-bad-diagnostics``.
    """
    out = []
    need_b, need_t = ess_needed(gate, diag.n_draws_total)
    if diag.empty_populations:
        fewer = f"--components {n_components - 1}, " if n_components > 1 else ""
        out.append(f"fit fewer populations ({fewer}and compare K with --loo-components): "
                   "a population holds almost none of the sample, which longer chains or a "
                   "higher target acceptance do not change")
    mixing = (not diag.max_rhat <= gate.max_rhat or not diag.min_ess_bulk >= need_b
              or not diag.min_ess_tail >= need_t
              or any("stuck" in f for f in diag.failures))
    if mixing:
        more_chains = ("; --chains 4 gives R-hat more chains to compare" if chains < 4
                       else "")
        out.append(f"run longer: --draws {2 * draws} --tune {2 * tune} (this fit: {draws} "
                   f"draws after {tune} warm-up steps, {chains} chains{more_chains})")
    if diag.divergences > gate.max_divergences:
        top = max(tried_target_accept) if tried_target_accept else 0.9
        out.append(f"raise the target acceptance to reduce the {diag.divergences} divergent "
                   f"transitions: --target-accept {1 - (1 - top) / 2:.3g} (tried "
                   f"{', '.join(f'{t:g}' for t in tried_target_accept)})")
    if not diag.min_bfmi >= gate.min_bfmi:
        out.append(f"the energy diagnostic (BFMI {diag.min_bfmi:.2f}) says the chains explore "
                   f"the tails poorly: a longer warm-up (--tune {2 * tune}) may help")
    out.append("or pass --allow-bad-diagnostics to publish this posterior anyway, marked as "
               "failed (its numbers are then not to be trusted)")
    return out


def verdict_text(diag: Diagnostics, attempts: Sequence[Mapping[str, Any]],
                 table: pd.DataFrame, advice: Sequence[str], *,
                 rejected_dir: str | os.PathLike[str], n_worst: int = 8) -> str:
    """The plain-words verdict of a rejected fit (``VERDICT.txt``)."""
    lines = ["REJECTED: this fit failed the sampler-diagnostics gate, so its posterior is not "
             "trustworthy and was not published as the fit's result.",
             "", "Failed checks (last attempt):"]
    lines += [f"  - {f}" for f in diag.failures]
    lines += ["", "Attempts:"]
    for i, a in enumerate(attempts, 1):
        state = "passed" if a.get("passed") else "failed: " + "; ".join(a.get("failures", []))
        lines.append(f"  {i}. target_accept {a.get('target_accept')}: {state}")
    bad = table.loc[table["fails"].ne("")]
    if "attempt" in bad.columns:
        bad = bad.loc[bad["attempt"] == bad["attempt"].max()]
    if len(bad):
        lines += ["", f"Parameters that fail (last attempt; {len(bad)} in all, "
                  f"every parameter in diagnostics.csv):"]
        for _, r in bad.head(n_worst).iterrows():
            lines.append(f"  {r['parameter']}: R-hat {r['r_hat']:.3f}, bulk ESS "
                         f"{r['ess_bulk']:.0f}, tail ESS {r['ess_tail']:.0f} ({r['fails']})")
    lines += ["", "What to change:"] + [f"  - {a}" for a in advice]
    lines += ["", f"The draws are in {Path(rejected_dir)}/posterior.nc (ArviZ: "
              "xarray.open_datatree(path, engine='h5netcdf')); look at them, do not use them "
              "for conclusions."]
    return "\n".join(lines) + "\n"


def write_rejected(rejected_dir: str | os.PathLike[str], *, posteriors: Sequence[Any],
                   diag: Diagnostics, attempts: Sequence[Mapping[str, Any]],
                   summary: Mapping[str, Any], advice: Sequence[str], gate: GateConfig,
                   rows: pd.DataFrame | None = None,
                   run_info: Mapping[str, Any] | None = None) -> Path:
    """Write a rejected fit into ``rejected_dir``, replacing whatever was there.

    Parameters
    ----------
    rejected_dir : path-like
        The folder (published as a whole: a failure while writing leaves the earlier one).
    posteriors : sequence of xarray.DataTree
        Every attempt's posterior, in order (the last one is ``posterior.nc``).
    diag : Diagnostics
        The last attempt's gate outcome.
    attempts : sequence of mapping
        Target acceptance and gate outcome of every attempt.
    summary : mapping
        Fields of ``fit_summary.json`` (configuration, seed, objects left out, ...);
        ``gate``, ``rejected``, ``verdict`` and ``advice`` are added.
    advice : sequence of str
        :func:`gate_advice`.
    gate : GateConfig
        The thresholds (for the per-parameter table).
    rows : pandas.DataFrame, optional
        The stacked rows used (``stacked_used.csv``).
    run_info : mapping, optional
        ``run.json`` of the command, when it has one.

    Returns
    -------
    pathlib.Path
        The published folder.
    """
    tables = []
    for i, dt in enumerate(posteriors, 1):
        t = parameter_diagnostics(dt, gate=gate)
        t.insert(0, "target_accept", attempts[i - 1].get("target_accept")
                 if i - 1 < len(attempts) else float("nan"))
        t.insert(0, "attempt", i)
        tables.append(t)
    table = pd.concat(tables[::-1], ignore_index=True)  # last attempt first
    verdict = verdict_text(diag, attempts, table, advice, rejected_dir=rejected_dir)
    record = {"gate": "failed", "rejected": True,
              "verdict": verdict.splitlines()[0], "failures": list(diag.failures),
              "advice": list(advice), **dict(summary)}
    with StagedOutputDir(rejected_dir, replace=True) as staging:
        n = len(posteriors)
        for i, dt in enumerate(posteriors, 1):
            dt.attrs["gate"] = "failed"
            dt.attrs["attempt"] = i
            dt.to_netcdf(staging / ("posterior.nc" if i == n else f"posterior_attempt{i}.nc"),
                         engine="h5netcdf")
        write_csv(staging / "diagnostics.csv", table, float_format="%.6g")
        write_json(staging / "fit_summary.json", record)
        write_text(staging / "VERDICT.txt", verdict)
        if rows is not None:
            write_csv(staging / "stacked_used.csv", rows)
        if run_info is not None:
            write_json(staging / "run.json", dict(run_info))
    return Path(rejected_dir)
