"""Shared machinery of the latent-variable image models (VAE, two-layer VAE, VRNN).

* :class:`DiagNormal`, :class:`OneHotCategoricals`: posteriors with ``sample(seed=,
  sample_shape=)`` and ``log_prob`` in the experiments' own arithmetic (:mod:`rgrad.nn`), so
  that the estimators of :mod:`rgrad.estimators` reproduce the former hand-written draws
  bit for bit.
* :func:`load_binarized`: binarized MNIST (or its fallback) with static/dynamic binarization.
* :func:`importance_weighted_bounds`: the ELBO and the k-sample bound from a log-weight function.
* :func:`iwae_schedule`: Burda et al.'s (2016) learning-rate stages.
* :class:`LatentImageTask`: the task contract for a model of binarized 784-pixel images given a
  posterior and the log-densities of its samples (subclasses fill those in).
"""

from __future__ import annotations

import abc

import jax
import jax.numpy as jnp
import numpy as np
import optax

from rgrad import data as rdata
from rgrad import estimators
from rgrad import nn as rnn
from rgrad.estimators.latents import Categoricals
from rgrad.task import Task

IMAGE = 784
OBJECTIVES = {"elbo": "mean", "iwae": "logmeanexp"}


def lead(a: jax.Array, ndim: int) -> jax.Array:
    """``a`` with leading unit axes up to ``ndim`` (explicit broadcasting over draws)."""
    return jnp.reshape(a, (1,) * (ndim - a.ndim) + a.shape)


class DiagNormal:
    """N(mu, diag(exp(log_sigma)^2)) over the last axis; ``mu``, ``log_sigma`` [..., D]."""

    def __init__(self, mu: jax.Array, log_sigma: jax.Array):
        self.mu, self.log_sigma = mu, log_sigma

    def sample(self, *, seed, sample_shape=()):
        """[*sample_shape, ..., D]: mu + sigma * eps, eps ~ N(0, 1) drawn in one call."""
        eps = jax.random.normal(seed, tuple(sample_shape) + self.mu.shape)
        return lead(self.mu, eps.ndim) + lead(jnp.exp(self.log_sigma), eps.ndim) * eps

    def log_prob(self, z):  # [..., D] -> [...]
        return rnn.normal_log_prob(z, lead(self.mu, z.ndim), lead(self.log_sigma, z.ndim))


OneHotCategoricals = Categoricals  # the name this module always used


def binarize(x: np.ndarray, seed: int) -> np.ndarray:
    """A fixed Bernoulli draw of the grey levels x in [0, 1]."""
    return (np.random.default_rng(seed).random(x.shape) < x).astype(np.float32)


def load_binarized(config, arrays=None, tag: str = "vae"):
    """(train [N, 784], test [M, 784], binarization) per ``config.data``.

    Larochelle's binarized MNIST is binary already ("given"); other sets follow
    ``config.data.binarize``: the test set is always binarized once (seed 1), the training set
    once (seed 0) when "static" and per step by the task when "dynamic".
    """
    d = config.data
    if arrays is not None:
        name, (train_x, test_x) = "arrays", arrays
    else:
        root, dl = d.data_dir or None, d.download
        train, name = rdata.load_with_fallback(d.name, "train", root, dl)
        test, _ = rdata.load_with_fallback(name, "test", root, dl)
        train_x, test_x = train.images, test.images
    how = "given" if name == "binarized_mnist" else d.binarize
    if arrays is None:
        print(f"[{tag}] data: {name} ({len(train_x)} train / {len(test_x)} test), "
              f"binarization: {how}")
    train_x = train_x[: d.max_train or None]
    if how != "given":
        test_x = binarize(test_x, seed=1)
        if how == "static":
            train_x = binarize(train_x, seed=0)
    return train_x, test_x, how


def importance_weighted_bounds(log_weights, x, key, k: int, map_batch: int):
    """Mean ELBO (first draw) and k-sample bound over x [N, 784].

    ``log_weights(x_i, key_i, k)`` -> [k] values of log p(x_i, z) - log q(z | x_i).
    """
    keys = jax.random.split(key, x.shape[0])

    def one(args):
        lw = log_weights(*args, k)
        return lw[0], jax.nn.logsumexp(lw) - jnp.log(k)

    elbo, iw = jax.lax.map(one, (x, keys), batch_size=map_batch)
    return jnp.mean(elbo), jnp.mean(iw)


def iwae_schedule(lr: float, steps_per_epoch: int | None) -> optax.Schedule:
    """Burda et al. (2016): stages i = 0..7 of 3^i epochs at lr * 10^(-i/7)."""
    if not steps_per_epoch:
        raise ValueError("optim.schedule='iwae' needs a dataset (epochs); use 'constant'.")
    bounds = np.cumsum([3**i * steps_per_epoch for i in range(8)])[:-1]
    return optax.piecewise_constant_schedule(lr, {int(b): 10 ** (-1 / 7) for b in bounds})


