"""Log-normal accelerated-failure-time model on the Rossi recidivism data (lifelines).

T = exp(mu(x) + sigma eps), mu(x) = b + x . beta, fitted by maximum likelihood with the
censored log-likelihood (weeks to re-arrest; 318 of 432 released prisoners are not re-arrested
within the 52 weeks: 74% censored). The gradient is a Monte Carlo one: each step imputes the
censored subjects' log-times by reparameterized truncated-normal draws and differentiates the
complete-data likelihood (Fisher identity; see :mod:`rgrad.survival`). With a decaying
learning rate this converges to the exact maximum-likelihood fit, which lifelines'
``LogNormalAFTFitter`` computes by Newton's method; evaluation reports both.

Covariates are standardized internally (better conditioned); coefficients are reported on the
original scale, named as lifelines names them.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from rgrad import data as rdata
from rgrad import diagnostics, estimators, survival
from rgrad.task import Task

COVARIATES = ("fin", "age", "race", "wexp", "mar", "paro", "prio")


def load_rossi() -> dict[str, np.ndarray]:
    """{"x": [N, 7] covariates, "week": [N], "arrest": [N] bool}."""
    from lifelines.datasets import load_rossi as _load

    d = _load()
    rdata.check_packaged("lifelines_rossi", d[list(COVARIATES)].to_numpy(), d["week"].to_numpy(),
                         d["arrest"].to_numpy())  # another lifelines' copy is refused
    return {"x": d[list(COVARIATES)].to_numpy(np.float32),
            "week": d["week"].to_numpy(np.float32), "arrest": d["arrest"].to_numpy(bool)}


def lifelines_fit(d: dict[str, np.ndarray]) -> dict[str, tuple[float, float]]:
    """Maximum-likelihood estimates and standard errors from lifelines: name -> (est, se)."""
    import pandas as pd
    from lifelines import LogNormalAFTFitter

    df = pd.DataFrame(d["x"], columns=COVARIATES)
    df["week"], df["arrest"] = d["week"], d["arrest"].astype(int)
    f = LogNormalAFTFitter().fit(df, "week", "arrest")
    out = {c: (float(f.params_[("mu_", c)]), float(f.standard_errors_[("mu_", c)]))
           for c in (*COVARIATES, "Intercept")}
    out["log_sigma"] = (float(f.params_[("sigma_", "Intercept")]),
                        float(f.standard_errors_[("sigma_", "Intercept")]))
    return out


class SurvivalTask(Task):
    def __init__(self, config, data: dict[str, np.ndarray] | None = None):
        super().__init__(config)
        # One estimator here; the name is checked like every task's.
        self.estimator = estimators.make(config.get("estimator", "imputation"),
                                         allowed=("imputation",))
        d = data if data is not None else load_rossi()
        self.x_mean, self.x_std = d["x"].mean(0), d["x"].std(0) + 1e-8
        self.data = {"x": (d["x"] - self.x_mean) / self.x_std,
                     "log_t": np.log(d["week"]).astype(np.float32), "event": d["arrest"]}
        # The exact MLE (Newton's method on the host), once: final_evaluate stays pure.
        self.reference = None
        if config.get("compare_lifelines", False):
            ref = lifelines_fit({"x": self.data["x"] * self.x_std + self.x_mean,
                                 "week": np.exp(self.data["log_t"]),
                                 "arrest": self.data["event"]})
            self.reference = {k: tuple(jnp.float32(x) for x in v) for k, v in ref.items()}

    def init(self, key):
        del key
        p = self.data["x"].shape[1]
        b = float(np.mean(self.data["log_t"]))
        return {"beta": jnp.zeros(p), "b": jnp.array(b), "log_sigma": jnp.zeros(())}, {}

    def batch(self, data, state, params, *, key, step):
        return {}, state  # full batch: the data live in the task

    @staticmethod
    def mu_sigma(params, x):
        return params["b"] + x @ params["beta"], jnp.exp(params["log_sigma"])

    def surrogate(self, params, data, key):
        """Mean surrogate whose gradient estimates that of the mean log-likelihood
        (Fisher's identity: :class:`rgrad.estimators.Imputation` of the censored log-times)."""
        mu, sigma = self.mu_sigma(params, data["x"])
        sigma = jnp.broadcast_to(sigma, mu.shape)
        missing = survival.ImputedLogTimes(data["log_t"], data["event"], mu, sigma)

        def f(y):  # [K, N] imputed log-times -> [K] mean complete-data log-likelihood
            m, s = (jnp.broadcast_to(t, y.shape) for t in (mu, sigma))
            return jnp.mean(survival.complete_data_log_density(y, m, s), -1)

        return self.estimator(f, missing, key=key).surrogate

    def loss(self, params, state, batch, *, key, step, hparams):
        d = jax.tree.map(jnp.asarray, self.data)
        mu, sigma = self.mu_sigma(params, d["x"])
        ll = jnp.mean(survival.lognormal_loglik(d["log_t"], d["event"], mu, sigma))
        return -self.surrogate(params, d, key), ({"loglik": ll}, state)

    def coefficients(self, params) -> dict[str, jax.Array]:
        """Coefficients on the original covariate scale, named as lifelines names them."""
        beta = params["beta"] / self.x_std
        out = {c: beta[i] for i, c in enumerate(COVARIATES)}
        out["Intercept"] = params["b"] - beta @ self.x_mean
        out["log_sigma"] = params["log_sigma"]
        return out

    def evaluate(self, params, state, *, key):
        d = self.data
        mu, sigma = self.mu_sigma(params, jnp.asarray(d["x"]))
        ll = survival.lognormal_loglik(jnp.asarray(d["log_t"]), jnp.asarray(d["event"]), mu,
                                       sigma)
        return {"loglik": jnp.sum(ll), **self.coefficients(params)}

    def final_evaluate(self, params, state, *, key):
        out = self.evaluate(params, state, key=key)
        if self.reference is not None:
            # Distance to the exact MLE in units of its standard error.
            out["max_z_vs_lifelines"] = jnp.max(jnp.stack(
                [jnp.abs(out[k] - v) / se for k, (v, se) in self.reference.items()]))
        return out


def make_task(config) -> SurvivalTask:
    return SurvivalTask(config)


def gradient_variances(task: SurvivalTask, params, data, *, key, num_keys: int
                       ) -> diagnostics.Stats:
    """Statistics over ``num_keys`` draws of the Monte Carlo gradient of the mean surrogate at
    fixed ``params`` (:func:`rgrad.diagnostics.estimator_stats`); each field ``[P]``."""
    d = jax.tree.map(jnp.asarray, data)

    def one(k):
        g = jax.grad(task.surrogate)(params, d, k)
        return jnp.concatenate([g["beta"], g["b"][None], g["log_sigma"][None]])

    return diagnostics.estimator_stats(one, key=key, num_repeats=num_keys)
