"""Categorical VAE on static binarized MNIST (Jang, Gu & Poole 2017, Section 4.2).

``num_latent`` categorical latents of ``num_classes`` classes each, q(z|x) a product of
categoricals from an MLP encoder, a uniform prior, a Bernoulli decoder fed the (flattened)
one-hot codes. The ELBO is E_q[log p(x|z)] - KL(q(z|x) || uniform); the KL is exact (a sum over
classes), so only the reconstruction term needs a gradient estimator -- the point of the
experiment (``config.estimator``):

* ``gumbel_softmax``: z is a Gumbel-Softmax (Concrete) sample at temperature tau, decoded soft;
  biased for the discrete model, low variance.
* ``st_gumbel_softmax``: the forward pass uses the hard one-hot argmax, the backward pass the
  soft sample's gradient (straight-through).
* ``score_function``: z is a hard categorical sample, the encoder learns through
  (f - b) grad log q(z|x) with b a moving average of f (``baseline='moving_average'``) or the
  leave-one-out mean over ``num_samples`` draws per example (``baseline='rloo'``).

The temperature tau is a vmappable hyperparameter (``Task.hparams``: the initial value) with
``tau_schedule='constant'`` or ``'anneal'``: tau_t = max(tau_min, tau * exp(-r * N floor(t/N)))
(the paper's schedule, r = ``anneal_rate``, N = ``anneal_every``).

Evaluation: the test negative ELBO of the *discrete* model (hard samples, whatever trained it),
the relaxed objective at the current tau, and the variance of the encoder gradient: the trace of
its covariance over ``eval.grad_draws`` independent draws of the training estimator on a fixed
batch of test digits (``rgrad.diagnostics.estimator_stats``).
"""

from __future__ import annotations

import math

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from experiments.tasks.vae import MLP, bernoulli_log_prob
from rgrad import control_variates as cv
from rgrad import data as rdata
from rgrad import diagnostics
from rgrad import surrogate as surrogate_lib
from rgrad.relaxed import GumbelSoftmax
from rgrad.task import Task

ESTIMATORS = ("gumbel_softmax", "st_gumbel_softmax", "score_function")


class CategoricalVAE(nn.Module):
    enc_hidden: tuple[int, ...]
    dec_hidden: tuple[int, ...]
    num_latent: int
    num_classes: int
    activation: str

    def setup(self):
        self.encoder = MLP(self.enc_hidden, self.num_latent * self.num_classes, self.activation)
        self.decoder = MLP(self.dec_hidden, 784, self.activation)

    def encode(self, x):  # [784] -> logits [L, K]
        return self.encoder(x).reshape(x.shape[:-1] + (self.num_latent, self.num_classes))

    def decode(self, z):  # [..., L, K] -> Bernoulli logits [..., 784]
        return self.decoder(z.reshape(z.shape[:-2] + (-1,)))

    def __call__(self, x, z):
        return self.encode(x), self.decode(z)