class LatentImageTask(Task):
    """A latent-variable model of binarized images trained on the ELBO or the IWAE bound.

    Subclasses give :meth:`init_params`, :meth:`posterior` (q(z | x) of one image, an object
    with ``sample``/``log_prob``) and :meth:`log_terms` (log p(x | z), log p(z), log q(z | x),
    each [k], for k stacked draws). The encoder's gradient estimator is ``config.estimator``
    (pathwise, score function, or for reparameterized posteriors ``stl``/``dreg``, which need
    ``log_terms``' log q to be the posterior's own ``log_prob``), chosen here once; the task
    state is the estimator's state.
    """

    tag = "vae"

    def __init__(self, config, arrays=None):
        super().__init__(config)
        if config.objective not in OBJECTIVES:
            raise ValueError(f"config.objective={config.objective!r}; use 'elbo' or 'iwae'.")
        self.objective = OBJECTIVES[config.objective]
        self.estimator = estimators.from_config(config, allowed=(
            "pathwise", "score_function", "stl", "dreg"))
        self.estimator.check(objective=self.objective, num_samples=config.num_samples)
        # stl/dreg cancel the score of -log q inside f, which needs its coefficient to be 1.
        if (config.estimator in ("stl", "dreg") and self.objective == "mean"
                and (config.kl_weight != 1.0 or config.get("kl_warmup_steps", 0))):
            raise ValueError(f"estimator={config.estimator!r} needs the unweighted ELBO; set "
                             "--config.kl_weight=1.0 (and kl_warmup_steps=0) or use pathwise.")
        self.train_x, self.test_x, self.binarization = load_binarized(config, arrays, self.tag)
        # MNIST's test set is ordered (the writers of its halves differ): the k-sample bound
        # uses a fixed random subset, not the first n digits.
        self.eval_order = np.random.default_rng(0).permutation(len(self.test_x))

    @abc.abstractmethod
    def init_params(self, key): ...

    @abc.abstractmethod
    def posterior(self, params, x):
        """q(z | x) of one image x [784]."""

    @abc.abstractmethod
    def log_terms(self, params, x, z, q):
        """(log p(x | z), log p(z), log q(z | x)), each [k], for draws z [k, ...] of q."""

    def dataset(self):
        return {"x": self.train_x}

    def init(self, key):
        return self.init_params(key), self.estimator.init()

    def hparams(self):
        return {"kl_weight": float(self.config.kl_weight)}

    def schedule(self, steps_per_epoch, num_steps):
        if self.config.optim.schedule == "iwae":
            return iwae_schedule(self.config.optim.lr, steps_per_epoch)
        return super().schedule(steps_per_epoch, num_steps)

    def objective_fn(self, params, x, q, kl_weight):
        """z [k, ...] -> [k]: the ELBO's integrand (KL-weighted) or the IWAE log weight."""
        def f(z):
            log_px, log_pz, log_qz = self.log_terms(params, x, z, q)
            if self.objective == "logmeanexp":
                return log_px + log_pz - log_qz
            return log_px + kl_weight * (log_pz - log_qz)
        return f

    def log_weights(self, params, x, key, k):
        """log p(x, z_i) - log q(z_i | x) for k draws z_i ~ q(. | x); [784] -> [k]."""
        q = self.posterior(params, x)
        log_px, log_pz, log_qz = self.log_terms(params, x, q.sample(seed=key,
                                                                    sample_shape=(k,)), q)
        return log_px + log_pz - log_qz

    def loss(self, params, state, batch, *, key, step, hparams):
        del step
        bin_key, key = jax.random.split(key)
        x = batch["x"]
        if self.binarization == "dynamic":
            x = jax.random.bernoulli(bin_key, x).astype(jnp.float32)

        def one(xi, ki):
            q = self.posterior(params, xi)
            e = self.estimator(self.objective_fn(params, xi, q, hparams["kl_weight"]), q,
                               key=ki, num_samples=self.config.num_samples, state=state,
                               objective=self.objective)
            return e.surrogate, e.value

        surrogate, bound = jax.vmap(one)(x, jax.random.split(key, x.shape[0]))
        state = self.estimator.update(state, bound)
        return -jnp.mean(surrogate), ({"bound": jnp.mean(bound)}, state)

    # -- evaluation (pure) --------------------------------------------------------------------
    def _bounds(self, params, x, key, k):
        """Mean ELBO and k-sample bound over the examples x [N, 784]."""
        lw = lambda xi, ki, kk: self.log_weights(params, xi, ki, kk)
        return importance_weighted_bounds(lw, x, key, k, self.config.eval.map_batch)

    def bounds(self, params, key, k, n):
        """(ELBO over the whole test set, k-sample bound over a fixed random n test digits)."""
        elbo_key, iw_key = jax.random.split(key)
        elbo, _ = self._bounds(params, jnp.asarray(self.test_x), elbo_key, 1)
        _, iw = self._bounds(params, jnp.asarray(self.test_x[self.eval_order[:n]]), iw_key, k)
        return elbo, iw

    def evaluate(self, params, state, *, key):
        e = self.config.eval
        elbo, iw = self.bounds(params, key, e.num_samples, e.num_examples)
        return {"test_elbo": elbo, f"test_nll_k{e.num_samples}": -iw}

    def final_evaluate(self, params, state, *, key):
        e = self.config.eval
        elbo, iw = self.bounds(params, key, e.final_num_samples, e.final_num_examples)
        return {"test_elbo": elbo, "test_neg_elbo": -elbo,
                f"test_nll_k{e.final_num_samples}": -iw}
