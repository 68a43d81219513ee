"""A Gaussian mixture fitted with a hybrid pathwise / score-function gradient.

The model draws c ~ Categorical(softmax(logits)), then x = mu_c + sigma_c * eps: the component
index is discrete (score function, with a leave-one-out baseline), the draw given the index is
reparameterized (pathwise gradients for the means and scales). The fit minimises the energy
distance to the data, an expectation over model samples,

  ED = 2 E|X - Y| - E|X - X'| - E|Y - Y'|,   X, X' ~ model, Y ~ data,

with one cost per pair (x_i, x'_i): h_i = mean_j |x_i - y_j| + mean_j |x'_i - y_j| - |x_i - x'_i|,
whose score is log q(c_i) + log q(c'_i). Both estimators sit in one
`rgrad.surrogate.score_function_surrogate`. ``estimator='score_function'`` treats the Gaussian
draws as score-function samples too (the comparison). Evaluation: the fitted parameters matched
to the truth (synthetic data) or to scikit-learn's GaussianMixture fitted by EM (iris, petal
length and width), and the variance of both estimators' gradients at the current parameters.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from scipy.optimize import linear_sum_assignment

from rgrad import control_variates as cv
from rgrad import surrogate
from rgrad.task import Task

LOG2PI = float(np.log(2 * np.pi))


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

    x = load_iris().data[:, 2:4].astype(np.float32)
    gm = GaussianMixture(config.num_components, covariance_type="diag", n_init=10,
                         random_state=0).fit(x)
    return x, {"weights": gm.weights_, "means": gm.means_, "scales": np.sqrt(gm.covariances_)}


def distance(a, b):  # [..., 2], [..., 2] -> [...], smooth at 0
    return jnp.sqrt(jnp.sum((a - b) ** 2, -1) + 1e-12)


class MixtureTask(Task):
    """The task contract for the hybrid-gradient mixture fit (see module docstring)."""

    def __init__(self, config):
        super().__init__(config)
        self.x, self.reference = (synthetic if config.dataset == "synthetic" else iris)(config)
        self._grad_stats = jax.jit(self._grad_var)

    def dataset(self):
        return {"x": self.x}

    def batch(self, data, state, params, *, key, step):
        return data, state  # full batch: the data enter only through mean distances

    def init(self, key):
        k = self.config.num_components
        idx = jax.random.choice(key, self.x.shape[0], (k,), replace=False)
        x = jnp.asarray(self.x)
        return {"logits": jnp.zeros((k,)), "means": x[idx],
                "log_scales": jnp.log(jnp.broadcast_to(jnp.std(x, 0), (k, 2)))}, {}

    def pair_objective(self, params, x_data, key, estimator):
        """Surrogate of one pair of model draws; its gradient is the configured estimator."""
        kc, ke = jax.random.split(key)
        log_w = jax.nn.log_softmax(params["logits"])
        c = jax.random.categorical(kc, jax.lax.stop_gradient(log_w), shape=(2,))  # [2]
        mu, log_sd = params["means"][c], params["log_scales"][c]  # [2, 2]
        eps = jax.random.normal(ke, (2, 2))
        z = mu + jnp.exp(log_sd) * eps
        log_q = log_w[c]  # [2]
        if estimator == "score_function":
            z = jax.lax.stop_gradient(z)
            std = (z - mu) * jnp.exp(-log_sd)  # = eps in value, a function of mu and sigma
            log_q = log_q + jnp.sum(-0.5 * std**2 - log_sd - 0.5 * LOG2PI, -1)
        h = (jnp.mean(distance(z[0][None], x_data)) + jnp.mean(distance(z[1][None], x_data))
             - distance(z[0], z[1]))
        return h, jnp.sum(log_q)

    def objective(self, params, x_data, key, estimator):
        keys = jax.random.split(key, self.config.num_pairs)
        h, log_q = jax.vmap(self.pair_objective, in_axes=(None, None, 0, None))(
            params, x_data, keys, estimator)  # [P], [P]
        b = cv.leave_one_out_baseline(jax.lax.stop_gradient(h))
        return jnp.mean(surrogate.score_function_surrogate(h, log_q, b)), jnp.mean(h)

    def loss(self, params, state, batch, *, key, step, hparams):
        del step, hparams
        s, h = self.objective(params, batch["x"], key, self.config.estimator)
        return s, ({"energy": h}, state)

    def _grad_var(self, params, key):
        """Per parameter group: summed variance of the one-step gradient, both estimators."""
        x = jnp.asarray(self.x)
        keys = jax.random.split(key, self.config.eval.grad_draws)
        out = {}
        for est in ("hybrid", "score_function"):
            g = jax.vmap(lambda k, est=est: jax.grad(
                lambda p: self.objective(p, x, k, est)[0])(params))(keys)
            out.update({f"grad_var_{est}_{n}": jnp.sum(jnp.var(v, 0, ddof=1))
                        for n, v in g.items()})
        return out

    def fitted(self, params):
        return {"weights": np.asarray(jax.nn.softmax(params["logits"])),
                "means": np.asarray(params["means"]),
                "scales": np.asarray(jnp.exp(params["log_scales"]))}

    def evaluate(self, params, state, *, key):
        fit, ref = self.fitted(params), self.reference
        # Components are exchangeable: match them to the reference by their means.
        cost = np.sum((fit["means"][:, None] - ref["means"][None]) ** 2, -1)
        rows, cols = linear_sum_assignment(cost)
        out = {f"max_err_{n}": float(np.max(np.abs(fit[n][rows] - ref[n][cols])))
               for n in ("weights", "means", "scales")}
        for i, (r, c) in enumerate(zip(rows, cols, strict=True)):
            out[f"weight{i}"], out[f"ref_weight{i}"] = float(fit["weights"][r]), float(
                ref["weights"][c])
            for d in range(2):
                out[f"mean{i}_{d}"], out[f"ref_mean{i}_{d}"] = float(fit["means"][r, d]), float(
                    ref["means"][c, d])
                out[f"scale{i}_{d}"], out[f"ref_scale{i}_{d}"] = float(
                    fit["scales"][r, d]), float(ref["scales"][c, d])
        out.update({k: float(v) for k, v in self._grad_stats(params, key).items()})
        return out


def make_task(config) -> MixtureTask:
    if config.estimator not in ("hybrid", "score_function"):
        raise ValueError(f"config.estimator={config.estimator!r}; use hybrid or score_function.")
    if config.dataset not in ("synthetic", "iris"):
        raise ValueError(f"config.dataset={config.dataset!r}; use synthetic or iris.")
    return MixtureTask(config)
