"""Variational autoencoder on binarized MNIST (Kingma & Welling 2014; Burda et al. 2016).

Gaussian encoder q(z|x), Bernoulli decoder p(x|z), standard-normal prior. The encoder's
gradient estimator is ``config.estimator`` -- the point of the experiment:

* ``pathwise``: z = mu + sigma * eps (the reparameterization trick);
* ``score_function``: REINFORCE on the encoder, with no baseline, a moving-average baseline,
  or a leave-one-out baseline over ``num_samples`` draws per example (``config.baseline``).

Objectives: the ELBO (``objective='elbo'``) or the importance-weighted bound with
``num_samples`` samples (``objective='iwae'``, reparameterized). Evaluation reports the test
ELBO and the importance-weighted NLL estimate with ``eval.num_samples`` samples
(5000 for the final report, as in the IWAE paper). Data, loss, bounds and the IWAE paper's
learning-rate schedule are :class:`rgrad.vae.LatentImageTask`'s.
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
from rgrad.vae import IMAGE, DiagNormal, LatentImageTask

__all__ = ["VAE", "VAETask", "bernoulli_log_prob", "make_task"]


class VAE(nn.Module):
    enc_hidden: tuple[int, ...]
    dec_hidden: tuple[int, ...]
    latent: int
    activation: str

    def setup(self):
        self.encoder = MLP(self.enc_hidden, 2 * self.latent, self.activation)
        self.decoder = MLP(self.dec_hidden, IMAGE, self.activation)

    def encode(self, x):  # [784] -> ([L], [L])
        h = self.encoder(x)
        return h[..., : self.latent], h[..., self.latent:]  # mean, log-sigma

    def decode(self, z):  # [..., L] -> logits [..., 784]
        return self.decoder(z)

    def __call__(self, x, z):
        return self.encode(x), self.decode(z)


class VAETask(LatentImageTask):
    """The task contract for the VAE (see module docstring)."""

    def __init__(self, config, arrays: tuple[np.ndarray, np.ndarray] | None = None):
        """Load the configured data, or use ``arrays`` = (train [N, 784], test [M, 784])."""
        super().__init__(config, arrays)
        m = config.model
        self.model = VAE(tuple(m.enc_hidden), tuple(m.dec_hidden), m.latent, m.activation)

    def init_params(self, key):
        return self.model.init(key, jnp.zeros((IMAGE,)), jnp.zeros((self.config.model.latent,)))

    def posterior(self, params, x):
        return DiagNormal(*self.model.apply(params, x, method=VAE.encode))

    def log_terms(self, params, x, z, q):
        """z [k, L] -> log p(x | z), log p(z), log q(z | x), each [k]."""
        log_px = bernoulli_log_prob(self.model.apply(params, z, method=VAE.decode), x[None])
        return log_px, normal_log_prob(z, 0.0, 0.0), q.log_prob(z)

    def eval_images(self, params, state, *, key):
        """16 prior samples; 8 test digits above their reconstructions (Bernoulli means)."""
        x = jnp.asarray(self.test_x[:8])
        recon = self.model.apply(params, self.model.apply(params, x, method=VAE.encode)[0],
                                 method=VAE.decode)
        z = jax.random.normal(key, (16, self.config.model.latent))
        samples = jax.nn.sigmoid(self.model.apply(params, z, method=VAE.decode))
        return {"samples": samples.reshape(16, 28, 28), "reconstructions": jnp.concatenate(
            [x, jax.nn.sigmoid(recon)]).reshape(16, 28, 28)}

    def artifacts(self, params, state, *, key, workdir: pathlib.Path):
        x = jnp.asarray(self.test_x[:64])
        mu, _ = self.model.apply(params, x, method=VAE.encode)
        recon = jax.nn.sigmoid(self.model.apply(params, mu, method=VAE.decode))
        z = jax.random.normal(key, (64, self.config.model.latent))
        samples = jax.nn.sigmoid(self.model.apply(params, z, method=VAE.decode))
        paths = [workdir / "reconstructions.png", workdir / "samples.png"]
        plotting.save_image_grid(np.concatenate([np.asarray(x[:32]), np.asarray(recon[:32])]),
                                 paths[0], title="test digits (top) and reconstructions")
        plotting.save_image_grid(np.asarray(samples), paths[1], title="samples from the prior")
        return paths


# Beyond rgrad.config_checks.COMMON (checked by experiments.registry.check_config).
CONFIG_DOMAINS, check_config = BOUNDS, check_latent_image


def make_task(config, arrays=None) -> VAETask:
    return VAETask(config, arrays)
