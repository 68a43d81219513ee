"""Variational inference over ODE parameters, gradients of the ELBO through the solver.

Two models (``config.model``):

* ``lotka_volterra``: the Hudson's Bay lynx-hare pelts 1900-1920 (thousands), the model and
  priors of Carpenter's Stan case study "Predator-Prey Population Dynamics":
  theta = (alpha, beta, gamma, delta) with alpha, gamma ~ N+(1, 0.5), beta, delta ~ N+(0.05,
  0.05); initial state z0 ~ LogNormal(log 10, 1); noise sigma ~ LogNormal(-1, 1) per species;
  y_t ~ LogNormal(log z_t, sigma) for t = 0..20 (t = 0 is 1900, observed through z0).
* ``abc``: first-order reactions A -> B -> C with rates k ~ LogNormal(0, 1), synthetic
  concentrations from known rates with Gaussian noise of unknown scale s ~ LogNormal(-3, 1).

The posterior is approximated by a Gaussian over the *log*-parameters w (mean-field or full
rank, ``config.family``); samples are reparameterized, w = m + L eps, so the ELBO gradient
flows through the ODE solution (``config.adjoint``: backprop through the solver steps or the
continuous adjoint). The ELBO is E_q[log p(y, exp(w)) + sum(w)] + H(q) (sum(w): the log-Jacobian
of exp), the entropy in closed form.
"""

from __future__ import annotations

import pathlib
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from rgrad import data as rdata
from rgrad import ode, samplers
from rgrad.config_checks import integer
from rgrad.nn import LOG2PI, normal_log_prob
from rgrad.task import Task


class Model(NamedTuple):
    """An ODE posterior on the unconstrained space: ``log_joint(w)`` includes the Jacobian."""

    names: tuple[str, ...]
    log_joint: object  # w [D] -> scalar
    predict: object  # w [D] -> [T, K] noise-free observations at ``ts``
    ts: np.ndarray  # [T]
    y: np.ndarray  # [T, K]
    init_mean: np.ndarray  # [D] starting point of the variational mean
    truth: np.ndarray | None  # [D] constrained true parameters (synthetic data only)


def lotka_volterra_model(config) -> Model:
    d = rdata.load_lynx_hare(config.data.data_dir or None, config.data.download)
    y = np.stack([d["hare"], d["lynx"]], -1).astype(np.float32)  # [21, 2], prey first
    ts = np.arange(1, len(y), dtype=np.float32)  # years after 1900
    log_y = jnp.log(jnp.asarray(y))

    def unpack(w):
        p = jnp.exp(w)
        return p[:4], p[4:6], p[6:8]  # theta, z0, sigma

    def predict(w):
        theta, z0, _ = unpack(w)
        zs = ode.solve(ode.lotka_volterra, z0, jnp.asarray(ts), theta, adjoint=config.adjoint)
        return jnp.concatenate([z0[None], zs], 0)  # [21, 2]

    def log_joint(w):
        theta, _, _ = unpack(w)
        lp = normal_log_prob(theta, jnp.array([1.0, 0.05, 1.0, 0.05]),
                             jnp.log(jnp.array([0.5, 0.05, 0.5, 0.05])))
        # LogNormal priors of z0 and sigma: N(w) minus the log-Jacobian w of exp.
        lp += normal_log_prob(w[4:6], jnp.log(10.0), 0.0) - jnp.sum(w[4:6])
        lp += normal_log_prob(w[6:8], -1.0, 0.0) - jnp.sum(w[6:8])
        z = predict(w)
        # Log-normal likelihood: log y ~ N(log z, sigma), log sigma = w[6:8], with the 1/y
        # Jacobian.
        ll = (jnp.sum(normal_log_prob(log_y, jnp.log(jnp.maximum(z, 1e-8)), w[6:8][None]))
              - jnp.sum(log_y))
        return lp + ll + jnp.sum(w)  # + log|d exp(w)/dw|

    init = np.log(np.array([1.0, 0.05, 1.0, 0.05, y[0, 0], y[0, 1], np.exp(-1), np.exp(-1)],
                           np.float32))
    names = ("alpha", "beta", "gamma", "delta", "z0_hare", "z0_lynx", "sigma_hare",
             "sigma_lynx")
    return Model(names, log_joint, predict, np.concatenate([[0.0], ts]), y, init, None)


