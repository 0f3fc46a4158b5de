"""The mixture's log density written directly in JAX: the sampler's fast path.

:func:`vlms_bayes.models.mixture.build_mixture_model` defines the model (PyMC); this module
writes the *same* density — the same priors, the same PyMC transforms to the unconstrained
space with their Jacobians, the same potentials — as one JAX function of the unconstrained
parameters, built from the backend-neutral pieces of :mod:`vlms_bayes.models.likelihood`
and :mod:`vlms_bayes.models.selection_norm`. ``tests/models/test_logdensity.py`` holds it
to PyMC's compiled log density to 1e-10 at random points, for every model variant (K, P,
naive and selection-aware, minimum masses, projected separations, limits, the power-law
binary-like population of ``binary_shape="powerlaw"``), which is also held to an
independent SciPy evaluation (tests/models/test_binary_powerlaw.py).

Why a second spelling of the model: sampling the real sample (122 objects,
selection-aware K = 2, 4 × 1000) takes 2.4× less time this way than PyMC's graph
(docs/bayes.md, Speed). The selection normalisation's grid sum runs over a compressed
weight matrix — groups with identical p_det rows merged, their counts added, and grid
nodes no group weighs dropped, which changes nothing in the sum; the measured-e grid sum
is a matrix product with a data-only factor; the objects are laid out once in the order
of their kernels. The three quadratures that dominate the gradient — the selection grid
sum, the inclination and projection node sums, the measured-e grid sum — have
hand-written reverse-mode gradients (:mod:`vlms_bayes.models.grid_sums`): JAX's own
backward pass revisited every grid node once per parameter in separate loops.

:class:`MixtureDensity` carries the unconstrained layout (``free``), ``logp(u)`` and
``constrained(u)`` (every posterior variable the PyMC model reports, deterministics
included), and ``unconstrain(values)`` for starting points. JAX itself is imported only
when a density is built.

One compilation per shape
-------------------------
The data are an *argument* of the density, not constants of its program:
``logp_with(u, data)`` and ``constrained_with(u, data)`` take the pytree of
:func:`density_data` (each kernel group's object arrays, the measured-e grids and their
data-only factors, the censored-e nodes, the merged selection weight matrix and its
transpose with its grid, counts and the flat-method count), and they are the *same
function objects* for every density of the same model settings (:class:`_Spec`, built
once per process). A sampler compiled for one dataset therefore runs any other of the
same pytree structure and array shapes, in the same process (JAX's in-memory cache) and
in the next one (the persistent compilation cache; data compiled in as constants made
every dataset a new program, 30–120 s of compilation on 2 cores). ``logp(u)`` and
``constrained(u)`` are the same functions with this density's data bound.

With ``mixture_density(..., pad=True)`` the arrays are padded to :func:`bucket_size`
rows (a multiple of 16 up to 256, then of 1/16 of the next power of two) so that datasets
of *similar* size share shapes too (robustness variants, refits on subsets). It is off by
default: it costs ~15 % per gradient, and a calibration's replicas keep the design's
objects, methods and hosts, so they share every shape unpadded. A padded
row repeats its group's first row, so every intermediate value stays finite, and it is
weighed out exactly (a 0 mask on object and eccentricity rows, a −∞ log count and a 0
count on selection groups, a 0 weight on grid nodes): the log density is the unpadded
one up to the order of floating-point summation (≤ 1e-10 relative,
``tests/models/test_logdensity.py``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache, partial
from typing import Any

import numpy as np
from numpy.typing import NDArray

from vlms_bayes.errors import VlmsBayesError
from vlms_bayes.models import selection_norm as seln
from vlms_bayes.models.data import ModelData
from vlms_bayes.models.grid_sums import beta_grid_logsum, gauss_grid_logsum, incl_node_logsum
from vlms_bayes.models.likelihood import (
    N_INCL_NODES,
    grid_steps,
    limit_e_constants,
    limit_e_logterm,
    measured_e_constants,
    msini_qa_logpdf,
    node_arrays,
    powerlaw_lambda,
    powerlaw_logq_logpdf,
    powerlaw_qa_logpdf,
    projected_qa_logpdf,
    qa_component_logpdf,
)
from vlms_bayes.models.mixture import (
    MixturePriors,
    check_binary_shape,
    check_sizes,
    component_populations,
    group_names,
    n_gaussians,
    ordered_initial_means,
    population_names,
)
from vlms_bayes.models.selection import SelectionModel


@dataclass(frozen=True)
class FreeVar:
    """One free variable: its name, length and PyMC's transform to the real line.

    ``transform`` is ``"none"``, ``"log"``, ``"ordered"`` (first value, then log
    increments), ``"logodds"``, ``"simplex"`` (PyMC's centred log-ratio, ``size`` − 1
    unconstrained values) or ``"log1p"`` (log(1 + x), for x > −1: the power-law index).
    """

    name: str
    size: int
    transform: str
    dim: str

    @property
    def n_free(self) -> int:
        """Length of the unconstrained vector."""
        return self.size - 1 if self.transform == "simplex" else self.size


@dataclass
class MixtureDensity:
    """A built JAX log density of the mixture model (see :func:`mixture_density`)."""

    free: tuple[FreeVar, ...]
    logp: Callable[[Mapping[str, Any]], Any]
    log_prior: Callable[[Mapping[str, Any]], Any]
    constrained: Callable[[Mapping[str, Any]], dict[str, Any]]
    dims: dict[str, tuple[str, ...]]
    coords: dict[str, list[str]]
    defaults: dict[str, NDArray[np.float64]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    #: The data pytree that ``logp`` and ``constrained`` are bound to (:func:`density_data`).
    data: Any = None
    #: ``logp(u)`` as a function of (u, data): one function object per model settings.
    logp_with: Callable[[Mapping[str, Any], Any], Any] | None = None
    #: ``constrained(u)`` as a function of (u, data).
    constrained_with: Callable[[Mapping[str, Any], Any], dict[str, Any]] | None = None

    def unconstrain(self, values: Mapping[str, Any]) -> dict[str, NDArray[np.float64]]:
        """Unconstrained point from constrained values of the free variables (NumPy).

        Variables missing from ``values`` start at ``defaults`` (the PyMC model's initial
        values: data quantiles for the means, 0.5 dex scales, the priors' medians).
        """
        unknown = sorted(set(values) - {v.name for v in self.free})
        if unknown:
            raise VlmsBayesError(f"Starting values for unknown variable(s) {unknown}; the "
                                 f"model's free variables are {[v.name for v in self.free]}.")
        out = {}
        for v in self.free:
            x = np.asarray(values[v.name] if v.name in values else self.defaults[v.name], float)
            if x.shape != (v.size,):
                raise VlmsBayesError(f"The starting value of {v.name!r} has shape {x.shape}; "
                                     f"expected ({v.size},).")
            out[v.name] = forward_transform(x, v.transform)
        return out


def forward_transform(x: NDArray[np.float64], transform: str) -> NDArray[np.float64]:
    """PyMC's forward transform of a constrained value (NumPy; for starting points)."""
    if transform == "none":
        return x
    if transform == "log":
        return np.log(x)
    if transform == "ordered":
        return np.r_[x[:1], np.log(np.diff(x))]
    if transform == "logodds":
        return np.log(x) - np.log1p(-x)
    if transform == "log1p":
        return np.log1p(x)
    if transform == "simplex":
        lx = np.log(x)
        return lx[:-1] - lx.mean()
    raise VlmsBayesError(f"Unknown transform {transform!r}.")


def _backward(jnp: Any, u: Any, transform: str) -> tuple[Any, Any]:
    """Constrained value and log |Jacobian| of PyMC's transform (JAX)."""
    if transform == "none":
        return u, 0.0
    if transform == "log":
        return jnp.exp(u), jnp.sum(u)
    if transform == "ordered":
        return jnp.cumsum(jnp.concatenate([u[:1], jnp.exp(u[1:])])), jnp.sum(u[1:])
    if transform == "logodds":
        # log σ(u) + log(1 − σ(u)), as PyMC's log_jac_det, written without cancellation
        return 1.0 / (1.0 + jnp.exp(-u)), jnp.sum(-jnp.logaddexp(0.0, -u)
                                                  - jnp.logaddexp(0.0, u))
    if transform == "log1p":
        return jnp.expm1(u), jnp.sum(u)
    raise VlmsBayesError(f"Unknown transform {transform!r}.")


def _simplex_backward(jnp: Any, lse: Callable[..., Any], u: Any) -> tuple[Any, Any]:
    """Log of the simplex value and PyMC's log |Jacobian| of its centred log-ratio."""
    v = jnp.concatenate([u, -jnp.sum(u, keepdims=True)])
    log_x = v - lse(v)
    n = u.shape[-1] + 1
    s = jnp.sum(u)
    expanded = jnp.concatenate([u + s, jnp.zeros(1)])
    return log_x, np.log(n) + n * s - n * lse(expanded)


def bucket_size(n: int) -> int:
    """Padded length of an array of ``n`` rows (0 stays 0).

    A multiple of 16 up to 256 rows, above that a multiple of 1/16 of the next power of
    two (at most 1/8 of padding there), so that datasets of similar size share one
    compiled program (module docstring, "One compilation per shape").
    """
    n = int(n)
    if n <= 0:
        return 0
    step = max(16, 1 << max((n - 1).bit_length() - 4, 0))
    return -(-n // step) * step


def _pad_rows(a: Any, n: int) -> NDArray[Any]:
    """``a`` with rows appended up to ``n`` rows, each a copy of row 0 (finite by design)."""
    a = np.asarray(a)
    if a.shape[0] == n:
        return a
    return np.concatenate([a, np.repeat(a[:1], n - a.shape[0], axis=0)], axis=0)


def _mask(n_real: int, n: int) -> NDArray[np.float64]:
    return np.r_[np.ones(n_real), np.zeros(n - n_real)]


#: Measured-e constants with one row per object (padded); the others are per grid node.
_E_ROW_KEYS = ("a_scaled", "a_max", "em_lo", "em_hi", "log_n0", "log_n1")


def density_data(data: ModelData, *, selection: SelectionModel | None = None,
                 pad: bool = False) -> tuple[dict[str, Any], seln.SelectionTerms | None]:
    """The data of the JAX log density as a pytree of NumPy arrays (its argument).

    Objects are regrouped by kernel (true masses, minimum masses, projected separations);
    with ``pad`` each group, each measured-e grid group, the censored-e rows, the
    selection groups and the selection grid nodes are padded to :func:`bucket_size` rows.
    A padded row repeats the group's first row (so every value stays finite) and is
    weighed out exactly: object rows by ``row_mask`` (0), e rows by their mask before they
    are added to row 0, selection groups by a count of 0 (log count −∞), grid nodes by a
    weight of 0. The pytree's structure (which groups exist, how many measured-e grids)
    and its arrays' shapes are all that the compiled program depends on.

    Returns
    -------
    data : dict
        The pytree (see the module docstring).
    terms : SelectionTerms or None
        The selection terms it was built from (their notes go to the density).
    """
    size = bucket_size if pad else (lambda n: int(n))
    out: dict[str, Any] = {"plain": None, "plain_raw": None, "msini": None, "projected": None}
    row_of = np.empty(data.n, np.int64)
    masks = []
    offset = 0
    for name, mask in (("plain", data.plain), ("msini", data.msini),
                       ("projected", data.is_projected)):
        idx = np.flatnonzero(mask)
        if not idx.size:
            continue
        n_pad = size(idx.size)
        raw = tuple(_pad_rows(np.asarray(v[idx], float), n_pad)
                    for v in (data.y_logq, data.y_loga, data.s_logq, data.s_loga))
        if name == "plain":
            nodes, logw = node_arrays(data.y_logq[idx], data.msini[idx], 1)
            out["plain"] = (_pad_rows(nodes, n_pad), _pad_rows(logw, n_pad), *raw[1:])
            out["plain_raw"] = raw
        else:
            out[name] = raw
        row_of[idx] = offset + np.arange(idx.size)
        masks.append(_mask(idx.size, n_pad))
        offset += n_pad
    out["row_mask"] = np.concatenate(masks)
    e_measured = []
    steps = grid_steps(data.s_e[data.idx_measured])
    for h in np.unique(steps):
        idx = data.idx_measured[steps == h]
        n_pad = size(idx.size)
        c = measured_e_constants(data.e_obs[idx], data.s_e[idx], h=h)
        a_max = c["a"].max(axis=1)
        c["a_max"], c["a_scaled"] = a_max, np.exp(c["a"] - a_max[:, None])
        del c["a"]  # only its scaled form enters (_measured_e_matmul)
        c = {key: (_pad_rows(v, n_pad) if key in _E_ROW_KEYS else np.asarray(v, float))
             for key, v in c.items()}
        rows = np.r_[row_of[idx], np.zeros(n_pad - idx.size, np.int64)]
        e_measured.append({"rows": rows, "mask": _mask(idx.size, n_pad), "c": c})
    out["e_measured"] = tuple(e_measured)
    out["e_limit"] = None
    if len(data.idx_limit):
        idx = data.idx_limit
        n_pad = size(idx.size)
        c = {key: (np.asarray(v, float) if np.ndim(v) == 0 else _pad_rows(v, n_pad))
             for key, v in limit_e_constants(data.e_limit[idx]).items()}
        out["e_limit"] = {"rows": np.r_[row_of[idx], np.zeros(n_pad - idx.size, np.int64)],
                          "mask": _mask(idx.size, n_pad), "c": c}
    terms = seln.selection_terms(data, selection) if selection is not None else None
    out["sel"] = None
    if terms is not None and terms.methods:
        grid_q, grid_a, w, counts = _compressed_selection(terms)
        n_groups, n_nodes = w.shape
        g_pad, k_pad = size(n_groups), size(n_nodes)
        wt = np.zeros((k_pad, g_pad))
        wt[:n_nodes, :n_groups] = w.T   # (nodes, groups), and transposed for the gradient
        log_counts = np.full(g_pad, -np.inf)
        log_counts[:n_groups] = np.log(counts)
        n_flat = int(np.sum(terms.object_group < 0))
        out["sel"] = {
            "grid_q": _pad_rows(grid_q, k_pad), "grid_a": _pad_rows(grid_a, k_pad),
            "wt": wt, "wt_t": np.ascontiguousarray(wt.T),
            "counts": np.r_[counts, np.zeros(g_pad - n_groups)],
            "log_counts": log_counts,
            "log_n_flat": np.float64(np.log(n_flat)) if n_flat else None,
            "log_n_total": np.float64(np.log(terms.counts.sum() + n_flat)),
            "smooth_var": np.float64(terms.smooth_var),
        }
    return out, terms


def _compressed_selection(terms: seln.SelectionTerms,
                          ) -> tuple[NDArray[np.float64], NDArray[np.float64],
                                     NDArray[np.float64], NDArray[np.float64]]:
    """Merge groups with identical weight rows and drop grid nodes no group weighs.

    Returns the kept grid (log q, log a), the merged weight matrix and the merged counts.
    The normalisation −Σ_g N_g log Σ_k w_k ξ_g,k is unchanged: identical rows give
    identical ξ_g,k, so their N_g add.
    """
    w = np.asarray(terms.weights, float)
    cols = np.flatnonzero(np.any(w > 0.0, axis=0))
    w = w[:, cols]
    uniq, inverse = np.unique(w, axis=0, return_inverse=True)
    counts = np.bincount(inverse.ravel(), weights=terms.counts, minlength=uniq.shape[0])
    return terms.grid_logq[cols], terms.grid_loga[cols], uniq, counts


@dataclass(frozen=True)
class _Spec:
    """Everything the log density's program depends on besides its data pytree."""

    kp: int
    npl: int
    pl: bool
    selective: bool
    priors: MixturePriors
    n_incl_nodes: int

    @property
    def k(self) -> int:
        """Components: Gaussians, plus the power law when ``pl``."""
        return n_gaussians(self.kp, self.npl)

    @property
    def kg(self) -> int:
        """Gaussian components."""
        return self.k - 1 if self.pl else self.k


def _free_vars(spec: _Spec) -> tuple[FreeVar, ...]:
    k, kg, kp = spec.k, spec.kg, spec.kp
    gdim = "gaussian" if spec.pl else "population"
    free = [FreeVar("mu_logq", kg, "ordered" if kg > 1 else "none", gdim),
            FreeVar("mu_loga", k, "none", "population"),
            FreeVar("sigma_logq", kg, "log", gdim),
            FreeVar("sigma_loga", k, "log", "population"),
            FreeVar("rho_beta", kg, "logodds", gdim)]
    if spec.npl == 1:
        free += [FreeVar("e_alpha", k, "log", "population"),
                 FreeVar("e_beta", k, "log", "population")]
    else:
        free += [FreeVar("e_alpha_pop", kp, "log", "e_population"),
                 FreeVar("e_beta_pop", kp, "log", "e_population")]
    if k > 1:
        free.append(FreeVar("f_det" if spec.selective else "w", k, "simplex", "population"))
    if spec.pl:
        free.append(FreeVar("gamma_q", 1, "log1p", "power_law"))
    return tuple(free)


@dataclass(frozen=True)
class _Program:
    """The density's functions of (unconstrained point, data pytree)."""

    logp: Callable[[Mapping[str, Any], Any], Any]
    log_prior: Callable[[Mapping[str, Any]], Any]
    constrained: Callable[[Mapping[str, Any], Any], dict[str, Any]]


@lru_cache(maxsize=64)
def _program(spec: _Spec) -> _Program:
    """The density's functions for one :class:`_Spec`, built once per process.

    Densities of the same spec share these very function objects, which is what lets a
    sampler compiled for one dataset (:mod:`vlms_bayes.inference.nuts_jax`) run another.
    """
    import jax.numpy as jnp  # heavy: keeps --help fast
    from jax.scipy.special import gammaln, log_ndtr, logsumexp  # heavy: jax

    k, kg, kp, npl, pl, pr = spec.k, spec.kg, spec.kp, spec.npl, spec.pl, spec.priors
    n_incl_nodes, selective = spec.n_incl_nodes, spec.selective
    free = _free_vars(spec)
    ops = {"log": jnp.log, "sqrt": jnp.sqrt, "expm1": jnp.expm1, "maximum": jnp.maximum,
           "minimum": jnp.minimum, "abs": jnp.abs, "where": jnp.where,
           "logsumexp": logsumexp, "logaddexp": jnp.logaddexp, "log_ndtr": log_ndtr,
           "incl_node_logsum": incl_node_logsum}
    e_ops = {"log": jnp.log, "gammaln": gammaln, "logsumexp": logsumexp}
    comp_pop = component_populations(kp, npl)
    log_2pi = float(np.log(2.0 * np.pi))

    def norm_lp(x: Any, mu: float, sd: float) -> Any:
        return jnp.sum(-0.5 * ((x - mu) / sd) ** 2 - np.log(sd) - 0.5 * log_2pi)

    def params_of(u: Mapping[str, Any]) -> tuple[dict[str, Any], Any]:
        """Constrained free variables and the summed prior + Jacobian terms."""
        vals: dict[str, Any] = {}
        lp = 0.0
        for v in free:
            if v.transform == "simplex":
                log_x, jac = _simplex_backward(jnp, logsumexp, u[v.name])
                vals["log_" + v.name] = log_x
                vals[v.name] = jnp.exp(log_x)
                a = np.full(v.size, pr.weight_concentration)
                lp = lp + jac + (gammaln(a.sum()) - gammaln(a).sum()
                                 + jnp.sum((a - 1.0) * log_x))
                continue
            x, jac = _backward(jnp, u[v.name], v.transform)
            vals[v.name] = x
            lp = lp + jac
        lp = lp + norm_lp(vals["mu_logq"], pr.mu_logq_mean, pr.mu_logq_sd)
        lp = lp + norm_lp(vals["mu_loga"], pr.mu_loga_mean, pr.mu_loga_sd)
        for name in ("sigma_logq", "sigma_loga"):  # half-normal
            lp = lp + norm_lp(vals[name], 0.0, pr.scale_sd) + vals[name].size * np.log(2.0)
        eta = pr.lkj_eta
        rb = vals["rho_beta"]
        lp = lp + jnp.sum((eta - 1.0) * jnp.log(rb) + (eta - 1.0) * jnp.log1p(-rb)
                          - (2.0 * gammaln(eta) - gammaln(2.0 * eta)))
        suffix = "" if npl == 1 else "_pop"
        for stem, med, sd in (("e_alpha", pr.e_alpha_median, pr.e_alpha_log_sd),
                              ("e_beta", pr.e_beta_median, pr.e_beta_log_sd)):
            x = vals[stem + suffix]
            lx = jnp.log(x)
            lp = lp + norm_lp(lx, float(np.log(med)), sd) - jnp.sum(lx)
        if pl:  # γ + 1 ~ LogNormal (MixturePriors)
            lg1 = jnp.log1p(vals["gamma_q"])
            lp = lp + norm_lp(lg1, float(np.log1p(pr.gamma_q_median)),
                              pr.gamma_q_log_sd) - jnp.sum(lg1)
        if npl > 1:
            vals["e_alpha"] = vals["e_alpha_pop"][comp_pop]
            vals["e_beta"] = vals["e_beta_pop"][comp_pop]
        vals["rho"] = 2.0 * rb - 1.0
        return vals, lp

    def selection_parts(vals: dict[str, Any], s: dict[str, Any]) -> tuple[Any, Any, Any]:
        """Log ξ (groups × K), log ξ̄ (K) and the visibility wall."""
        lxi = _log_xi(s, vals, kg)
        if pl:
            lxi = jnp.concatenate([lxi, _log_xi_powerlaw(
                jnp, s["grid_q"], s["grid_a"], s["wt"], s["smooth_var"], vals, ops)], axis=1)
        # ξ̄ from the merged groups (padded ones: log count −∞); flat-method objects
        # count with ξ ≡ 1
        rows = lxi + s["log_counts"][:, None]
        if s["log_n_flat"] is not None:
            rows = jnp.concatenate([rows, jnp.broadcast_to(s["log_n_flat"], (1, k))], axis=0)
        log_xibar = logsumexp(rows, axis=0) - s["log_n_total"]
        return lxi, log_xibar, seln.visibility_logp(log_xibar, pr.visibility_floor,
                                                    pr.visibility_scale, xp=jnp)

    def weights_of(vals: dict[str, Any], log_xibar: Any) -> Any:
        if k == 1:
            return jnp.zeros(1)
        if not selective:
            return vals["log_w"]
        return seln.intrinsic_log_weights(vals["log_f_det"], log_xibar, logsumexp=logsumexp)

    def object_terms(vals: dict[str, Any], log_w: Any, d: dict[str, Any]) -> Any:
        pop = (vals["mu_logq"], vals["mu_loga"][:kg], vals["sigma_logq"],
               vals["sigma_loga"][:kg], vals["rho"])
        if pl:
            pl_pop = (powerlaw_lambda(vals["gamma_q"]), vals["mu_loga"][kg:],
                      vals["sigma_loga"][kg:])

        def with_powerlaw(gauss: Any, raw: tuple[Any, ...], kind: str) -> Any:
            if not pl:
                return gauss
            return jnp.concatenate([gauss, powerlaw_qa_logpdf(
                *raw, *pl_pop, kind=kind, ops=ops, n_nodes=n_incl_nodes)], axis=1)

        parts = []
        if d["plain"] is not None:
            nodes, logw, ya, sq, sa = d["plain"]
            parts.append(with_powerlaw(qa_component_logpdf(
                nodes, logw, ya, sq, sa, *pop, log=jnp.log, logsumexp=logsumexp),
                d["plain_raw"], "plain"))
        if d["msini"] is not None:
            parts.append(with_powerlaw(msini_qa_logpdf(*d["msini"], *pop, ops=ops,
                                                       n_nodes=n_incl_nodes),
                                       d["msini"], "msini"))
        if d["projected"] is not None:
            parts.append(with_powerlaw(projected_qa_logpdf(*d["projected"], *pop, ops=ops,
                                                           n_nodes=n_incl_nodes),
                                       d["projected"], "projected"))
        terms = parts[0] if len(parts) == 1 else jnp.concatenate(parts, axis=0)
        terms = terms + log_w[None, :]
        alpha, beta = vals["e_alpha"], vals["e_beta"]
        # padded e rows are multiplied by 0 and added to row 0: exactly nothing
        for grp in d["e_measured"]:
            terms = terms.at[grp["rows"]].add(
                beta_grid_logsum()(alpha, beta, grp["c"]) * grp["mask"][:, None])
        if d["e_limit"] is not None:
            grp = d["e_limit"]
            terms = terms.at[grp["rows"]].add(
                limit_e_logterm(grp["c"], alpha, beta, **e_ops) * grp["mask"][:, None])
        return terms

    def logp(u: Mapping[str, Any], d: dict[str, Any]) -> Any:
        vals, lp = params_of(u)
        log_xibar = lxi = None
        if selective:
            lxi, log_xibar, wall = selection_parts(vals, d["sel"])
            lp = lp + wall
        log_w = weights_of(vals, log_xibar)
        lp = lp + jnp.sum(logsumexp(object_terms(vals, log_w, d), axis=1) * d["row_mask"])
        if selective:
            per_group = logsumexp(log_w[None, :] + lxi, axis=-1)
            lp = lp - jnp.sum(per_group * d["sel"]["counts"])
        return lp

    def constrained(u: Mapping[str, Any], d: dict[str, Any]) -> dict[str, Any]:
        vals, _ = params_of(u)
        out = {v.name: vals[v.name] for v in free}
        out["rho"] = vals["rho"]
        if npl > 1:
            out["e_alpha"], out["e_beta"] = vals["e_alpha"], vals["e_beta"]
        out["e_mean"] = vals["e_alpha"] / (vals["e_alpha"] + vals["e_beta"])
        out["e_conc"] = vals["e_alpha"] + vals["e_beta"]
        if selective and k > 1:
            _, log_xibar, _ = selection_parts(vals, d["sel"])
            out["log_w"] = weights_of(vals, log_xibar)
            out["w"] = jnp.exp(out["log_w"])
        return out

    def log_prior(u: Mapping[str, Any]) -> Any:
        return params_of(u)[1]

    return _Program(logp, log_prior, constrained)


def mixture_density(
    data: ModelData,
    *,
    n_components: int = 2,
    priors: MixturePriors | None = None,
    n_incl_nodes: int = N_INCL_NODES,
    selection: SelectionModel | None = None,
    planet_components: int = 1,
    binary_shape: str = "gaussian",
    pad: bool = False,
) -> MixtureDensity:
    """Build the JAX log density of :func:`~vlms_bayes.models.mixture.build_mixture_model`.

    Arguments as for ``build_mixture_model`` (same defaults, same model).
    ``binary_shape="powerlaw"`` (K ≥ 2) makes the last population the power law in q with
    a log-normal separation (:mod:`vlms_bayes.models.mixture`, "Shapes"), which only this
    density has: ``mu_logq``, ``sigma_logq``, ``rho_beta`` and ``rho`` then belong to the
    K_g = K − 1 Gaussian components (coordinate ``gaussian``), ``mu_loga`` and
    ``sigma_loga`` to every population, and the free variable ``gamma_q`` (γ, transform
    log(1 + γ), coordinate ``power_law``) is new. ``pad``: pad the data arrays to
    :func:`bucket_size` rows (:func:`density_data`; the density is the same), so that
    datasets of similar size share one compiled sampler. Off by default: padding costs
    ~15 % per gradient (docs/bayes.md, Speed), and the datasets that repeat in practice —
    SBC replicas of one design, the gate's retry — already have equal shapes.

    Returns
    -------
    MixtureDensity
        ``logp(u)``: the log density (priors, Jacobians and potentials) at an unconstrained
        point ``u`` (dict of the free variables' unconstrained vectors, see ``free``);
        ``log_prior(u)``: its priors and Jacobians alone;
        ``constrained(u)``: every variable of the PyMC model's posterior at ``u``;
        ``logp_with(u, data)`` and ``constrained_with(u, data)``: the same with the data
        pytree (``data``) as an argument, shared by every density of the same settings.
    """
    kp, npl = check_sizes(n_components, planet_components)
    pl = check_binary_shape(binary_shape, kp)
    pr = priors or MixturePriors()
    arrays, sel_terms = density_data(data, selection=selection, pad=pad)
    spec = _Spec(kp=kp, npl=npl, pl=pl, selective=arrays["sel"] is not None, priors=pr,
                 n_incl_nodes=int(n_incl_nodes))
    prog = _program(spec)
    free = _free_vars(spec)
    k, kg = spec.k, spec.kg
    gdim = "gaussian" if pl else "population"
    dims = {v.name: (v.dim,) for v in free}
    dims["rho"] = (gdim,)
    for name in ("e_mean", "e_conc", "e_alpha", "e_beta"):
        dims[name] = ("population",)
    if spec.selective and k > 1:
        dims["log_w"] = dims["w"] = ("population",)
    defaults = {"mu_logq": ordered_initial_means(data.y_logq, kg),
                "mu_loga": np.full(k, float(np.median(data.y_loga))),
                "sigma_logq": np.full(kg, 0.5), "sigma_loga": np.full(k, 0.5),
                "rho_beta": np.full(kg, 0.5)}
    if pl:
        defaults["gamma_q"] = np.full(1, pr.gamma_q_median)
    for v in free:
        if v.name.startswith(("e_alpha", "e_beta")):
            med = pr.e_alpha_median if v.name.startswith("e_alpha") else pr.e_beta_median
            defaults[v.name] = np.full(v.size, med)
        elif v.transform == "simplex":
            defaults[v.name] = np.full(v.size, 1.0 / v.size)
    coords = {"population": population_names(kp, npl)}
    if npl > 1:
        coords["e_population"] = group_names(kp)
    if pl:
        coords["gaussian"] = coords["population"][:kg]
        coords["power_law"] = coords["population"][kg:]

    return MixtureDensity(free, partial(_bound, prog.logp, arrays), prog.log_prior,
                          partial(_bound, prog.constrained, arrays), dims, coords,
                          defaults=defaults,
                          notes=list(sel_terms.notes) if sel_terms is not None else [],
                          data=arrays, logp_with=prog.logp,
                          constrained_with=prog.constrained)


def _bound(fn: Callable[[Mapping[str, Any], Any], Any], data: Any,
           u: Mapping[str, Any]) -> Any:
    """``fn(u, data)``: a density function with its data bound (the closure form)."""
    return fn(u, data)


def _log_xi(s: dict[str, Any], vals: dict[str, Any], kg: int) -> Any:
    """Log ξ_g,k (groups × K_g) of the first ``kg`` (Gaussian) components.

    As :func:`~vlms_bayes.models.selection_norm.log_xi`, through
    :func:`~vlms_bayes.models.grid_sums.gauss_grid_logsum` (the same sum, with a
    hand-written gradient: autodiff's backward pass over the grid was two thirds of the
    log density's cost).
    """
    mu_q, mu_a, sd_q, sd_a, rho = (vals[n][:kg] for n in ("mu_logq", "mu_loga", "sigma_logq",
                                                          "sigma_loga", "rho"))
    var = s["smooth_var"]
    return gauss_grid_logsum()(mu_q, mu_a, sd_q ** 2 + var, sd_a ** 2 + var, rho * sd_q * sd_a,
                               s["grid_q"], s["grid_a"], s["wt"], s["wt_t"])


def _log_xi_powerlaw(jnp: Any, grid_q: Any, grid_a: Any,
                     weights_t: Any, smooth_var: Any, vals: dict[str, Any],
                     ops: dict[str, Callable[..., Any]]) -> Any:
    """Log ξ_g (groups × 1) of the power-law population (as ``log_xi_powerlaw``)."""
    lam = powerlaw_lambda(vals["gamma_q"])
    lq = powerlaw_logq_logpdf(grid_q, jnp.sqrt(smooth_var), lam, ops=ops)
    va = vals["sigma_loga"][-1] ** 2 + smooth_var
    da = grid_a - vals["mu_loga"][-1]
    lp = lq - 0.5 * jnp.log(2.0 * np.pi * va) - 0.5 * da * da / va          # (G,)
    top = jnp.max(lp)
    return (top + jnp.log(jnp.exp(lp - top) @ weights_t + seln.TINY))[:, None]
