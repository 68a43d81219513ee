"""Variational autoencoder on binarized MNIST (Kingma & Welling 2014; Burda et al. 2016).

Gaussian encoder q(z|x), Bernoulli decoder p(x|z), standard-normal prior. The encoder's
gradient estimator is configurable -- the point of the experiment:

* ``pathwise``: z = mu + sigma * eps (the reparameterization trick);
* ``score_function``: REINFORCE on the encoder, with no baseline, a moving-average baseline,
  or a leave-one-out baseline over ``num_samples`` draws per example.

Objectives: the ELBO (``objective='elbo'``) or the importance-weighted bound with
``num_samples`` samples (``objective='iwae'``, reparameterized). Evaluation reports the test
ELBO and the importance-weighted NLL estimate with ``eval.num_samples`` samples
(5000 for the final report, as in the IWAE paper).
"""

from __future__ import annotations

import pathlib

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from rgrad import data as rdata
from rgrad import plotting
from rgrad import surrogate as surrogate_lib
from rgrad.task import Task

LOG2PI = float(np.log(2 * np.pi))


class MLP(nn.Module):
    """Hidden layers of ``features`` with ``activation``, then a linear layer of ``out``."""

    features: tuple[int, ...]
    out: int
    activation: str = "tanh"

    @nn.compact
    def __call__(self, x):
        act = getattr(nn, self.activation)
        for f in self.features:
            x = act(nn.Dense(f)(x))
        return nn.Dense(self.out)(x)


class VAE(nn.Module):
    enc_hidden: tuple[int, ...]
    dec_hidden: tuple[int, ...]
    latent: int
    activation: str

    def setup(self):
        self.encoder = MLP(self.enc_hidden, 2 * self.latent, self.activation)
        self.decoder = MLP(self.dec_hidden, 784, self.activation)

    def encode(self, x):  # [784] -> ([L], [L])
        h = self.encoder(x)
        return h[..., : self.latent], h[..., self.latent:]  # mean, log-sigma

    def decode(self, z):  # [L] -> logits [784]
        return self.decoder(z)

    def __call__(self, x, z):
        return self.encode(x), self.decode(z)


def bernoulli_log_prob(logits, x):  # [..., 784] -> [...]
    return jnp.sum(x * logits - jnp.logaddexp(0.0, logits), axis=-1)


def normal_log_prob(z, mu, log_sigma):  # [..., L] -> [...]
    return jnp.sum(-0.5 * ((z - mu) * jnp.exp(-log_sigma)) ** 2 - log_sigma - 0.5 * LOG2PI, -1)