def abc_model(config) -> Model:
    a = config.abc
    ts = np.linspace(a.t_max / a.num_times, a.t_max, a.num_times).astype(np.float32)
    k_true = np.array(a.rates, np.float32)
    clean = np.asarray(ode.abc_closed_form(jnp.asarray(ts), jnp.asarray(k_true)))
    rng = np.random.default_rng(a.data_seed)
    y = (clean + a.noise * rng.normal(size=clean.shape)).astype(np.float32)  # [T, 3]

    def predict(w):
        k = jnp.exp(w[:2])
        return ode.solve(ode.abc_kinetics, jnp.array([1.0, 0.0, 0.0]), jnp.asarray(ts), k,
                         adjoint=config.adjoint)

    def log_joint(w):
        # LogNormal priors of the rates and of the noise scale s = exp(w[2]).
        lp = (normal_log_prob(w[:2], 0.0, 0.0) - jnp.sum(w[:2])
              + normal_log_prob(w[2:3], -3.0, 0.0) - w[2])
        ll = jnp.sum(normal_log_prob(jnp.asarray(y), predict(w), w[2]))
        return lp + ll + jnp.sum(w)

    truth = np.array([*k_true, a.noise], np.float32)
    return Model(("k1", "k2", "noise"), log_joint, predict, ts, y, np.zeros(3, np.float32), truth)


MODELS = {"lotka_volterra": lotka_volterra_model, "abc": abc_model}


# ============================================================================================
# The variational family: w = m + L eps over the log-parameters.
# ============================================================================================
def scale_matrix(params) -> jax.Array:
    """[D, D] lower-triangular L of q (diagonal for mean-field)."""
    diag = jnp.exp(params["log_scale"])
    if "offdiag" not in params:
        return jnp.diag(diag)
    return jnp.tril(params["offdiag"], -1) + jnp.diag(diag)


def sample(params, key, n) -> jax.Array:
    """[n, D] reparameterized draws of the log-parameters."""
    if "offdiag" in params:
        return samplers.gaussian_full(key, params["mean"], scale_matrix(params), (n,))
    return samplers.gaussian_diag(key, params["mean"], jnp.exp(params["log_scale"]), (n,))


def entropy(params) -> jax.Array:
    d = params["mean"].shape[0]
    return jnp.sum(params["log_scale"]) + 0.5 * d * (1.0 + LOG2PI)


