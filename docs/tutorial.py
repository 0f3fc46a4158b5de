# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # vlms-bayes tutorial: giant companions of very-low-mass stars
#
# This notebook walks through the package as an astronomer would use it, from Python
# instead of the `vlms-bayes` command line (every step below has a command; see the
# README). You will
#
# 1. load the catalogues (PSCompPars and the Brown Dwarf Companion Catalogue),
# 2. look at the sample of companions of 0.06–0.20 Msun hosts,
# 3. fit the Bayesian mixture of a *planet-like* and a *binary-like* population,
# 4. check the posterior with ArviZ (trace, rank, forest and pair plots; PSIS-LOO),
# 5. classify TOI-6894 b and a companion of your own,
# 6. compare with the frequentist baselines (Gaussian mixture, Beta fits, KS, logistic),
# 7. draw the Kozai–Lidov + tides feasibility map of TOI-6894 b.
#
# It needs no network and no data folder: without them the package falls back to the
# dated data snapshot shipped inside it. Everything it writes goes to `tutorial_output/`
# in the current folder.
#
# `docs/tutorial.py` (jupytext percent format) is the source of this notebook;
# `docs/tutorial.ipynb` is rendered from it with
# `jupytext --update --to ipynb docs/tutorial.py`. The test suite runs it in quick mode
# (`tests/test_tutorial.py`).

# %% [markdown]
# ## 0. Settings
#
# `QUICK` selects tiny settings (2 short chains, a 3 × 3 feasibility grid, no secular
# integrations) that run in about a minute; the test suite sets `VLMS_TUTORIAL_QUICK=1`.
# **Quick mode only shows that the code runs: its chains are far too short to converge,
# the diagnostics gate is switched off, and every number it prints is meaningless.**
# With `QUICK = False` (the default when you open the notebook) the fit uses the
# package's default sampler settings (4 chains × 1000 draws after 1000 warm-up steps)
# with the diagnostics gate on; the K = 2 and K = 1 fits then take a few minutes
# (docs/selection.md quotes 137 s for both on an otherwise idle 2-core machine).

# %%
# %matplotlib inline
import os
from pathlib import Path

QUICK = os.environ.get("VLMS_TUTORIAL_QUICK") == "1"
SEED = 42                    # every random step below takes this seed
OUT = Path("tutorial_output")

if QUICK:  # meaningless numbers, for the test suite
    FIT = dict(chains=2, draws=40, tune=40, allow_bad_diagnostics=True,
               target_accept=0.9, retry_target_accept=0.9)  # no automatic retry
    BASELINES = dict(n_boot=50, gmm_n_init=2)
    FEAS = dict(grid=3, draws=20, secular_triples=0, probability_systems=2000,
                integrate_candidates=(0, 0, 0))  # analytic verdicts only
    SCAN_POINTS = 4
else:      # the package's defaults
    FIT = dict(chains=4, draws=1000, tune=1000)
    BASELINES = dict(n_boot=500, gmm_n_init=10)
    FEAS = dict(grid=30, draws=200, secular_triples=200, probability_systems=200_000,
                integrate_candidates=(200, 400, 200))
    SCAN_POINTS = 25
print(f"quick mode: {QUICK}; outputs in {OUT.resolve()}")

# %% [markdown]
# ## 1. Load the catalogues
#
# `pipeline.DataConfig()` holds every data setting of the commands (`--ps`, `--bd`,
# `--data-dir`, `--refresh`, `--mstar-min/--mstar-max`, ...). Each catalogue is looked up
# in this order: an explicit file (`ps=`, `bd=`) → the data folder (`data_dir=` or
# `$VLMS_BAYES_DATA_DIR`) → the user cache → the archive (when online) → the embedded
# snapshot of 2025-08-07. A log line says which one was used.
#
# For newer data, query the NASA Exoplanet Archive once with
# `pipeline.DataConfig(refresh=True)` (`vlms-bayes data --refresh` on the command line)
# or point `data_dir=` / `ps=` at your own copies.
# `VLMS_BAYES_OFFLINE=1` (or `vlms-bayes --offline`) never touches the network.

# %%
from vlms_bayes import pipeline

