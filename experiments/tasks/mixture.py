"""A Gaussian mixture fitted with a hybrid pathwise / score-function gradient.

The model draws c ~ Categorical(softmax(logits)), then x = mu_c + sigma_c * eps: the component
index is discrete (score function, with a leave-one-out baseline), the draw given the index is
reparameterized (pathwise gradients for the means and scales). The fit minimises the energy
distance to the data, an expectation over model samples,

  ED = 2 E|X - Y| - E|X - X'| - E|Y - Y'|,   X, X' ~ model, Y ~ data,

with one cost per pair (x_i, x'_i): h_i = mean_j |x_i - y_j| + mean_j |x'_i - y_j| - |x_i - x'_i|.
A pair is one draw of :class:`PairMixture`; ``config.estimator`` picks the estimator
(:mod:`rgrad.estimators`): ``hybrid`` (score log q(c_i) + log q(c'_i), pathwise for the
Gaussian draws) or ``score_function`` (the joint log q(c, z) of the pair: the comparison),
both with ``config.baseline`` (``rloo``: the mean of the other pairs). Evaluation: the fitted
parameters matched to the truth (synthetic data) or to scikit-learn's GaussianMixture fitted
by EM (iris, petal length and width), and the variance of both estimators' gradients at the
current parameters (:func:`rgrad.diagnostics.estimator_stats`).
"""

from __future__ import annotations

import itertools

import jax
import jax.numpy as jnp
import numpy as np

from rgrad import data as rdata
from rgrad import diagnostics, estimators
from rgrad import nn as rnn
from rgrad.config_checks import check_estimator
from rgrad.task import Task

ALLOWED = ("hybrid", "score_function")


def synthetic(config):
    """(data [N, 2], truth dict) from the config's known mixture."""
    s = config.synthetic
    w, mu, sd = (np.asarray(a, np.float64) for a in (s.weights, s.means, s.scales))
    rng = np.random.default_rng(s.data_seed)
    c = rng.choice(len(w), size=s.num_points, p=w)
    x = mu[c] + sd[c] * rng.standard_normal((s.num_points, 2))
    return x.astype(np.float32), {"weights": w, "means": mu, "scales": sd}


def iris(config):
    """Iris petal length and width [150, 2], and sklearn's diagonal GMM (EM) as reference."""
    from sklearn.datasets import load_iris
    from sklearn.mixture import GaussianMixture

    raw = load_iris().data
    rdata.check_packaged("sklearn_iris", raw)  # another scikit-learn's copy is refused
    x = raw[:, 2:4].astype(np.float32)
    gm = GaussianMixture(config.num_components, covariance_type="diag", n_init=10,
                         random_state=0).fit(x)
    return x, {"weights": gm.weights_, "means": gm.means_, "scales": np.sqrt(gm.covariances_)}


def distance(a, b):  # [..., 2], [..., 2] -> [...], smooth at 0
    return jnp.sqrt(jnp.sum((a - b) ** 2, -1) + 1e-12)


class PairMixture(estimators.HybridDistribution):
    """Two independent draws (c, z) of the mixture: ``{"c": [2], "z": [2, 2]}`` per sample.

    One sample's key splits into the component key (two categorical draws at the logits held
    fixed) and the noise key (``eps [2, 2]``), z = mu_c + sigma_c eps.
    """

    def __init__(self, params):
        self.log_w = jax.nn.log_softmax(params["logits"])  # [C]
        self.means, self.log_scales = params["means"], params["log_scales"]  # [C, 2]

    def _one(self, key):
        kc, ke = jax.random.split(key)
        c = jax.random.categorical(kc, jax.lax.stop_gradient(self.log_w), shape=(2,))  # [2]
        eps = jax.random.normal(ke, (2, 2))
        return {"c": c, "z": self.means[c] + jnp.exp(self.log_scales[c]) * eps}

    def sample(self, *, seed, sample_shape):
        (num,) = sample_shape
        return jax.vmap(self._one)(jax.random.split(seed, num))  # c [P, 2], z [P, 2, 2]

    def discrete_log_prob(self, value):
        return jnp.sum(self.log_w[value["c"]])

    def log_prob(self, value):
        c = value["c"]
        return jnp.sum(self.log_w[c] + rnn.normal_log_prob(value["z"], self.means[c],
                                                           self.log_scales[c]))