class ODEInferenceTask(Task):
    def __init__(self, config):
        super().__init__(config)
        self.model = MODELS[config.model](config)

    def init(self, key):
        del key  # deterministic: prior-median rates, first observation (or config.init_mean)
        d = len(self.model.names)
        start = (np.log(np.asarray(self.config.init_mean, np.float32))
                 if self.config.init_mean else self.model.init_mean)
        params = {"mean": jnp.asarray(start),
                  "log_scale": jnp.full((d,), np.log(self.config.init_scale), jnp.float32)}
        if self.config.family == "full_rank":
            params["offdiag"] = jnp.zeros((d, d))
        return params, {}

    def dataset(self):
        """The observed series as one example (``ts [1, T]``, ``y [1, T, K]``): batch() ignores
        it, the loop fingerprints it into data.json so a workdir never resumes on other data."""
        return {"ts": np.asarray(self.model.ts)[None], "y": np.asarray(self.model.y)[None]}

    def batch(self, data, state, params, *, key, step):
        return {}, state

    def elbo(self, params, key, n):
        w = sample(params, key, n)
        return jnp.mean(jax.vmap(self.model.log_joint)(w)) + entropy(params)

    def loss(self, params, state, batch, *, key, step, hparams):
        elbo = self.elbo(params, key, self.config.num_samples)
        return -elbo, ({"elbo": elbo}, state)

    def predict(self, w: jax.Array) -> jax.Array:
        """Noise-free observations at ``model.ts`` of log-parameter draws; [S, D] -> [S, T, K]."""
        return jax.vmap(self.model.predict)(w)

    def evaluate(self, params, state, *, key):
        """ELBO and the mean and sd of each constrained parameter under q; pure."""
        del state
        k1, k2 = jax.random.split(key)
        n = self.config.eval.num_samples
        lj = jax.vmap(self.model.log_joint)(sample(params, k1, n))  # [n]
        out = {"elbo": jnp.mean(lj) + entropy(params)}
        draws = jnp.exp(sample(params, k2, n))  # [n, D] constrained parameters
        for i, name in enumerate(self.model.names):
            out[f"mean_{name}"] = jnp.mean(draws[:, i])
            out[f"sd_{name}"] = jnp.std(draws[:, i])
        return out

    # -- host side ----------------------------------------------------------------------------
    def artifacts(self, params, state, *, key, workdir: pathlib.Path):
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        pred = np.asarray(self.predict(sample(params, key, 200)))  # [200, T, K]
        fig, ax = plt.subplots(figsize=(7, 4))
        ts, y = self.model.ts, self.model.y
        labels = ("hare", "lynx") if self.config.model == "lotka_volterra" else "ABC"
        for j in range(y.shape[1]):
            lo, mid, hi = np.nanpercentile(pred[:, :, j], [5, 50, 95], axis=0)
            ax.fill_between(ts, lo, hi, alpha=0.3, color=f"C{j}")
            ax.plot(ts, mid, color=f"C{j}", label=f"{labels[j]}: posterior median, 90% band")
            ax.plot(ts, y[:, j], "o", color=f"C{j}", ms=4)
        ax.set_xlabel("time")
        ax.set_ylabel("observation")
        ax.legend(fontsize=8)
        path = workdir / "posterior_predictive.png"
        fig.tight_layout()
        fig.savefig(path, dpi=100)
        plt.close(fig)
        return [path]


# Beyond rgrad.config_checks.COMMON (checked by experiments.registry.check_config).
CONFIG_DOMAINS = {"eval.num_samples": integer(1).about("the evaluation's number of samples")}
NUM_PARAMS = {"lotka_volterra": 8, "abc": 3}  # len(Model.names)


def check_config(config) -> None:
    """``init_mean`` has one value per parameter; the closed-form A -> B -> C needs k1 != k2."""
    n = NUM_PARAMS.get(config.model)
    if config.init_mean and n and len(config.init_mean) != n:
        raise ValueError(f"config.init_mean={tuple(config.init_mean)!r} has "
                         f"{len(config.init_mean)} values; the {config.model} model has {n} "
                         "parameters (give one positive value each, or leave it empty).")
    if config.model == "abc" and config.abc.rates[0] == config.abc.rates[1]:
        raise ValueError(f"config.abc.rates={tuple(config.abc.rates)} must differ (the exact "
                         "solution of A -> B -> C divides by k2 - k1).")


def make_task(config) -> ODEInferenceTask:
    if config.model not in MODELS:
        raise ValueError(f"config.model={config.model!r}; use one of {sorted(MODELS)}.")
    if config.family not in ("mean_field", "full_rank"):
        raise ValueError(f"config.family={config.family!r}; use mean_field or full_rank.")
    if config.adjoint not in ode.ADJOINTS:
        raise ValueError(f"config.adjoint={config.adjoint!r}; use one of {ode.ADJOINTS}.")
    return ODEInferenceTask(config)
