"""Predicting (mu, sigma): expected squared error drives sigma to 0; likelihood and ELBO calibrate.

Heteroscedastic 1-D regression with known noise, y = sin(3x) + s(x) eps, s(x) = 0.05 +
0.25 (1 + x), x ~ U(-1, 1). A network predicts (mu(x), log sigma(x)) and is trained, full batch,
on ``config.loss``:

* ``expected_sq_error``: E_eps[(mu + sigma eps - y)^2] by one reparameterized draw per example
  (= (mu - y)^2 + sigma^2 in expectation, so every draw pushes sigma down), or
* ``gaussian_nll``: -log N(y; mu, sigma^2), which is minimised at sigma(x) = s(x), or
* ``bnn_elbo``: a mean-field Bayesian network (:class:`rgrad.bayes_layers.BayesDense`, local
  reparameterization, prior N(0, prior_std^2) on every weight) with the heteroscedastic
  Gaussian likelihood, trained on the negative ELBO per example,
  -(1/N) sum_n E_q[log N(y_n; mu_w(x_n), sigma_w(x_n)^2)] + KL(q(w) || p(w)) / N,
  one weight-noise draw per step. Its predictive distribution is the mixture over q(w) of
  N(mu_w(x), sigma_w(x)^2), estimated with ``eval.num_pred_samples`` draws.

Calibration (:meth:`CalibrationTask.evaluate`): coverage of the central (equal-tailed)
predictive intervals at each level p of ``LEVELS`` on fresh data: y is inside iff its
predictive CDF F(y) (the PIT, a mean of normal CDFs for the mixture) lies in
[(1 - p)/2, (1 + p)/2]; for a single Gaussian this is |y - mu| <= z_p sigma.
"""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from rgrad import bayes_layers, samplers
from rgrad.task import Task

LOSSES = ("expected_sq_error", "gaussian_nll", "bnn_elbo")
LEVELS = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99)


def level_name(p: float) -> str:
    """The metric suffix of level p: 0.9 -> 'p90', 0.95 -> 'p95'."""
    return f"p{round(100 * p):02d}"


def noise_std(x):
    """The true noise level s(x), elementwise."""
    return 0.05 + 0.25 * (1.0 + x)


def sample_data(key, n):  # -> x [n, 1], y [n]
    kx, ke = jax.random.split(key)
    x = jax.random.uniform(kx, (n, 1), minval=-1.0, maxval=1.0)
    y = jnp.sin(3 * x[:, 0]) + noise_std(x[:, 0]) * jax.random.normal(ke, (n,))
    return x, y


class MeanStd(nn.Module):
    hidden: int

    @nn.compact
    def __call__(self, x):  # [N, 1] -> mu [N], sigma [N]
        h = nn.tanh(nn.Dense(self.hidden)(x))
        h = nn.tanh(nn.Dense(self.hidden)(h))
        out = nn.Dense(2)(h)
        return out[:, 0], jnp.exp(out[:, 1])


class BayesMeanStd(nn.Module):
    """The same network with mean-field Gaussian weights (local reparameterization)."""

    hidden: int
    init_log_std: float

    @nn.compact
    def __call__(self, x, deterministic: bool = False):  # [N, 1] -> mu [N], sigma [N]
        def dense(f, h):
            return bayes_layers.BayesDense(f, "local", self.init_log_std)(h, deterministic)

        h = nn.tanh(dense(self.hidden, x))
        h = nn.tanh(dense(self.hidden, h))
        out = dense(2, h)
        return out[:, 0], jnp.exp(out[:, 1])


def gaussian_nll(mu, sigma, y):
    return 0.5 * ((y - mu) / sigma) ** 2 + jnp.log(sigma) + 0.5 * jnp.log(2 * jnp.pi)