def match_components(fit_means: jax.Array, ref_means: jax.Array) -> jax.Array:
    """The permutation ``[C]`` matching fitted to reference components by squared distance of
    the means (the assignment problem, solved by enumerating the C! permutations)."""
    c = fit_means.shape[0]
    perms = jnp.asarray(list(itertools.permutations(range(c))))  # [C!, C]
    cost = jnp.sum((fit_means[:, None] - ref_means[None]) ** 2, -1)  # [C, C]
    return perms[jnp.argmin(jnp.sum(cost[jnp.arange(c), perms], 1))]


class MixtureTask(Task):
    """The task contract for the hybrid-gradient mixture fit (see module docstring)."""

    def __init__(self, config):
        super().__init__(config)
        if config.dataset not in ("synthetic", "iris"):
            raise ValueError(f"config.dataset={config.dataset!r}; use synthetic or iris.")
        self.estimator = estimators.from_config(config, allowed=ALLOWED)
        self.estimator.check(num_samples=config.num_pairs)
        # Both estimators, for the gradient-variance comparison in evaluate.
        self.compared = {name: estimators.make(name, baseline=config.baseline,
                                               baseline_decay=config.get("baseline_decay", 0.99))
                         for name in ALLOWED}
        self.x, ref = (synthetic if config.dataset == "synthetic" else iris)(config)
        self.reference = {k: jnp.asarray(v, jnp.float32) for k, v in ref.items()}

    def dataset(self):
        return {"x": self.x}

    def batch(self, data, state, params, *, key, step):
        return data, state  # full batch: the data enter only through mean distances

    def init(self, key):
        k = self.config.num_components
        idx = jax.random.choice(key, self.x.shape[0], (k,), replace=False)
        x = jnp.asarray(self.x)
        params = {"logits": jnp.zeros((k,)), "means": x[idx],
                  "log_scales": jnp.log(jnp.broadcast_to(jnp.std(x, 0), (k, 2)))}
        return params, self.estimator.init()

    def objective(self, params, x_data, key, estimator, state=None):
        """(surrogate, mean energy cost h) of ``num_pairs`` pairs under ``estimator``."""

        def h(v):  # [P] pairs -> [P] costs
            def one(z):
                return (jnp.mean(distance(z[0][None], x_data))
                        + jnp.mean(distance(z[1][None], x_data)) - distance(z[0], z[1]))
            return jax.vmap(one)(v["z"])

        est = estimator(h, PairMixture(params), key=key, num_samples=self.config.num_pairs,
                        state=estimator.init() if state is None else state)
        return est.surrogate, est.value

    def loss(self, params, state, batch, *, key, step, hparams):
        del step, hparams
        s, h = self.objective(params, batch["x"], key, self.estimator, state)
        return s, ({"energy": h}, self.estimator.update(state, h[None]))

    def grad_variances(self, params, key):
        """Per estimator and parameter group: summed variance of the one-step gradient."""
        x = jnp.asarray(self.x)
        out = {}
        for name, est in self.compared.items():
            stats = diagnostics.estimator_stats(
                lambda k, est=est: jax.grad(lambda p: self.objective(p, x, k, est)[0])(params),
                key=key, num_repeats=self.config.eval.grad_draws)
            out.update({f"grad_var_{name}_{n}": jnp.sum(v) for n, v in stats.variance.items()})
        return out

    def evaluate(self, params, state, *, key):
        fit = {"weights": jax.nn.softmax(params["logits"]), "means": params["means"],
               "scales": jnp.exp(params["log_scales"])}
        ref = self.reference
        # Components are exchangeable: match them to the reference by their means.
        cols = match_components(fit["means"], ref["means"])
        ref = {n: v[cols] for n, v in ref.items()}
        out = {f"max_err_{n}": jnp.max(jnp.abs(fit[n] - ref[n]))
               for n in ("weights", "means", "scales")}
        for i in range(self.config.num_components):
            out[f"weight{i}"], out[f"ref_weight{i}"] = fit["weights"][i], ref["weights"][i]
            for d in range(2):
                out[f"mean{i}_{d}"], out[f"ref_mean{i}_{d}"] = (fit["means"][i, d],
                                                                ref["means"][i, d])
                out[f"scale{i}_{d}"], out[f"ref_scale{i}_{d}"] = (fit["scales"][i, d],
                                                                  ref["scales"][i, d])
        out.update(self.grad_variances(params, key))
        return out


def check_config(config) -> None:
    """The estimator serves ``config.num_pairs`` draws (the rloo baseline needs 2)."""
    check_estimator(config, "num_pairs", allowed=ALLOWED)


def make_task(config) -> MixtureTask:
    return MixtureTask(config)