data_config = pipeline.DataConfig()   # host-mass window 0.06–0.20 Msun, reference TOI-6894 b
data = pipeline.load_data(data_config)
frame = data.frame                    # pandas DataFrame, one row per companion

for name, info in data.inputs.items():
    print(f"{name}: {info.get('origin', 'file')}, dated {info.get('date')}, "
          f"sha256 {info.get('sha256', '?')[:12]}…")

# %% [markdown]
# `data.inputs` is the provenance that every command writes into its `run.json`
# (origin, date, sha256, citation), so that any figure can be traced to its input files.

# %% [markdown]
# ## 2. Look at the sample
#
# The stacked table carries the observed values, their uncertainties and flags:
# `mass_kind` is `true`, `msini` (a minimum mass, from radial velocities) or
# `mass_radius` (from a mass–radius relation); `ecc_status` says whether e was measured,
# is an upper limit, was fixed at 0 without an uncertainty, or is missing. `in_window`
# marks the hosts inside the mass window. The *complete case* (host mass, companion
# mass, a and a measured e) is what the frequentist baselines can use; the Bayesian
# mixture uses every object with a mass and a semi-major axis, and treats limits and
# missing eccentricities properly.

# %%
counts = pipeline.count_table(frame)
print(pipeline.format_counts(counts, window=data.stacked.window))

# %%
columns = ["name", "discoverymethod", "st_mass", "pl_bmassj", "mass_kind", "q",
           "pl_orbsmax", "pl_orbeccen", "ecc_status"]
frame.loc[frame["in_window"], columns].sort_values("q", ascending=False).head(8)

# %% [markdown]
# The reference object, TOI-6894 b (a Saturn-mass transiting planet of a 0.207 Msun
# star; Bryant et al. 2025), sits just above the window: it is kept in the table
# (`is_reference`) to be scored under the fit, but it is not fitted.

# %%
frame.loc[frame["is_reference"], columns + ["in_window"]]

# %% [markdown]
# Figure 1: host mass against companion mass (open markers: minimum masses; the dotted
# line is q = 0.01, the split of the eccentricity subsets of the baselines; the red star
# is TOI-6894 b).

# %%
from vlms_bayes.plots.catalogue import plot_e_vs_a, plot_mass_mass

plot_mass_mass(frame, mstar_window=data.stacked.window)

# %% [markdown]
# Figure 2: eccentricity against semi-major axis, coloured by log q and shaped by
# discovery method. Look at how the methods separate in a: transits and radial
# velocities at ≲ 0.1 AU, microlensing and imaging at AU scales. A two-population fit
# that ignored this could sort the objects by *how they were found* rather than by
# origin; the default fit divides each object's likelihood by its method's detected
# fraction (docs/selection.md). Whether a method split remains is one of the things to
# look at in the memberships by method below.

# %%
plot_e_vs_a(frame)

# %% [markdown]
# ## 3. Fit the Bayesian mixture
#
# `FitConfig()` is the model of `vlms-bayes fit`: K = 2 populations in (log q, log a, e),
# each a 2-D normal in (log q, log a) with a Beta distribution of e, minimum masses
# marginalised over an isotropic inclination, eccentricity limits as censored terms,
# and each object's likelihood divided by its discovery method's detected fraction.
# The populations are ordered by mean log q, so the last one is the *binary-like*
# (high mass-ratio) population. `fit_command` is the Python side of `vlms-bayes fit`:
# it samples with NumPyro's NUTS, applies the diagnostics gate (R-hat ≤ 1.01, bulk and
# tail ESS ≥ 400, no divergences, BFMI ≥ 0.3) and writes `posterior.nc`,
# `fit_summary.json`, `memberships.csv` and a `run.json` into its folder. With the full
# settings, a fit that fails the gate stops here with an error that says which
# diagnostic failed and what to change; its draws are not lost: they wait, with every
# parameter's R-hat and ESS and a plain-words verdict, in `tutorial_output/fit/rejected/`
# (open `rejected/posterior.nc` with `xarray.open_datatree` to see what went wrong).

# %%
from vlms_bayes.inference.fit import FitConfig
from vlms_bayes.pipeline.bayes import fit_command

