"""Benchmark: noise-model fit (default 45 × 30 grid, 50 subsets of 1000) on a simulated catalogue.

Run: PYTHONPATH=src python benchmarks/bench_gaia_rv_noise.py [--n 3000000]
Prints the time of the per-bin subsets, of the GP fit and of the GP prediction, peak memory,
and an extrapolation to the 30.5 M-source DR3 catalogue (the per-bin work is bounded by the
subset sizes; only the binning and the prediction grow with the catalogue).
"""

from __future__ import annotations

import argparse
import resource
import time

import numpy as np

from vlms_bayes.models.rv_noise import model as rn

FULL_CATALOGUE = 30_545_303


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=3_000_000)
    ap.add_argument("--num-iter", type=int, default=50)
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    n = args.n
    g = rng.uniform(4.5, 16.0, n).astype(np.float32)
    c = np.clip(rng.gamma(4.0, 0.3, n), 0, 5.5).astype(np.float32)
    ntr = rng.integers(3, 60, n).astype(np.int16)
    sigma = 0.15 * np.exp(0.25 * (g - 5.0)) * (1 + 0.1 * c)
    s2 = sigma**2 * rng.chisquare(ntr - 1.0) / (ntr - 1.0)
    eps = rn.s2_to_eps(s2, ntr).astype(np.float32)
    cfg = rn.NoiseGridConfig(num_iter=args.num_iter)
    t0 = time.perf_counter()
    sig, counts = rn.fit_bins(g, c, eps, ntr, config=cfg)
    t_bins = time.perf_counter() - t0
    model = rn.NoiseModel(cfg, sig, counts, rn.GP_INIT.copy())
    x, y, e, valid = model.training_data()
    t0 = time.perf_counter()
    theta, nll = rn.fit_gp(x, y, e)
    t_gp = time.perf_counter() - t0
    model = rn.NoiseModel(cfg, sig, counts, theta)
    m = min(n, 1_000_000)
    t0 = time.perf_counter()
    mu, _, oog = model.predict(c[:m], g[:m])
    t_pred = time.perf_counter() - t0
    truth = np.log(sigma[:m])
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"catalogue {n:,} sources; grid {cfg.num_color}x{cfg.num_mag}, "
          f"{int(valid.sum())} valid bins, {cfg.num_iter} subsets of {cfg.targets_per_fit}")
    print(f"  per-bin subsets: {t_bins:.1f} s; GP fit on {x.shape[0]} bins: {t_gp:.1f} s "
          f"(nll {nll:.1f})")
    print(f"  GP prediction: {m / t_pred:,.0f} sources/s; median |ln sigma error| "
          f"{np.median(np.abs(mu - truth)[~oog]):.3f}")
    print(f"  max RSS {rss:.0f} MiB")
    print(f"extrapolated to {FULL_CATALOGUE:,}: subsets ~{t_bins * 1.2:.0f} s (bounded by bin "
          f"count), prediction ~{FULL_CATALOGUE / (m / t_pred):.0f} s on this machine")


if __name__ == "__main__":
    main()
