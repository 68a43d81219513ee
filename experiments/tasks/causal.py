"""A structural causal model with reparameterized exogenous noise; counterfactual queries.

Ground truth (``true_scm``): a confounder Z ~ N(0, 1); a binary treatment
T = 1{a Z + U_t > 0} with logistic U_t (so treated units have larger Z: naive comparisons are
confounded); an outcome
    Y = f(T, Z) + s(T) U_y,   f(t, z) = c0 + c1 t + c2 z + c3 t z,   s(t) = exp(g0 + g1 t),
with U_y ~ N(0, 1): the noise scale changes with treatment.

The model has the same structure with unknown (c, g). Its outcome noise is reparameterized,
Y' = f(T, Z) + s(T) eps, and the parameters are fitted to observational (Z, T, Y) by pathwise
gradients of the expected energy score (CRPS) E|Y' - y| - 1/2 E|Y' - Y''|, a proper scoring
rule: it needs only samples of the model, not its density.

Counterfactuals by abduction-action-prediction: the unit's noise is recovered,
u = (y - f(t, z)) / s(t); the treatment is set to 1 - t; the outcome is recomputed,
y_cf = f(1 - t, z) + s(1 - t) u. The true counterfactual uses the true mechanism and true U_y.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from rgrad import samplers
from rgrad.task import Task


def true_scm(config, n: int, seed: int) -> dict[str, np.ndarray]:
    """Observational data and both potential outcomes of each unit, [n] arrays."""
    s = config.scm
    rng = np.random.default_rng(seed)
    z = rng.normal(size=n)
    t = (s.confounding * z + rng.logistic(size=n) > 0).astype(np.float64)
    u = rng.normal(size=n)

    def outcome(tt):
        return (s.c[0] + s.c[1] * tt + s.c[2] * z + s.c[3] * tt * z
                + np.exp(s.g[0] + s.g[1] * tt) * u)

    y0, y1 = outcome(0.0), outcome(1.0)
    y = np.where(t > 0, y1, y0)
    f32 = lambda a: a.astype(np.float32)  # noqa: E731
    return {"z": f32(z), "t": f32(t), "y": f32(y), "y0": f32(y0), "y1": f32(y1)}


def mechanism(params, t, z):
    """(f(t, z), s(t)) of the model; elementwise over [n] arrays."""
    c, g = params["c"], params["g"]
    return c[0] + c[1] * t + c[2] * z + c[3] * t * z, jnp.exp(g[0] + g[1] * t)


def counterfactual(params, z, t, y, t_new):
    """Abduction (u), action (t_new), prediction: the outcome had the unit received t_new."""
    f, s = mechanism(params, t, z)
    u = (y - f) / s
    f_new, s_new = mechanism(params, t_new, z)
    return f_new + s_new * u


class CausalTask(Task):
    def __init__(self, config):
        super().__init__(config)
        self.train = true_scm(config, config.num_train, config.data_seed)
        self.test = d = true_scm(config, config.num_test, config.data_seed + 1)
        # Constants of the test set, computed once on the host (float32, as the data).
        self.y_cf_true = np.where(d["t"] > 0, d["y0"], d["y1"])  # [n] the other outcome
        treated = d["t"] > 0
        self.ate_true = np.mean(d["y1"] - d["y0"])
        self.ate_naive = d["y"][treated].mean() - d["y"][~treated].mean()

    def dataset(self):
        return {k: self.train[k] for k in ("z", "t", "y")}  # only the observational data

    def init(self, key):
        del key
        return {"c": jnp.zeros(4), "g": jnp.zeros(2)}, {}

    def unit_score(self, params, z, t, y, key):
        """Energy score (CRPS) of one unit from 2m reparameterized model outcomes."""
        f, s = mechanism(params, t, z)
        y1, y2 = samplers.gaussian_diag(key, f, s, (2, self.config.num_samples))
        return jnp.mean(jnp.abs(y1 - y)) - 0.5 * jnp.mean(jnp.abs(y1 - y2))

    def loss(self, params, state, batch, *, key, step, hparams):
        keys = jax.random.split(key, batch["y"].shape[0])
        scores = jax.vmap(self.unit_score, in_axes=(None, 0, 0, 0, 0))(
            params, batch["z"], batch["t"], batch["y"], keys)
        return jnp.mean(scores), ({}, state)

    def evaluate(self, params, state, *, key):
        """Counterfactual RMSE (with and without abduction), ATEs and noise scales; pure."""
        del state, key
        d = self.test
        z, t, y = (jnp.asarray(d[k]) for k in ("z", "t", "y"))  # [n] each
        y_cf = counterfactual(params, z, t, y, 1.0 - t)
        y_cf_true = jnp.asarray(self.y_cf_true)
        # ATE from the model's mechanism averaged over the units' Z; truth: sample mean of
        # the units' true effects.
        f1, _ = mechanism(params, jnp.ones_like(z), z)
        f0, _ = mechanism(params, jnp.zeros_like(z), z)
        return {"cf_rmse": jnp.sqrt(jnp.mean((y_cf - y_cf_true) ** 2)),
                "cf_rmse_no_abduction": jnp.sqrt(jnp.mean(
                    (jnp.where(t > 0, f0, f1) - y_cf_true) ** 2)),
                "ate_model": jnp.mean(f1 - f0),
                "ate_true": jnp.asarray(self.ate_true),
                "ate_naive": jnp.asarray(self.ate_naive),
                "scale_untreated": jnp.exp(params["g"][0]),
                "scale_treated": jnp.exp(params["g"][0] + params["g"][1])}

def make_task(config) -> CausalTask:
    return CausalTask(config)