fit_config = FitConfig(**FIT)
fit = fit_command(data_config, fit_config, outdir=OUT / "fit", seed=SEED)
res = fit.result
print(fit.report)

# %% [markdown]
# How to read the report:
#
# * the **diagnostics** line comes first: with `PASSED` the chains agree and are long
#   enough; read nothing else of a `FAILED` fit (in quick mode it fails by design);
# * `w` are the *intrinsic* population fractions (corrected for selection), `f_det` the
#   fractions of the *detected* sample; `mu_logq`, `mu_loga` are the population centres
#   (log10 of the mass ratio and of a in AU) and `e_mean` the mean eccentricity; each is
#   the posterior median with its 90% interval;
# * P(binary-like) is, for each object, the probability that it belongs to the high-q
#   population, averaged over the posterior draws; its 90% interval over the draws
#   (`P_binary_like_lo90`, `_hi90`) shows how much the population uncertainty matters.

# %%
members = res.memberships
print(f"{len(members)} objects fitted; P(binary-like) > 0.5 for "
      f"{(members['P_binary_like'] > 0.5).sum()}")
members.groupby("discoverymethod")["P_binary_like"].describe()[["count", "mean", "min", "max"]]

# %% [markdown]
# ## 4. Inspect the posterior with ArviZ
#
# `res.posterior` is an ArviZ 1.x `DataTree` (the same as `posterior.nc`, which
# `xarray.open_datatree` reads back): groups `posterior`, `sample_stats`,
# `log_likelihood` (each object's marginal likelihood, for LOO) and `constant_data`.
# Every population parameter has a `population` dimension
# (`planet_like`, `binary_like`).

# %%
import arviz as az

dt = res.posterior
POP = ["mu_logq", "mu_loga", "e_mean", "w"]
az.summary(dt, var_names=POP)

# %% [markdown]
# `r_hat` should be ≤ 1.01 and `ess_bulk`, `ess_tail` in the hundreds at least. The
# trace plot shows each chain's draws against iteration (right; colour: population,
# line style: chain): they should overlap and look like stationary noise; on the left,
# each chain's distribution of the same draws, which should agree.

# %%
_ = az.plot_trace_dist(dt, var_names=POP)

# %% [markdown]
# Rank plots are the sharper check: if all chains sample the same distribution, each
# chain's ranks are uniform and its fractional-rank ECDF stays inside the envelope.

# %%
_ = az.plot_rank_dist(dt, var_names=["mu_logq", "mu_loga"])

# %% [markdown]
# The forest plot compares the two populations at a glance (point: median; thick and
# thin bars: credible intervals). Well separated `mu_logq` and `e_mean` intervals are
# what "two populations" means here.

# %%
_ = az.plot_forest(dt, var_names=POP, combined=True)

# %% [markdown]
# A pair plot of the binary-like population: correlations between its centre in log q,
# log a and its mean eccentricity (a banana or a funnel here would be worth a look at
# the divergences in `dt["sample_stats"]`).

# %%
_ = az.plot_pair(dt, var_names=["mu_logq", "mu_loga", "e_mean"],
                 coords={"population": "binary_like"})

# %% [markdown]
# The package's own figure of the eccentricity populations: the posterior predictive
# Beta density of each population against the measured eccentricities, weighted by
# membership.

# %%
from vlms_bayes.plots.bayes import plot_ecc_predictive

_ = plot_ecc_predictive(dt, members)

# %% [markdown]
# ### How many populations? PSIS-LOO
#
# PSIS-LOO estimates how well each model predicts an object it was not fitted to
# (ELPD, higher is better). Here we fit K = 1 with the same settings and compare;
# `FitConfig(loo_components=(1, 2))` (the command's `--loo-components 1 2`, its default)
# does the same inside the fit. A large Pareto k flags an object whose leave-one-out
# estimate is unreliable, usually an influential object far from the others (ArviZ's
# threshold is 0.7 for long chains and lower for short ones; the table counts them).

# %%
from vlms_bayes.inference.fit import fit_posterior

