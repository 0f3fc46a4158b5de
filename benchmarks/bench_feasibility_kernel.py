"""Where the analytic cascade's time goes: its parts timed alone, JAX on one CPU device.

Usage::

    PYTHONPATH=src python benchmarks/bench_feasibility_kernel.py [--draws 1048576]
        [--repeat 3]

The draws are those of the map (:func:`vlms_bayes.feasibility.draws.cell_draws`, the
default configuration), one perturber per draw from the map's grid. Each part is the
kernel's own code (:func:`vlms_bayes.feasibility.montecarlo._draw_outcome` and the
functions it calls), vmapped and jitted alone, its outputs summed so that XLA cannot drop
them; inputs it would take from an earlier part are computed outside the timing. As in
the map, the draws go through ``lax.map`` in chunks of ``chunk_cells × n_draws`` (6400),
which stay in the CPU caches (one vmap over 10⁶ draws is several times slower: every
bisection step then streams whole arrays through memory). Best
warm call of ``--repeat``, in ns per draw of process CPU time (the wall time on a shared
machine depends on the load). The parts overlap a little (each recomputes what it needs,
e.g. the KL timescale), so their sum exceeds the whole.
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable
from typing import Any

import numpy as np


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--draws", type=int, default=2**20)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()

    import jax
    import jax.numpy as jnp

    from vlms_bayes.data_io.quarles import load_stability_table
    from vlms_bayes.feasibility import kozai, migration, radii, triple_stability
    from vlms_bayes.feasibility import montecarlo as mc
    from vlms_bayes.feasibility.draws import (
        DRAW_FIELDS,
        PARAM_FIELDS,
        R0_TRACK,
        R1_INFL,
        S0_TRACK,
    )
    from vlms_bayes.feasibility.stability import ac_ratio_jax

    cfg = mc.FeasibilityConfig()
    table = load_stability_table(0)
    n_cells = -(-args.draws // cfg.n_draws)
    d = mc.cell_draws(cfg, 1, np.arange(n_cells))
    draws = {k: np.asarray(v, float).reshape(-1)[:args.draws] for k, v in d.items()
             if k in DRAW_FIELDS}
    mg, ag = np.meshgrid(cfg.m_out_grid, cfg.a_out_grid, indexing="ij")
    m_out = np.repeat(mg.ravel()[:n_cells], cfg.n_draws)[:args.draws]
    a_out = np.repeat(ag.ravel()[:n_cells], cfg.n_draws)[:args.draws]
    settings = mc.sensitivity_settings(cfg)
    n = len(m_out)

    with jax.enable_x64(True):
        p = jnp.asarray(mc.kernel_params(cfg))
        P = {k: p[PARAM_FIELDS.index(k)] for k in PARAM_FIELDS[:R0_TRACK]}
        m0, m1 = P["m0"], P["m1"]
        jd = {k: jnp.asarray(v) for k, v in draws.items()}
        jm, ja = jnp.asarray(m_out), jnp.asarray(a_out)
        outcome = jax.jit(jax.vmap(lambda m, a, dd: mc._draw_outcome(p, table, m, a, dd)))
        o = {k: jnp.asarray(v) for k, v in outcome(jm, ja, jd).items()}
        t1 = jd["t_start_yr"] + o["t_kl_yr"]

        def total(x: Any) -> Any:
            leaves = jax.tree_util.tree_leaves(x)
            return sum(jnp.sum(jnp.asarray(v, jnp.float64)) for v in leaves)

        def part_full(m, a, dd):
            return mc._draw_counts(p, tuple(jnp.asarray(s) for s in settings), table, m, a,
                                   dd)

        def part_outcome(m, a, dd):
            return mc._draw_outcome(p, table, m, a, dd)

        def part_timescales(m, a, dd):
            a0, e_out = dd["a0_au"], dd["e_out"]
            return (kozai.kl_timescale_yr(m0, m1, m, a0, a, e_out),
                    kozai.epsilon_oct(m0, m1, a0, a, e_out),
                    kozai.epsilon_gr(m0, m1, m, a0, a, e_out))

        def part_radii(tt1, dd):
            r0 = radii.track_at(tt1, p, R0_TRACK, jnp.log, mc._jax_index)
            r1 = radii.track_at(tt1, p, R1_INFL, jnp.log, mc._jax_index)
            return r0 + dd["rp_scale"] * r1

        def part_emax(eg, et, dd):
            return kozai.kl_emax(dd["e0"], dd["cos_i"], dd["sin2_omega"], eg, et, 0.0 * eg,
                                 xp=jnp, fori_loop=jax.lax.fori_loop)

        def part_migration(a_f, eg, tt1, dd):
            return migration.migration_time_evolving_yr(
                dd["a0_au"], a_f, P["a_hi_au"], eg, m1, m0, dd["lag1_yr"], dd["lag0_yr"],
                tt1, P["r1_au"], dd["rp_scale"], p, R0_TRACK, R1_INFL, S0_TRACK,
                dd["spin0_z"], P["spin0_on"], ln=jnp.log, idx=mc._jax_index, ex=jnp.exp,
                march_fn=mc._march_jax)

        def part_stability(m, a, dd):
            e_out = dd["e_out"]
            st = triple_stability.ma01_stable(dd["a0_au"], a, m / (m0 + m1), e_out,
                                              dd["incl_rad"])
            mu = m / (m0 + m)
            return st, ac_ratio_jax(table, mu, jnp.minimum(e_out, 0.8))

        parts: list[tuple[str, Callable[..., Any], tuple[Any, ...]]] = [
            ("whole kernel (_draw_counts)", part_full, (jm, ja, jd)),
            ("physics only (_draw_outcome)", part_outcome, (jm, ja, jd)),
            ("t_KL, eps_oct, eps_GR", part_timescales, (jm, ja, jd)),
            ("radius tracks (2 look-ups)", part_radii, (t1, jd)),
            ("e_max search (grid + 50 bisections)", part_emax,
             (o["eps_gr"], o["eps_tide"], jd)),
            ("migration time (marched integral)", part_migration,
             (o["a_f_au"], o["eps_gr"], t1, jd)),
            ("stability (MA01 + Quarles look-up)", part_stability, (jm, ja, jd)),
        ]
        n = (n // (cfg.chunk_cells * cfg.n_draws)) * cfg.chunk_cells * cfg.n_draws
        print(f"{n} draws in chunks of {cfg.chunk_cells * cfg.n_draws} (lax.map, as the "
              f"map), one CPU device, load {os.getloadavg()[0]:.1f}; best of {args.repeat} "
              "warm calls (CPU ns per draw)")
        chunk = cfg.chunk_cells * cfg.n_draws  # the map's lax.map chunk (in the caches)
        n_ch = n // chunk

        def chunked(x: Any) -> Any:
            return jax.tree_util.tree_map(
                lambda v: v[:n_ch * chunk].reshape(n_ch, chunk, *v.shape[1:]), x)

        for label, fn, fargs in parts:
            f = jax.jit(lambda *x, fn=fn: total(jax.lax.map(
                lambda c, fn=fn: total(jax.vmap(fn)(*c)), chunked(x))))
            f(*fargs).block_until_ready()
            best = np.inf
            for _ in range(args.repeat):
                c0 = time.process_time()
                f(*fargs).block_until_ready()
                best = min(best, time.process_time() - c0)
            print(f"  {label:40s} {1e9 * best / n:8.1f} ns/draw")
        c0 = time.process_time()
        mc.cell_draws(cfg, 2, np.arange(n_cells))
        print(f"  {'draw generation (cell_draws, NumPy)':40s} "
              f"{1e9 * (time.process_time() - c0) / n:8.1f} ns/draw")


if __name__ == "__main__":
    main()