class VAETask(Task):
    """The task contract for the VAE (see module docstring)."""

    def __init__(self, config, arrays: tuple[np.ndarray, np.ndarray] | None = None):
        """Load the configured data, or use ``arrays`` = (train [N, 784], test [M, 784])."""
        super().__init__(config)
        m = config.model
        self.model = VAE(tuple(m.enc_hidden), tuple(m.dec_hidden), m.latent, m.activation)
        self._bounds_jit = jax.jit(self._bounds, static_argnums=(3,))
        if arrays is not None:
            self.data_name = "arrays"
            train_x, test_x = arrays
        else:
            d = config.data
            root, dl = d.data_dir or None, d.download
            train, self.data_name = rdata.load_with_fallback(d.name, "train", root, dl)
            test, _ = rdata.load_with_fallback(self.data_name, "test", root, dl)
            train_x, test_x = train.images, test.images
            print(f"[vae] data: {self.data_name} ({len(train_x)} train / {len(test_x)} test), "
                  f"binarization: {self._binarization()}")
        self.train_x = train_x[: config.data.max_train or None]
        self.test_x = self._static_binarize(test_x, seed=1)
        self.eval_order = np.random.default_rng(0).permutation(len(self.test_x))
        if self._binarization() == "static":
            self.train_x = self._static_binarize(self.train_x, seed=0)

    # -- data ---------------------------------------------------------------------------------
    def _binarization(self) -> str:
        # Larochelle's set is binary already; others follow config.data.binarize.
        return "given" if self.data_name == "binarized_mnist" else self.config.data.binarize

    def _static_binarize(self, x, seed):
        if self._binarization() == "given":
            return x
        return (np.random.default_rng(seed).random(x.shape) < x).astype(np.float32)

    def dataset(self):
        return {"x": self.train_x}

    # -- model --------------------------------------------------------------------------------
    def init(self, key):
        x = jnp.zeros((784,))
        params = self.model.init(key, x, jnp.zeros((self.config.model.latent,)))
        if self.config.estimator == "score_function" and self.config.baseline == "moving_average":
            return params, {"baseline": jnp.zeros(())}
        return params, {}

    def hparams(self):
        return {"kl_weight": float(self.config.kl_weight)}

    def log_weights(self, params, x, key, k, stop_z=False):
        """log p(x, z_i) - log q(z_i | x) for k reparameterized z_i ~ q(.|x); [784] -> [k]."""
        mu, log_sigma = self.model.apply(params, x, method=VAE.encode)
        mu, log_sigma, x = mu[None], log_sigma[None], x[None]  # broadcast over the k samples
        eps = jax.random.normal(key, (k, self.config.model.latent))
        z = mu + jnp.exp(log_sigma) * eps
        if stop_z:
            z = jax.lax.stop_gradient(z)
        logits = self.model.apply(params, z, method=VAE.decode)
        log_px = bernoulli_log_prob(logits, x)
        log_pz = normal_log_prob(z, 0.0, 0.0)
        log_qz = normal_log_prob(z, mu, log_sigma)
        return log_px, log_pz, log_qz

    def example_objective(self, params, x, key, kl_weight, baseline):
        """Surrogate objective of one example whose gradient is the configured estimator."""
        c = self.config
        k = c.num_samples
        if c.estimator == "pathwise":
            log_px, log_pz, log_qz = self.log_weights(params, x, key, k)
            if c.objective == "iwae":
                lw = log_px + log_pz - log_qz
                bound = jax.nn.logsumexp(lw) - jnp.log(k)
            else:
                bound = jnp.mean(log_px + kl_weight * (log_pz - log_qz))
            return bound, bound
        # Score function: z carries no gradient; the encoder learns through log q(z|x).
        if c.objective != "elbo":
            raise ValueError("estimator='score_function' supports objective='elbo' only.")
        log_px, log_pz, log_qz = self.log_weights(params, x, key, k, stop_z=True)
        f = log_px + kl_weight * (log_pz - log_qz)  # [k]
        if c.baseline == "rloo":
            if k < 2:
                raise ValueError("baseline='rloo' needs num_samples >= 2.")
            b = (jnp.sum(f) - f) / (k - 1)
        else:
            b = baseline
        # grad = E[(f - b) dlog q] + E[df] at fixed z (decoder, and -dlog q whose mean is 0).
        surrogate = jnp.mean(surrogate_lib.score_function_surrogate(f, log_qz, b))
        return surrogate, jnp.mean(f)

    def loss(self, params, state, batch, *, key, step, hparams):
        del step
        c = self.config
        bin_key, key = jax.random.split(key)
        x = batch["x"]
        if self._binarization() == "dynamic":
            x = jax.random.bernoulli(bin_key, x).astype(jnp.float32)
        keys = jax.random.split(key, x.shape[0])
        baseline = state.get("baseline", jnp.zeros(()))
        surrogate, bound = jax.vmap(self.example_objective, in_axes=(None, 0, 0, None, None))(
            params, x, keys, hparams["kl_weight"], baseline)
        metrics = {"bound": jnp.mean(bound)}
        if "baseline" in state:
            new_b = c.baseline_decay * baseline + (1 - c.baseline_decay) * jnp.mean(bound)
            state = {"baseline": jax.lax.stop_gradient(new_b)}
        return -jnp.mean(surrogate), (metrics, state)

    # -- evaluation ---------------------------------------------------------------------------
    def _bounds(self, params, x, key, k):
        """Mean ELBO and importance-weighted bound (k samples) over the examples x [N, 784]."""
        keys = jax.random.split(key, x.shape[0])

        def one(args):
            xi, ki = args
            log_px, log_pz, log_qz = self.log_weights(params, xi, ki, k)
            lw = log_px + log_pz - log_qz
            return lw[0], jax.nn.logsumexp(lw) - jnp.log(k)

        elbo, iw = jax.lax.map(one, (x, keys), batch_size=self.config.eval.map_batch)
        return jnp.mean(elbo), jnp.mean(iw)

    def bounds(self, params, key, k, n):
        """(ELBO over the whole test set, k-sample bound over n test digits chosen at random).

        The subset is a fixed random one: MNIST's test set is ordered (the writers of its two
        halves differ), so its first n digits are not representative -- on a trained model the
        first 1000 score ~17 nats worse than the last 1000.
        """
        elbo_key, iw_key = jax.random.split(key)
        elbo, _ = self._bounds_jit(params, jnp.asarray(self.test_x), elbo_key, 1)
        subset = self.test_x[self.eval_order[:n]]
        _, iw = self._bounds_jit(params, jnp.asarray(subset), iw_key, k)
        return float(elbo), float(iw)

    def evaluate(self, params, state, *, key):
        e = self.config.eval
        elbo, iw = self.bounds(params, key, e.num_samples, e.num_examples)
        return {"test_elbo": elbo, f"test_nll_k{e.num_samples}": -iw}

    def final_evaluate(self, params, state, *, key):
        e = self.config.eval
        elbo, iw = self.bounds(params, key, e.final_num_samples, e.final_num_examples)
        return {"test_elbo": elbo, "test_neg_elbo": -elbo,
                f"test_nll_k{e.final_num_samples}": -iw}

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


def make_task(config, arrays=None) -> VAETask:
    if config.estimator not in ("pathwise", "score_function"):
        raise ValueError(f"config.estimator={config.estimator!r}; use 'pathwise' or "
                         "'score_function'.")
    if config.baseline not in ("none", "moving_average", "rloo"):
        raise ValueError(f"config.baseline={config.baseline!r}; use none, moving_average or rloo.")
    if config.objective not in ("elbo", "iwae"):
        raise ValueError(f"config.objective={config.objective!r}; use 'elbo' or 'iwae'.")
    return VAETask(config, arrays)