def temperature(config, step, tau0):
    """tau at ``step``: constant, or the paper's max(tau_min, tau0 exp(-r N floor(step/N)))."""
    if config.tau_schedule == "constant":
        return tau0
    t = (step // config.anneal_every) * config.anneal_every
    return jnp.maximum(config.tau_min, tau0 * jnp.exp(-config.anneal_rate * t))


def kl_to_uniform(logits):  # [L, K] -> scalar: sum_l KL(q_l || uniform over K)
    log_q = jax.nn.log_softmax(logits, axis=-1)
    return jnp.sum(jnp.exp(log_q) * (log_q + math.log(logits.shape[-1])))


class CategoricalVAETask(Task):
    """The task contract for the categorical VAE (see module docstring)."""

    def __init__(self, config, arrays: tuple[np.ndarray, np.ndarray] | None = None):
        """Load static binarized MNIST, or use ``arrays`` = (train [N, 784], test [M, 784])."""
        super().__init__(config)
        m = config.model
        self.model = CategoricalVAE(tuple(m.enc_hidden), tuple(m.dec_hidden), m.num_latent,
                                    m.num_classes, m.activation)
        if arrays is None:
            d = config.data
            train, name = rdata.load_with_fallback("binarized_mnist", "train", d.data_dir or None,
                                                   d.download)
            test, _ = rdata.load_with_fallback(name, "test", d.data_dir or None, d.download)
            arrays = (train.images, test.images)
            if name != "binarized_mnist":  # the offline fallback: binarize it once
                rng = np.random.default_rng(0)
                arrays = tuple((rng.random(a.shape) < a).astype(np.float32) for a in arrays)
            print(f"[categorical_vae] data: {name} ({len(arrays[0])} train / "
                  f"{len(arrays[1])} test)")
        self.train_x = np.asarray(arrays[0][: config.data.max_train or None], np.float32)
        self.test_x = np.asarray(arrays[1], np.float32)
        self._bounds_jit = jax.jit(self._bounds, static_argnums=(3,))
        self._grad_var_jit = jax.jit(self._grad_var)

    def dataset(self):
        return {"x": self.train_x}

    def init(self, key):
        m = self.config.model
        params = self.model.init(key, jnp.zeros((784,)), jnp.zeros((m.num_latent, m.num_classes)))
        state = {"tau": jnp.asarray(self.config.tau, jnp.float32)}
        if self.config.baseline == "moving_average":
            state["baseline"] = cv.moving_average_init()
        return params, state

    def hparams(self):
        return {"tau": float(self.config.tau)}

    # -- the objective ------------------------------------------------------------------------
    def example_objective(self, params, x, key, tau, baseline):
        """(surrogate, discrete-or-relaxed ELBO, reconstruction f) of one example x [784]."""
        c = self.config
        k = c.num_samples
        logits = self.model.apply(params, x, method=CategoricalVAE.encode)  # [L, K]
        kl = kl_to_uniform(logits)
        if c.estimator in ("gumbel_softmax", "st_gumbel_softmax"):
            dist = GumbelSoftmax(logits, tau, straight_through=c.estimator == "st_gumbel_softmax")
            z = dist.sample(seed=key, sample_shape=k)  # [k, L, K]
            log_px = bernoulli_log_prob(self.model.apply(params, z, method=CategoricalVAE.decode),
                                        x[None])  # [k]
            elbo = jnp.mean(log_px) - kl
            return elbo, elbo, jnp.mean(log_px)
        # Score function: hard samples, no path through z; the encoder learns through log q.
        idx = jax.random.categorical(key, jax.lax.stop_gradient(logits), shape=(k, logits.shape[0]))
        z = jax.nn.one_hot(idx, logits.shape[-1])  # [k, L, K]
        log_q = jax.nn.log_softmax(logits, axis=-1)[None]  # [1, L, K]
        log_qz = jnp.sum(z * log_q, axis=(-2, -1))  # [k]
        f = bernoulli_log_prob(self.model.apply(params, z, method=CategoricalVAE.decode), x[None])
        b = cv.leave_one_out_baseline(f) if c.baseline == "rloo" else baseline
        surrogate = jnp.mean(surrogate_lib.score_function_surrogate(f, log_qz, b)) - kl
        return surrogate, jnp.mean(f) - kl, jnp.mean(f)

    def batch_objective(self, params, state, x, key, tau):
        """Mean surrogate, ELBO and reconstruction term over x [B, 784]."""
        baseline = (cv.moving_average_value(state["baseline"]) if "baseline" in state
                    else jnp.zeros(()))
        keys = jax.random.split(key, x.shape[0])
        s, elbo, f = jax.vmap(self.example_objective, in_axes=(None, 0, 0, None, None))(
            params, x, keys, tau, baseline)
        return jnp.mean(s), jnp.mean(elbo), jnp.mean(f)

    def loss(self, params, state, batch, *, key, step, hparams):
        c = self.config
        tau = temperature(c, step, hparams["tau"])
        surrogate, elbo, f = self.batch_objective(params, state, batch["x"], key, tau)
        new_state = {"tau": jnp.asarray(tau, jnp.float32)}
        if "baseline" in state:
            new_state["baseline"] = cv.moving_average_update(state["baseline"], f,
                                                             c.baseline_decay)
        return -surrogate, ({"neg_elbo": -elbo, "tau": tau}, new_state)

    # -- evaluation ---------------------------------------------------------------------------
    def _bounds(self, params, x, key, k):
        """Mean discrete (hard-sample) ELBO over x [N, 784] with k samples per example."""
        keys = jax.random.split(key, x.shape[0])

        def one(args):
            xi, ki = args
            logits = self.model.apply(params, xi, method=CategoricalVAE.encode)
            idx = jax.random.categorical(ki, logits, shape=(k, logits.shape[0]))
            z = jax.nn.one_hot(idx, logits.shape[-1])
            log_px = bernoulli_log_prob(
                self.model.apply(params, z, method=CategoricalVAE.decode), xi[None])
            return jnp.mean(log_px) - kl_to_uniform(logits)

        return jnp.mean(jax.lax.map(one, (x, keys), batch_size=self.config.eval.map_batch))

    def _grad_var(self, params, state, x, key):
        """Trace of the covariance of the encoder gradient over independent draws, and the
        relaxed objective, on the fixed batch x at the state's temperature."""
        tau = state["tau"]

        def encoder_grad(k):
            g = jax.grad(lambda p: self.batch_objective(p, state, x, k, tau)[0])(params)
            return g["params"]["encoder"]

        stats = diagnostics.estimator_stats(encoder_grad, key=key,
                                            num_repeats=self.config.eval.grad_draws)
        var = sum(jnp.sum(v) for v in jax.tree.leaves(stats.variance))
        sq_mean = sum(jnp.sum(m**2) for m in jax.tree.leaves(stats.mean))
        relaxed = self.batch_objective(params, state, x, key, tau)[1]
        return var, sq_mean, relaxed

    def evaluate(self, params, state, *, key, n=None, k=None):
        e = self.config.eval
        n, k = n or e.num_examples, k or e.num_samples
        b_key, g_key = jax.random.split(key)
        elbo = self._bounds_jit(params, jnp.asarray(self.test_x[:n]), b_key, k)
        var, sq_mean, relaxed = self._grad_var_jit(params, state,
                                                   jnp.asarray(self.test_x[: e.grad_batch]),
                                                   g_key)
        return {"test_neg_elbo": -float(elbo), "grad_var_encoder": float(var),
                "grad_sqnorm_encoder": float(sq_mean), "neg_elbo_train_objective": -float(relaxed),
                "tau": float(state["tau"])}

    def final_evaluate(self, params, state, *, key):
        e = self.config.eval
        return self.evaluate(params, state, key=key, n=e.final_num_examples,
                             k=e.final_num_samples)


def make_task(config, arrays=None) -> CategoricalVAETask:
    if config.estimator not in ESTIMATORS:
        raise ValueError(f"config.estimator={config.estimator!r}; use one of {ESTIMATORS}.")
    if config.estimator == "score_function" and config.baseline not in ("moving_average", "rloo",
                                                                         "none"):
        raise ValueError(f"config.baseline={config.baseline!r}; use moving_average, rloo or none.")
    if config.estimator != "score_function" and config.baseline != "none":
        raise ValueError(f"baseline={config.baseline!r} applies to estimator='score_function' "
                         "only; set --config.baseline=none.")
    if config.baseline == "rloo" and config.num_samples < 2:
        raise ValueError("baseline='rloo' needs num_samples >= 2.")
    if config.tau_schedule not in ("constant", "anneal"):
        raise ValueError(f"config.tau_schedule={config.tau_schedule!r}; use constant or anneal.")
    return CategoricalVAETask(config, arrays)