class CalibrationTask(Task):
    """Full-batch training of one (mu, sigma) regressor on ``config.loss`` (module doc)."""

    def __init__(self, config):
        super().__init__(config)
        self.bayes = config.loss == "bnn_elbo"
        m = config.model
        self.model = (BayesMeanStd(m.hidden, m.init_log_std) if self.bayes
                      else MeanStd(m.hidden))
        # The data are fixed by data_seed (the same for every loss, and every member).
        k_data = jax.random.split(jax.random.key(config.data_seed), 3)[0]
        k_test = jax.random.key(config.data_seed + 1)
        self.train_x, self.train_y = (np.asarray(a) for a in sample_data(k_data,
                                                                         config.num_train))
        self.test_x, self.test_y = (np.asarray(a) for a in sample_data(k_test,
                                                                       config.eval.num_test))

    def dataset(self):
        return {"x": self.train_x, "y": self.train_y}

    def batch(self, data, state, params, *, key, step):
        del params, key, step
        return data, state  # full batch, every step

    def init(self, key):
        x = jnp.zeros((1, 1))
        if self.bayes:
            return self.model.init({"params": key, "noise": key}, x), {}
        return self.model.init(key, x), {}

    def loss(self, params, state, batch, *, key, step, hparams):
        del step, hparams
        x, y = batch["x"], batch["y"]
        metrics = {}
        if self.bayes:
            mu, sigma = self.model.apply(params, x, rngs={"noise": key})
            kl = bayes_layers.kl_to_prior(params, self.config.prior_std) / y.shape[0]
            loss = jnp.mean(gaussian_nll(mu, sigma, y)) + kl
            metrics["kl_per_example"] = kl
        else:
            mu, sigma = self.model.apply(params, x)
            if self.config.loss == "expected_sq_error":
                keys = jax.random.split(key, y.shape[0])
                y_hat = jax.vmap(samplers.gaussian_diag)(keys, mu, sigma)  # mu + sigma eps
                loss = jnp.mean((y_hat - y) ** 2)
            else:
                loss = jnp.mean(gaussian_nll(mu, sigma, y))
        return loss, ({"mean_sigma": jnp.mean(sigma), **metrics}, state)

    def predictive(self, params, x, key):
        """Components (mu [S, N], sigma [S, N]) of the predictive mixture at x [N, 1]; S = 1
        for a point estimate, ``eval.num_pred_samples`` weight draws for the Bayesian net."""
        if not self.bayes:
            return jax.tree.map(lambda a: a[None], self.model.apply(params, x))
        keys = jax.random.split(key, self.config.eval.num_pred_samples)
        return jax.vmap(lambda k: self.model.apply(params, x, rngs={"noise": k}))(keys)

    def evaluate(self, params, state, *, key):
        """Coverage per level, its largest error (also in binomial SEs), the median predictive
        and aleatoric std over s(x), and the RMSE of the predictive mean, on the test set."""
        del state
        x, y = jnp.asarray(self.test_x), jnp.asarray(self.test_y)
        mus, sigmas = self.predictive(params, x, key)  # [S, N]
        pit = jnp.mean(jax.scipy.stats.norm.cdf((y[None] - mus) / sigmas), 0)  # [N]
        levels = jnp.asarray(LEVELS)
        cov = jnp.mean(jnp.abs(pit - 0.5)[:, None] <= levels[None, :] / 2, 0)  # [L]
        se = jnp.sqrt(levels * (1 - levels) / y.shape[0])  # binomial SE of each coverage
        s_true = noise_std(x[:, 0])
        aleatoric = jnp.sqrt(jnp.mean(sigmas**2, 0))
        total = jnp.sqrt(jnp.mean(sigmas**2, 0) + jnp.var(mus, 0))  # the mixture's std
        out = {f"coverage_{level_name(p)}": cov[i] for i, p in enumerate(LEVELS)}
        out.update(sigma_ratio_median=jnp.median(total / s_true),
                   aleatoric_ratio_median=jnp.median(aleatoric / s_true),
                   rmse=jnp.sqrt(jnp.mean((jnp.mean(mus, 0) - y) ** 2)),
                   max_calibration_error=jnp.max(jnp.abs(cov - levels)),
                   max_calibration_z=jnp.max(jnp.abs(cov - levels) / se))
        if self.bayes:
            out["kl_per_example"] = (bayes_layers.kl_to_prior(params, self.config.prior_std)
                                     / self.config.num_train)
        return out


def make_task(config) -> CalibrationTask:
    if config.loss not in LOSSES:
        raise ValueError(f"config.loss={config.loss!r}; use one of {', '.join(LOSSES)}.")
    return CalibrationTask(config)