dt_k1, diag_k1, _ = fit_posterior(res.data, fit_config, n_components=1, seed=SEED + 1)
print("K = 1 gate:", "passed" if diag_k1.passed else "FAILED: " + "; ".join(diag_k1.failures))
loo_k2 = az.loo(dt, var_name="obs", pointwise=True)
loo_k2

# %%
_ = az.plot_khat(loo_k2)

# %% [markdown]
# `az.compare` ranks the models: `elpd_diff` is each model's ELPD below the best one and
# `dse` its standard error (from the paired per-object differences). A difference of
# several `dse` is a clear preference.

# %%
comparison = az.compare({"K=1": dt_k1, "K=2": dt}, var_name="obs")
_ = az.plot_compare(comparison)
comparison

# %% [markdown]
# ## 5. Classify TOI-6894 b and a companion of your own
#
# `classify_command` is `vlms-bayes classify`: it reads a fit's folder and scores one
# object under every posterior draw, with its measurement errors propagated (same error
# floors as the fit). TOI-6894 b's published values ship with the package.

# %%
from vlms_bayes.pipeline.bayes import TOI_6894B, classify_command

print(TOI_6894B)
print(classify_command(OUT / "fit", name="TOI-6894 b", **TOI_6894B).report)

# %% [markdown]
# ✏️ **Edit this cell** with your companion: host mass (Msun), companion mass (Jupiter
# masses), semi-major axis (AU), eccentricity, each with its 1-sigma error (`None` if
# unknown). Set `msini=True` for a minimum mass from radial velocities (the fit then
# integrates over the unknown inclination, which moves the object up in q), or give
# `e_upper_limit=` instead of `e`.

# %%
MY_COMPANION = dict(
    name="my companion",
    m_star_msun=0.15, m_star_err=0.01,    # host mass [Msun]
    mass_mj=0.3, mass_err=0.05,            # companion mass [MJup]
    msini=False,                           # True: a minimum mass (m sin i)
    a_au=0.03, a_err=0.001,                # semi-major axis [AU]
    e=0.05, e_err=0.05,                    # eccentricity (e=None if unknown)
)
print(classify_command(OUT / "fit", **MY_COMPANION).report)

# %% [markdown]
# Where does the answer change? The same companion scored for masses from one Earth mass
# to the hydrogen-burning limit (10% mass errors), with the 90% interval of
# P(binary-like). Remember that the populations are defined by the fit, not by a mass
# limit: look at `mu_logq` above to see where the planet-like population sits.

# %%
import matplotlib.pyplot as plt
import numpy as np

from vlms_bayes.inference.classify import classify_data, observation_from_values

masses_mj = np.geomspace(0.00315, 80.0, SCAN_POINTS)   # 1 Earth mass to 80 MJup
scan = [classify_data(dt["posterior"], observation_from_values(
            **{**MY_COMPANION, "mass_mj": m, "mass_err": 0.1 * m},
            measurement=fit_config.measurement)) for m in masses_mj]
fig, ax = plt.subplots(figsize=(6, 3.5), layout="constrained")
ax.fill_between(masses_mj, [s.p_lo[0] for s in scan], [s.p_hi[0] for s in scan], alpha=0.3)
ax.plot(masses_mj, [s.p_mean[0] for s in scan], "o-")
ax.axvline(MY_COMPANION["mass_mj"], color="k", ls=":", label=MY_COMPANION["name"])
ax.set(xscale="log", xlabel="companion mass [MJup]", ylabel="P(binary-like)", ylim=(0, 1),
       title=f"host {MY_COMPANION['m_star_msun']} Msun, a = {MY_COMPANION['a_au']} AU")
_ = ax.legend()

# %% [markdown]
# ## 6. Compare with the frequentist baselines
#
# `compute_baselines` runs the original analysis on the complete-case objects: Gaussian
# mixtures with K = 1, 2 in (log q, log a) chosen by BIC, Beta fits of e below and above
# q = 0.01 with bootstrap intervals, a KS test between those two e samples, and a
# logistic classifier trained on heuristic labels (`vlms-bayes baseline` writes the same
# numbers to files; `vlms-bayes compare` puts them beside a fit).

# %%
from vlms_bayes.report.summary import baseline_report

