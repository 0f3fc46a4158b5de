"""Local maxima of one SBC replica's log posterior: is a flagged replica's fit in a lower
mode (the start's fault) or in one half of a posterior the ordering cuts in two?

Run::

    PYTHONPATH=src python benchmarks/sbc_modes.py RESULTS_DIR 3 11 21

``RESULTS_DIR``: a finished ``vlms-bayes calibrate`` folder of the default design (its
``sbc.json`` gives the master seed, the design size and the fit settings; a ``--design``
or ``--truth`` run is not supported). Each replica is regenerated from its seed exactly as
:func:`vlms_bayes.pipeline.calibrate.run_replica` does (checked against the recorded
truths), and the JAX log posterior (unconstrained space, as the sampler sees it) is
maximised by L-BFGS from the fit's start, from that start with the components' assignment
exchanged, and from the truth; each maximum is printed with its Laplace log mass and its
parameters, and — for the first two — the best constrained log density with the log q
means 0.01 dex apart (the ridge between the halves; docs/bayes.md, "Simulation-based
calibration"). Two populations (K = 2, P = 1) only.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import jax
import numpy as np
from scipy import optimize

from vlms_bayes.inference import sbc
from vlms_bayes.inference.fit import FitConfig
from vlms_bayes.inference.initvals import start_candidates
from vlms_bayes.models.logdensity import mixture_density
from vlms_bayes.models.simulate_prior import (
    design_from_scenario,
    draw_prior,
    model_terms,
    simulate_replica,
)


def regenerate(folder: Path, index: int, cfg: FitConfig, design, seed: int):
    rec = json.loads((folder / "replicas" / f"replica_{index:05d}.json").read_text())
    ss = np.random.SeedSequence(sbc.replica_seed(seed, index))
    r_prior, r_data, _, r_fit = (np.random.default_rng(s) for s in ss.spawn(4))
    fit_seed = int(r_fit.integers(0, 2**31 - 1))
    terms = model_terms(design, cfg.selection)
    params, _ = draw_prior(design, priors=cfg.priors, selection=cfg.selection, n_components=2,
                           rng=r_prior, terms=terms)
    for p in rec["parameters"]:  # the regenerated truth is the recorded one
        if "[" in p["parameter"]:
            var, coord = p["parameter"][:-1].split("[")
            j = ["planet_like", "binary_like"].index(coord)
            assert abs(params[var][j] - p["truth"]) < 1e-9, p["parameter"]
    data, _ = simulate_replica(design, params, selection=cfg.selection, rng=r_data, terms=terms)
    return data, params, fit_seed


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("folder", type=Path)
    ap.add_argument("replicas", type=int, nargs="+")
    args = ap.parse_args()
    settings = json.loads((args.folder / "sbc.json").read_text())["settings"]
    cfg = FitConfig()  # the default model (the run's priors and selection are the defaults)
    design = design_from_scenario(settings["n_objects"], seed=settings["seed"],
                                  measurement=cfg.measurement, selection=cfg.selection)
    jax.config.update("jax_enable_x64", True)
    for i in args.replicas:
        data, params, fit_seed = regenerate(args.folder, i, cfg, design, settings["seed"])
        dens = mixture_density(data, n_components=2, priors=cfg.priors,
                               selection=cfg.selection)
        names = [v.name for v in dens.free]
        cuts = np.cumsum([v.n_free for v in dens.free])[:-1]

        def unflat(x, names=names, cuts=cuts):
            return dict(zip(names, jax.numpy.split(x, cuts), strict=True))

        neg = jax.jit(jax.value_and_grad(lambda x, d=dens, u=unflat: -d.logp(u(x))))
        # reverse over reverse: the density's hand-written gradients (models/grid_sums.py)
        # have no forward mode, so jax.hessian (forward over reverse) does not apply
        hess = jax.jit(jax.jacrev(jax.grad(lambda x, d=dens, u=unflat: -d.logp(u(x)))))
        con = jax.jit(lambda x, d=dens, u=unflat: d.constrained(u(x)))

        def fun(x, neg=neg):
            v, g = neg(x)
            return float(v), np.asarray(g)

        def flat(vals, dens=dens, names=names):
            u = dens.unconstrain(vals)
            return np.concatenate([u[n] for n in names])

        cands = start_candidates(data, 2, random_seed=fit_seed, weight_name="f_det")
        truth = {k: np.asarray(params[k], float) for k in names if k in params}
        truth["rho_beta"] = (np.asarray(params["rho"]) + 1.0) / 2.0
        print(f"replica {i}")
        ends = []
        for label, start in (("start", cands[0]), ("exchanged", cands[1]), ("truth", truth)):
            r = optimize.minimize(fun, flat(start), jac=True, method="L-BFGS-B",
                                  options={"maxiter": 5000})
            ev = np.linalg.eigvalsh(np.asarray(hess(r.x)))
            mass = -r.fun + 0.5 * r.x.size * np.log(2 * np.pi) - 0.5 * np.log(np.abs(ev)).sum()
            c = con(r.x)
            print(f"  from {label:9s}: max log density {-r.fun:9.2f}, Laplace log mass "
                  f"{mass:9.2f}{'' if ev.min() > 0 else ' (a saddle)'}; " + ", ".join(
                      f"{k} {np.round(np.asarray(c[k]), 2).tolist()}"
                      for k in ("mu_logq", "mu_loga", "sigma_logq", "f_det")))
            ends.append(r.x)
        # the constrained density: subtract the ordered transform's log increment (index 1)
        for label, x in zip(("start", "exchanged"), ends[:2], strict=True):
            fixed = np.log(0.01)

            def fun_gap(z, fixed=fixed):
                v, g = fun(np.insert(z, 1, fixed))
                return v, np.delete(g, 1)

            r = optimize.minimize(fun_gap, np.delete(x, 1), jac=True, method="L-BFGS-B",
                                  options={"maxiter": 5000})
            print(f"  constrained log density: at the {label}'s maximum {-fun(x)[0] - x[1]:.2f}, "
                  f"best with the log q means 0.01 dex apart (from there) {-r.fun - fixed:.2f}")


if __name__ == "__main__":
    main()
