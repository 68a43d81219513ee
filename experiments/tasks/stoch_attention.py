"""Stochastic attention: logistic-normal attention weights over MNIST's 28 rows.

The 28 rows of a digit are a sequence x_t [28]; h_t = tanh(W x_t + p_t) [H]. Attention over
the rows is w = softmax(z) with z = mu(x) + L eps (a logistic-normal, sampled by
:func:`rgrad.samplers.logistic_normal`): mu_t = v^T h_t is data dependent, L [28, 28] is a
learned lower-triangular factor (positive diagonal), shared by all inputs. The class logits
read the context c = sum_t w_t h_t. (mu, L) and the network are learned by the reparameterized
ELBO per example,

    E_q[log p(y | x, w)] - kl_weight * KL(N(mu, L L^T) || N(0, prior_std^2 I)),

one draw of eps per example. (The Gaussian KL in logit space bounds the KL of the
logistic-normal attention itself, so the objective stays a lower bound.)
``attention='deterministic'`` is the same network with w = softmax(mu).
"""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp

from rgrad import data as rdata
from rgrad import samplers
from rgrad.config_checks import integer
from rgrad.task import Task

T = 28  # rows = sequence length


class RowAttention(nn.Module):
    hidden: int
    init_log_scale: float = -1.0

    def setup(self):
        self.embed = nn.Dense(self.hidden)
        self.pos = self.param("pos", nn.initializers.normal(0.1), (T, self.hidden))
        self.score = nn.Dense(1)
        self.head = nn.Dense(10)
        self.log_diag = self.param("log_diag", nn.initializers.constant(self.init_log_scale),
                                   (T,))
        self.off_diag = self.param("off_diag", nn.initializers.zeros, (T, T))

    def scale_tril(self):  # [T, T], lower triangular with positive diagonal
        return jnp.tril(self.off_diag, -1) + jnp.diag(jnp.exp(self.log_diag))

    def features(self, x):  # [784] -> h [T, H], mu [T]
        h = jnp.tanh(self.embed(x.reshape(T, T)) + self.pos)
        return h, self.score(h)[:, 0]

    def __call__(self, x, key=None):
        """Logits [10], attention w [T] and (mu [T], L [T, T]); deterministic if key is None."""
        h, mu = self.features(x)
        tril = self.scale_tril()
        w = jax.nn.softmax(mu) if key is None else samplers.logistic_normal(key, mu, tril)
        return self.head(w @ h), w, (mu, tril)


def gaussian_kl_tril(mu, tril, prior_std):
    """KL(N(mu, L L^T) || N(0, prior_std^2 I)) in closed form; mu [D], tril [D, D]."""
    d = mu.shape[0]
    p2 = prior_std**2
    return 0.5 * (jnp.sum(tril**2) / p2 + jnp.sum(mu**2) / p2 - d + d * jnp.log(p2)
                  - 2 * jnp.sum(jnp.log(jnp.diagonal(tril))))


def log_lik(logits, y):  # [10], [] -> []
    return jax.nn.log_softmax(logits)[y]


class StochAttentionTask(Task):
    def __init__(self, config, arrays=None):
        super().__init__(config)
        self.train, self.test_x, self.test_y = rdata.labelled_splits(config, arrays)
        self.model = RowAttention(config.model.hidden, config.model.init_log_scale)
        self.stochastic = config.attention == "stochastic"

    def dataset(self):
        return self.train

    def init(self, key):
        return self.model.init(key, jnp.zeros((784,))), {}

    def hparams(self):
        return {"kl_weight": float(self.config.kl_weight)}

    def example_elbo(self, params, x, y, key, kl_weight):
        """(objective, log-likelihood, KL) of one example."""
        logits, _, (mu, tril) = self.model.apply(params, x, key if self.stochastic else None)
        ll = log_lik(logits, y)
        if not self.stochastic:
            return ll, ll, jnp.zeros(())
        kl = gaussian_kl_tril(mu, tril, self.config.prior_std)
        return ll - kl_weight * kl, ll, kl

    def loss(self, params, state, batch, *, key, step, hparams):
        del step
        keys = jax.random.split(key, batch["y"].shape[0])
        obj, ll, kl = jax.vmap(self.example_elbo, in_axes=(None, 0, 0, 0, None))(
            params, batch["x"], batch["y"], keys, hparams["kl_weight"])
        return -jnp.mean(obj), ({"log_lik": jnp.mean(ll), "kl": jnp.mean(kl)}, state)

    def evaluate(self, params, state, *, key):
        """Test accuracy, attention entropy and (stochastic) the predictive accuracy; pure."""
        del state
        x, y = jnp.asarray(self.test_x), jnp.asarray(self.test_y)
        logits_mean, w_mean, (mu, tril) = jax.vmap(lambda xi: self.model.apply(params, xi))(x)
        acc_mean = jnp.mean(jnp.argmax(logits_mean, -1) == y)
        out = {"test_acc_mean_attention": acc_mean,
               "attention_entropy": jnp.mean(-jnp.sum(w_mean * jnp.log(w_mean + 1e-12), -1))}
        if self.stochastic:
            keys = jax.random.split(key, self.config.eval.num_samples)
            probs = jax.lax.map(lambda k: jax.vmap(lambda xi, ki: jax.nn.softmax(
                self.model.apply(params, xi, ki)[0]))(x, jax.random.split(k, x.shape[0])), keys)
            out["test_acc_predictive"] = jnp.mean(jnp.argmax(jnp.mean(probs, 0), -1) == y)
            kl = jax.vmap(gaussian_kl_tril, in_axes=(0, None, None))(
                mu, tril[0], self.config.prior_std)
            out["test_kl"] = jnp.mean(kl)
            out["attention_scale_mean_diag"] = jnp.mean(jnp.diagonal(tril[0]))
        return out


# Beyond rgrad.config_checks.COMMON (checked by experiments.registry.check_config).
CONFIG_DOMAINS = {"eval.num_samples": integer(1).about("the evaluation's number of samples")}


def make_task(config, arrays=None) -> StochAttentionTask:
    if config.attention not in ("stochastic", "deterministic"):
        raise ValueError(f"config.attention={config.attention!r}; use 'stochastic' or "
                         "'deterministic'.")
    return StochAttentionTask(config, arrays)
