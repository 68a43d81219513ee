"""Two-stochastic-layer VAE on binarized MNIST (Burda et al. 2016, the two-layer architecture).

Generative model p(z2) p(z1 | z2) p(x | z1), inference network q(z1 | x) q(z2 | z1), both
layers reparameterized:

    z1 = mu1(x) + sigma1(x) * eps1,      z2 = mu2(z1) + sigma2(z1) * eps2,

so the ELBO's gradient for the lower encoder (x -> z1) flows through z1 into the upper encoder
and the whole generative model, while the upper encoder (z1 -> z2) sees only eps2 given z1.
Default sizes (IWAE paper): x -> 100-100 tanh -> z1 (100) -> 50-50 tanh -> z2 (50), mirrored
in the decoder. Everything else -- data, objective (ELBO / IWAE bound), the estimator
(``config.estimator``: pathwise, or the score function on the joint draw of both layers), the
test ELBO and the k-sample importance-weighted NLL -- is :class:`rgrad.vae.LatentImageTask`'s,
as for the one-layer VAE.

Evaluation also measures, for ``eval.grad_var_examples`` test digits, the variance over
``eval.grad_var_draws`` independent one-sample pathwise ELBO gradient estimates (same draws for
both groups; :func:`rgrad.diagnostics.estimator_stats`) of the lower-encoder and upper-encoder
parameters: the mean per-parameter variance and its ratio to the mean squared gradient (the
inverse squared signal-to-noise ratio).
"""

from __future__ import annotations

import pathlib

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from rgrad import diagnostics, plotting
from rgrad.config_checks import BOUNDS, check_latent_image
from rgrad.nn import MLP, bernoulli_log_prob, normal_log_prob
from rgrad.vae import IMAGE, LatentImageTask, lead


class HVAE(nn.Module):
    enc1_hidden: tuple[int, ...]  # x -> z1
    enc2_hidden: tuple[int, ...]  # z1 -> z2
    z1: int
    z2: int
    activation: str

    def setup(self):
        a = self.activation
        self.enc1 = MLP(self.enc1_hidden, 2 * self.z1, a)  # q(z1 | x)
        self.enc2 = MLP(self.enc2_hidden, 2 * self.z2, a)  # q(z2 | z1)
        self.dec2 = MLP(tuple(reversed(self.enc2_hidden)), 2 * self.z1, a)  # p(z1 | z2)
        self.dec1 = MLP(tuple(reversed(self.enc1_hidden)), IMAGE, a)  # p(x | z1)

    @staticmethod
    def _split(h, n):
        return h[..., :n], h[..., n:]  # mean, log-sigma

    def q1(self, x):  # [784] -> ([Z1], [Z1])
        return self._split(self.enc1(x), self.z1)

    def q2(self, z1):  # [..., Z1] -> ([..., Z2], [..., Z2])
        return self._split(self.enc2(z1), self.z2)

    def p1(self, z2):  # [..., Z2] -> ([..., Z1], [..., Z1])
        return self._split(self.dec2(z2), self.z1)

    def px(self, z1):  # [..., Z1] -> logits [..., 784]
        return self.dec1(z1)

    def __call__(self, x, z1, z2):
        return self.q1(x), self.q2(z1), self.p1(z2), self.px(z1)


class HierarchicalPosterior:
    """q(z1 | x) q(z2 | z1) of one image; draws are pairs (z1 [*S, Z1], z2 [*S, Z2])."""

    def __init__(self, q2, mu1, ls1):
        self.q2, self.mu1, self.ls1 = q2, mu1, ls1  # q2: z1 [..., Z1] -> (mu2, ls2)

    def sample(self, *, seed, sample_shape=()):
        k1, k2 = jax.random.split(seed)
        shape = tuple(sample_shape)
        eps1 = jax.random.normal(k1, shape + self.mu1.shape)
        z1 = lead(self.mu1, eps1.ndim) + lead(jnp.exp(self.ls1), eps1.ndim) * eps1
        mu2, ls2 = self.q2(z1)
        return z1, mu2 + jnp.exp(ls2) * jax.random.normal(k2, mu2.shape)

    def log_prob(self, z):
        z1, z2 = z
        return (normal_log_prob(z1, lead(self.mu1, z1.ndim), lead(self.ls1, z1.ndim))
                + normal_log_prob(z2, *self.q2(z1)))


