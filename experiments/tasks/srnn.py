"""A stochastic RNN (VRNN, Chung et al. 2015) on MNIST digits read row by row (28 steps of 28).

Per step t, with h_{t-1} the GRU state summarising x_{<t} and z_{<t}:

    prior        p(z_t | h_{t-1})       = N(mu_p(h_{t-1}), sigma_p(h_{t-1})^2)
    encoder      q(z_t | x_t, h_{t-1})  = N(mu_q(x_t, h_{t-1}), sigma_q(x_t, h_{t-1})^2)
    decoder      p(x_t | z_t, h_{t-1})  = Bernoulli(logits(z_t, h_{t-1}))
    recurrence   h_t = GRU(h_{t-1}, [x_t, z_t]),

z_t = mu_q + sigma_q eps_t reparameterized (or, with ``estimator='score_function'``, held
fixed); the posterior draw is a ``lax.scan`` over the rows (:class:`SequentialPosterior`),
the ELBO sum_t log p(x_t|.) + log p(z_t|.) - log q(z_t|.) another one given the draw, and the
gradient flows back through time. Data, the training loss, the test ELBO and the
importance-weighted NLL are :class:`rgrad.vae.LatentImageTask`'s. Artifacts: ancestral
samples (fed back as Bernoulli draws, shown as means).
"""

from __future__ import annotations

import pathlib

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from rgrad import plotting
from rgrad.config_checks import BOUNDS, check_latent_image
from rgrad.nn import MLP, bernoulli_log_prob, normal_log_prob
from rgrad.vae import LatentImageTask

ROWS = 28


class VRNN(nn.Module):
    hidden: int  # GRU state
    mlp_hidden: tuple[int, ...]
    latent: int
    activation: str

    def setup(self):
        a, h, z = self.activation, self.mlp_hidden, self.latent
        self.prior_net = MLP(h, 2 * z, a)
        self.enc_net = MLP(h, 2 * z, a)
        self.dec_net = MLP(h, ROWS, a)
        self.cell = nn.GRUCell(self.hidden)

    def prior(self, h):  # [H] -> ([Z], [Z])
        o = self.prior_net(h)
        return o[..., : self.latent], o[..., self.latent:]

    def encode(self, x_t, h):  # [28], [H] -> ([Z], [Z])
        o = self.enc_net(jnp.concatenate([x_t, h], -1))
        return o[..., : self.latent], o[..., self.latent:]

    def decode(self, z, h):  # -> logits [28]
        return self.dec_net(jnp.concatenate([z, h], -1))

    def recur(self, h, x_t, z):  # -> [H]
        return self.cell(h, jnp.concatenate([x_t, z], -1))[0]

    def __call__(self, x_t, h, z):
        return self.prior(h), self.encode(x_t, h), self.decode(z, h), self.recur(h, x_t, z)


class SequentialPosterior:
    """q(z_{1:28} | x) = prod_t q(z_t | x_t, h_{t-1}) of one image; draws [*S, 28, Z]."""

    def __init__(self, task, params, x):
        self.task, self.params, self.rows = task, params, x.reshape(ROWS, ROWS)

    def sample(self, *, seed, sample_shape=()):
        apply, m = self.task.model.apply, self.task.config.model
        eps = jax.random.normal(seed, tuple(sample_shape) + (ROWS, m.latent))

        def path(e):  # [28, Z] -> [28, Z]
            def step(h, inp):
                x_t, e_t = inp
                qm, qls = apply(self.params, x_t, h, method=VRNN.encode)
                z = qm + jnp.exp(qls) * e_t
                return apply(self.params, h, x_t, z, method=VRNN.recur), z

            return jax.lax.scan(step, jnp.zeros((m.rnn_hidden,)), (self.rows, e))[1]

        flat = eps.reshape((-1, ROWS, m.latent))
        return jax.vmap(path)(flat).reshape(eps.shape)

    def log_prob(self, z):  # [28, Z] -> scalar
        return self.task.path_terms(self.params, self.rows, z)[2]


class SRNNTask(LatentImageTask):
    """The latent-image task with a VRNN over the 28 rows (see module docstring)."""

    tag = "srnn"

    def __init__(self, config, arrays=None):
        super().__init__(config, arrays)
        m = config.model
        self.model = VRNN(m.rnn_hidden, tuple(m.enc_hidden), m.latent, m.activation)

    def init_params(self, key):
        m = self.config.model
        return self.model.init(key, jnp.zeros((ROWS,)), jnp.zeros((m.rnn_hidden,)),
                               jnp.zeros((m.latent,)))

    def posterior(self, params, x):
        return SequentialPosterior(self, params, x)

    def path_terms(self, params, rows, z):
        """rows [28, 28], z [28, Z] -> sums over time of (log p(x|.), log p(z|.), log q) [3]."""
        apply = self.model.apply

        def step(h, inp):
            x_t, z_t = inp
            pm, pls = apply(params, h, method=VRNN.prior)
            qm, qls = apply(params, x_t, h, method=VRNN.encode)
            lpx = bernoulli_log_prob(apply(params, z_t, h, method=VRNN.decode), x_t)
            terms = jnp.stack([lpx, normal_log_prob(z_t, pm, pls),
                               normal_log_prob(z_t, qm, qls)])
            return apply(params, h, x_t, z_t, method=VRNN.recur), terms

        h0 = jnp.zeros((self.config.model.rnn_hidden,))
        _, terms = jax.lax.scan(step, h0, (rows, z))  # [28, 3]
        return jnp.sum(terms, axis=0)

    def log_terms(self, params, x, z, q):
        t = jax.vmap(self.path_terms, in_axes=(None, None, 0))(params, x.reshape(ROWS, ROWS), z)
        return t[:, 0], t[:, 1], t[:, 2]

    def sample(self, params, key, n):
        """n digits by ancestral sampling: (Bernoulli means [n, 784], draws [n, 784])."""
        apply, m = self.model.apply, self.config.model

        def one(kk):
            def step(h, k_t):
                k1, k2 = jax.random.split(k_t)
                pm, pls = apply(params, h, method=VRNN.prior)
                z = pm + jnp.exp(pls) * jax.random.normal(k1, pm.shape)
                p = jax.nn.sigmoid(apply(params, z, h, method=VRNN.decode))
                x_t = jax.random.bernoulli(k2, p).astype(jnp.float32)
                return apply(params, h, x_t, z, method=VRNN.recur), (p, x_t)

            _, (p, xs) = jax.lax.scan(step, jnp.zeros((m.rnn_hidden,)),
                                      jax.random.split(kk, ROWS))
            return p.reshape(-1), xs.reshape(-1)

        return jax.vmap(one)(jax.random.split(key, n))

    def artifacts(self, params, state, *, key, workdir: pathlib.Path):
        means, _ = jax.jit(self.sample, static_argnums=2)(params, key, 64)  # host side
        path = workdir / "samples.png"
        plotting.save_image_grid(np.asarray(means), path,
                                 title="VRNN samples (row by row; Bernoulli means)")
        return [path]


# The checks of every rgrad.vae.LatentImageTask (estimator, objective, bounds).
CONFIG_DOMAINS, check_config = BOUNDS, check_latent_image


def make_task(config, arrays=None) -> SRNNTask:
    return SRNNTask(config, arrays)