baselines = pipeline.compute_baselines(frame, pipeline.BaselineConfig(**BASELINES), seed=SEED)
print(baseline_report(baselines))

# %% [markdown]
# The Gaussian mixture has no selection model. Which discovery methods does each of its
# two components hold (rows: method; columns: the component each complete-case object is
# assigned to)? Microlensing planets have no measured eccentricity, so the complete case
# leaves them out altogether.

# %%
baselines["gmm_methods"]

# %% [markdown]
# Object by object: the Bayesian P(binary-like) (left) against the logistic baseline's
# (right) in the (log q, log a) plane, and the objects on which the two disagree.

# %%
from vlms_bayes.plots.bayes import plot_memberships

merged = baselines["objects"].merge(
    members[["name", "P_binary_like", "P_binary_like_lo90", "P_binary_like_hi90"]],
    on="name", how="inner")
_ = plot_memberships(merged)
disagree = merged[(merged["P_binary_like"] > 0.5) != (merged["P_binary_like_logistic"] > 0.5)]
print(f"{len(disagree)} of {len(merged)} objects are classified differently")
disagree[["name", "discoverymethod", "q", "pl_orbsmax", "P_binary_like",
          "P_binary_like_logistic"]].head(10)

# %% [markdown]
# ## 7. Could TOI-6894 b have migrated? The feasibility map
#
# For each perturber (mass `m_out`, separation `a_out`) on a grid, Monte Carlo draws of
# the perturber's eccentricity, mutual inclination and the planet's initial orbit are
# pushed through a cascade of criteria: the triple is stable, Kozai–Lidov cycles are
# fast enough, e_max brings the periastron close enough for tides to circularise the
# orbit at the observed a (without tidal disruption), within the horizon (1 Gyr). The
# map shows the fraction of draws that pass everything, and which criterion limits
# each cell. `run_feasibility` is the Python side of `vlms-bayes feasibility`; it writes
# into a staged folder that is published only when everything succeeded. (Every cell
# shares the same draws, so neighbouring cells are correlated: diagonal stripes in a
# coarse map come from that, not from physics.) Beside the map it computes P(Kozai–Lidov
# origin) and P(disk migration) from `probability_systems` systems drawn over published
# priors (the first lines of the summary), with the octupole candidates integrated with
# the secular equations (`IntegrationOptions`, the command's `--integrate-candidates`;
# quick mode keeps the analytic verdicts).

# %%
from IPython.display import Image

from vlms_bayes.data_io.outputs import StagedOutputDir
from vlms_bayes.feasibility.integrated import IntegrationOptions
from vlms_bayes.feasibility.montecarlo import FeasibilityConfig
from vlms_bayes.pipeline.feasibility import run_feasibility

target = pipeline.reference_target(frame)   # TOI-6894 b from the catalogue row
feas_config = FeasibilityConfig(target=target, n_m_out=FEAS["grid"], n_a_out=FEAS["grid"],
                                n_draws=FEAS["draws"])
n_feasible, n_boundary, n_map = FEAS["integrate_candidates"]
integration = IntegrationOptions(max_feasible=n_feasible, max_boundary=n_boundary,
                                 max_map=n_map)
with StagedOutputDir(OUT / "feasibility") as stage:
    feas, feas_map = run_feasibility(feas_config, outdir_path=stage, seed=SEED,
                                     secular_triples=FEAS["secular_triples"],
                                     probability_systems=FEAS["probability_systems"],
                                     integration=integration)
print("\n".join(feas.summary_lines()))
Image(filename=str(OUT / "feasibility" / "fig3_feasibility.png"))

# %% [markdown]
# `feas_map.fractions()` holds the arrays behind the figure (`feasible`, the marginal and
# cumulative pass fractions of each criterion, the sensitivity to the horizon and the
# disruption rule), on the grid `feas_config.m_out_grid` × `feas_config.a_out_grid`.
#
# ## Where next
#
# * `vlms-bayes run --outdir results` does all of this (with the naive fit beside the
#   selection-aware one, and `report.html`) in one folder, skipping steps whose inputs
#   have not changed;
# * docs/bayes.md, docs/selection.md, docs/baselines.md and docs/feasibility.md describe
#   each model, its options and its validation.