class HVAETask(LatentImageTask):
    """The VAE task with two stochastic layers (see module docstring)."""

    tag = "hvae"

    def __init__(self, config, arrays=None):
        super().__init__(config, arrays)
        m = config.model
        self.model = HVAE(tuple(m.enc_hidden), tuple(m.enc2_hidden), m.latent, m.latent2,
                          m.activation)

    def init_params(self, key):
        m = self.config.model
        return self.model.init(key, jnp.zeros((IMAGE,)), jnp.zeros((m.latent,)),
                               jnp.zeros((m.latent2,)))

    def posterior(self, params, x):
        q2 = lambda z1: self.model.apply(params, z1, method=HVAE.q2)
        return HierarchicalPosterior(q2, *self.model.apply(params, x, method=HVAE.q1))

    def log_terms(self, params, x, z, q):
        """z = (z1 [k, Z1], z2 [k, Z2]) -> log p(x | z1), log p(z1, z2), log q(z1, z2 | x)."""
        z1, z2 = z
        apply = self.model.apply
        pm1, pls1 = apply(params, z2, method=HVAE.p1)
        log_px = bernoulli_log_prob(apply(params, z1, method=HVAE.px), x[None])
        log_pz = normal_log_prob(z2, 0.0, 0.0) + normal_log_prob(z1, pm1, pls1)
        return log_px, log_pz, q.log_prob(z)

    def loss(self, params, state, batch, *, key, step, hparams):
        # KL warm-up (Soenderby et al. 2016): the KL weight ramps 0 -> kl_weight over
        # kl_warmup_steps, so that z1 becomes informative before the prior pulls it back; without
        # it this model stays near the collapsed posterior for many epochs (measured: 6 nats of
        # KL in z1 and 174 nats test NLL after 10 epochs, vs 114 for the one-layer VAE).
        w = self.config.kl_warmup_steps
        ramp = jnp.minimum(1.0, step / w) if w else 1.0
        hparams = {**hparams, "kl_weight": hparams["kl_weight"] * ramp}
        return super().loss(params, state, batch, key=key, step=step, hparams=hparams)

    # -- gradient variance by layer -----------------------------------------------------------
    def grad_variance_metrics(self, params, key) -> dict[str, jax.Array]:
        """Mean per-parameter variance of one-sample ELBO gradients of each encoder, and its
        ratio to the mean squared mean gradient, over ``eval.grad_var_draws`` draws."""
        x = jnp.asarray(self.test_x[: self.config.eval.grad_var_examples])

        def batch_elbo(p, kk):
            keys = jax.random.split(kk, x.shape[0])
            return jnp.mean(jax.vmap(self.log_weights, in_axes=(None, 0, 0, None))(
                p, x, keys, 1))

        def encoder_grads(kk):
            g = jax.grad(batch_elbo)(params, kk)["params"]
            return {name: g[name] for name in ("enc1", "enc2")}

        stats = diagnostics.estimator_stats(encoder_grads, key=key,
                                            num_repeats=self.config.eval.grad_var_draws)
        out = {}
        for name, group in (("lower", "enc1"), ("upper", "enc2")):
            flat = lambda tree: jnp.concatenate([v.ravel() for v in jax.tree.leaves(tree)])
            var = jnp.mean(flat(stats.variance[group]))
            sq = jnp.mean(jnp.square(flat(stats.mean[group])))
            out[f"gradvar_{name}_enc"], out[f"gradvar_rel_{name}_enc"] = var, var / sq
        return out

    def evaluate(self, params, state, *, key):
        out = super().evaluate(params, state, key=key)
        out.update(self.grad_variance_metrics(params, jax.random.fold_in(key, 1)))
        return out

    def final_evaluate(self, params, state, *, key):
        out = super().final_evaluate(params, state, key=key)
        out.update(self.grad_variance_metrics(params, jax.random.fold_in(key, 1)))
        return out

    def eval_images(self, params, state, *, key):
        """16 samples: z2 ~ p(z2), z1 ~ p(z1 | z2), the mean of p(x | z1)."""
        k1, k2 = jax.random.split(key)
        pm1, pls1 = self.model.apply(params, jax.random.normal(k1, (16, self.config.model.latent2)),
                                     method=HVAE.p1)
        z1 = pm1 + jnp.exp(pls1) * jax.random.normal(k2, pm1.shape)
        x = jax.nn.sigmoid(self.model.apply(params, z1, method=HVAE.px))
        return {"samples": x.reshape(16, 28, 28)}

    def artifacts(self, params, state, *, key, workdir: pathlib.Path):
        m = self.config.model
        k1, k2 = jax.random.split(key)
        z2 = jax.random.normal(k1, (64, m.latent2))
        pm1, pls1 = self.model.apply(params, z2, method=HVAE.p1)
        z1 = pm1 + jnp.exp(pls1) * jax.random.normal(k2, pm1.shape)
        samples = jax.nn.sigmoid(self.model.apply(params, z1, method=HVAE.px))
        path = workdir / "samples.png"
        plotting.save_image_grid(np.asarray(samples), path,
                                 title="samples: z2 ~ p(z2), z1 ~ p(z1|z2), mean of p(x|z1)")
        return [path]


# The checks of every rgrad.vae.LatentImageTask (estimator, objective, bounds).
CONFIG_DOMAINS, check_config = BOUNDS, check_latent_image


def make_task(config, arrays=None) -> HVAETask:
    return HVAETask(config, arrays)
