"""Bernoulli-latent VAE on dynamically binarized MNIST: the benchmark of the REBAR, RELAX, ARM
and DisARM papers (the setup of Dong, Mnih & Tucker 2020, read from their published code).

``num_latent`` (200) independent Bernoulli latents b, q(b | x) = Bernoulli(sigmoid(enc(x))),
a learned factorized Bernoulli prior p(b) = Bernoulli(sigmoid(prior_logits)) and a Bernoulli
decoder p(x | b) = Bernoulli(sigmoid(dec(b))). The encoder and decoder are linear
(784-200 and 200-784 logits, ``model.hidden=()``) or nonlinear (784-200-200-200 and
200-200-200-784 with LeakyReLU(0.3) hidden layers, ``model.hidden=(200, 200)``).

The objective (``config.kl``):

* ``"sample"`` (the papers'): the single-sample ELBO f(b) = log p(x | b) + log p(b)
  - log q(b | x) goes through the estimator whole. log q enters f with its logits held fixed
  (stop_gradient): its direct gradient has zero mean, and the papers' estimators treat f as a
  function of b alone; a relaxed b still differentiates through it.
* ``"exact"``: only log p(x | b) goes through the estimator; KL(q || p) is summed exactly.

Any registered estimator whose ``kinds`` include "bernoulli" and whose ``objectives`` include
"mean" trains the encoder (``config.estimator``; see
:func:`rgrad.estimators.from_config` with ``kind="bernoulli"``); its non-trainable state is
``state["estimator"]``, its trainable parameters ``params["estimator"]``, trained by the batch
mean of ``Estimate.control_loss`` added to the loss. The temperature ``tau`` (relaxed and
REBAR-type estimators) is a vmappable hyperparameter, kept in ``state["tau"]`` for evaluation.

With ``model.demean_input`` (the DisARM launch command's ``--demean_input``) the encoder sees
x minus the training mean and the decoder 2b - 1; with ``model.init_bias_with_mean``
(``--initialize_with_bias``) the decoder's output bias starts at the logit of the training
mean (clipped to [0.001, 0.999]).

The training data are binarized afresh at every step (a Bernoulli draw of the grey levels),
the test digits once. The prior logits may have their own SGD learning rate
(``optim.prior_lr``, 1e-2 in the DisARM code), everything else uses ``config.optim``.

Evaluation: the negative ELBO on a fixed set of (once binarized) training digits and on test
digits, the negative k-sample importance-weighted bound on test digits, and the variance of
the encoder gradient: the trace of its covariance over ``eval.grad_draws`` independent draws of
the training estimator on a fixed batch of test digits (``rgrad.diagnostics.estimator_stats``).
"""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax

from rgrad import diagnostics, estimators
from rgrad.config_checks import BOUNDS, check_estimator
from rgrad.estimators.latents import Bernoullis
from rgrad.nn import bernoulli_log_prob
from rgrad.task import Task
from rgrad.vae import IMAGE, importance_weighted_bounds, load_binarized

sg = jax.lax.stop_gradient
KLS = ("sample", "exact")


class LeakyMLP(nn.Module):
    """Dense layers of ``hidden`` units with LeakyReLU(``slope``), then a linear ``out``."""

    hidden: tuple[int, ...]
    out: int
    slope: float

    @nn.compact
    def __call__(self, x):
        for h in self.hidden:
            x = jax.nn.leaky_relu(nn.Dense(h)(x), self.slope)
        return nn.Dense(self.out)(x)


class BinaryVAE(nn.Module):
    hidden: tuple[int, ...]
    num_latent: int
    slope: float

    def setup(self):
        self.encoder = LeakyMLP(self.hidden, self.num_latent, self.slope)
        self.decoder = LeakyMLP(self.hidden[::-1], IMAGE, self.slope)

    def encode(self, x):  # [..., 784] -> Bernoulli logits [..., L]
        return self.encoder(x)

    def decode(self, b):  # [..., L] -> Bernoulli logits [..., 784]
        return self.decoder(b)

    def __call__(self, x, b):
        return self.encode(x), self.decode(b)


def bernoulli_kl(q_logits: jax.Array, p_logits: jax.Array) -> jax.Array:
    """KL(Bernoulli(sigmoid(q)) || Bernoulli(sigmoid(p))) summed over the last axis."""
    q = jax.nn.sigmoid(q_logits)
    return jnp.sum(q * (jax.nn.log_sigmoid(q_logits) - jax.nn.log_sigmoid(p_logits))
                   + (1 - q) * (jax.nn.log_sigmoid(-q_logits) - jax.nn.log_sigmoid(-p_logits)),
                   axis=-1)


class BinaryVAETask(Task):
    """The task contract for the Bernoulli VAE (see module docstring)."""

    tag = "binary_vae"

    def __init__(self, config, arrays: tuple[np.ndarray, np.ndarray] | None = None):
        """Load ``config.data.name`` (binarized per ``data.binarize``), or use ``arrays`` =
        (train [N, 784] grey levels or bits, test [M, 784])."""
        super().__init__(config)
        if config.kl not in KLS:
            raise ValueError(f"config.kl={config.kl!r}; use one of {', '.join(KLS)}.")
        self.estimator = estimators.from_config(config, kind="bernoulli")
        self.estimator.check(num_samples=config.num_samples)
        m = config.model
        self.model = BinaryVAE(tuple(m.hidden), m.num_latent, m.slope)
        train_x, test_x, self.binarization = load_binarized(config, arrays, self.tag)
        self.train_x = np.asarray(train_x, np.float32)
        self.test_x = np.asarray(test_x, np.float32)
        self.x_mean = self.train_x.mean(0)  # [784] grey-level (= expected pixel) means
        # A fixed binarization of the training digits the train ELBO is measured on.
        n = config.eval.num_train_examples
        rows = np.random.default_rng(2).permutation(len(self.train_x))[:n]
        sub = self.train_x[rows]
        self.train_eval_x = (np.random.default_rng(3).random(sub.shape) < sub).astype(
            np.float32) if self.binarization == "dynamic" else sub

    def dataset(self):
        return {"x": self.train_x}

    def init(self, key):
        m = self.config.model
        params = self.model.init(key, jnp.zeros((IMAGE,)), jnp.zeros((m.num_latent,)))
        if m.init_bias_with_mean:
            p = np.clip(self.x_mean, 0.001, 0.999)
            params["params"]["decoder"][f"Dense_{len(m.hidden)}"]["bias"] = jnp.asarray(
                np.log(p) - np.log1p(-p), jnp.float32)
        params["prior"] = jnp.zeros((m.num_latent,))  # logits of p(b), learned (DisARM)
        params["estimator"] = self.estimator.init_params(
            jax.random.fold_in(key, 1), Bernoullis(jnp.zeros((m.num_latent,))))
        return params, {"estimator": self.estimator.init(),
                        "tau": jnp.asarray(self.config.tau, jnp.float32)}

    def hparams(self):
        return {"tau": float(self.config.tau)}

    def optimizer(self, schedule):
        """``config.optim`` for all parameters, or SGD at ``optim.prior_lr`` for the prior."""
        tx = super().optimizer(schedule)
        if not self.config.optim.prior_lr:
            return tx
        label = lambda params: {k: jax.tree.map(lambda _: "prior" if k == "prior" else "rest",
                                                v) for k, v in params.items()}
        return optax.multi_transform({"rest": tx, "prior": optax.sgd(
            self.config.optim.prior_lr)}, label)

    # -- the objective ------------------------------------------------------------------------
    def encode(self, params, x):
        """Logits [..., L] of q(b | x) for images x [..., 784]."""
        if self.config.model.demean_input:
            x = x - self.x_mean
        return self.model.apply({"params": params["params"]}, x, method=BinaryVAE.encode)

    def log_terms(self, params, x, b):
        """(log p(x | b), log p(b)), each [k], for draws b [k, L] and one image x [784]."""
        z = 2.0 * b - 1.0 if self.config.model.demean_input else b
        log_px = bernoulli_log_prob(
            self.model.apply({"params": params["params"]}, z, method=BinaryVAE.decode), x[None])
        return log_px, jax.vmap(Bernoullis(params["prior"]).log_prob)(b)

    def example_objective(self, params, x, key, tau, est_state):
        """(surrogate, ELBO estimate, control loss) of one binary image x [784]."""
        logits = self.encode(params, x)
        q = Bernoullis(logits)
        fixed_q = Bernoullis(sg(logits))
        exact = self.config.kl == "exact"

        def f(b):  # [k, L] -> [k]
            log_px, log_pb = self.log_terms(params, x, b)
            if exact:
                return log_px
            return log_px + log_pb - jax.vmap(fixed_q.log_prob)(b)

        e = self.estimator(f, q, key=key, num_samples=self.config.num_samples,
                           state=est_state, temperature=tau, params=params["estimator"])
        kl = bernoulli_kl(logits, params["prior"]) if exact else 0.0
        return e.surrogate - kl, e.value - kl, e.control_loss

    def batch_objective(self, params, state, x, key, tau):
        """Mean surrogate [], per-example ELBO estimates [B], mean control loss [] over x."""
        keys = jax.random.split(key, x.shape[0])
        s, elbo, control = jax.vmap(self.example_objective, in_axes=(None, 0, 0, None, None))(
            params, x, keys, tau, state["estimator"])
        return jnp.mean(s), elbo, jnp.mean(control)

    def loss(self, params, state, batch, *, key, step, hparams):
        del step
        bin_key, key = jax.random.split(key)
        x = batch["x"]
        if self.binarization == "dynamic":
            x = jax.random.bernoulli(bin_key, x).astype(jnp.float32)
        surrogate, elbo, control = self.batch_objective(params, state, x, key, hparams["tau"])
        new_state = {"estimator": self.estimator.update(state["estimator"], elbo),
                     "tau": jnp.asarray(hparams["tau"], jnp.float32)}
        return -surrogate + control, ({"neg_elbo": -jnp.mean(elbo)}, new_state)

    def eval_images(self, params, state, *, key):
        """16 samples (b from the learned prior); 8 test digits above their reconstructions
        from the posterior's most likely b (Bernoulli means)."""
        def decode(b):  # [n, L] -> [n, 28, 28]
            z = 2.0 * b - 1.0 if self.config.model.demean_input else b
            return jax.nn.sigmoid(self.model.apply({"params": params["params"]}, z,
                                                   method=BinaryVAE.decode)).reshape(-1, 28, 28)

        shape = (16, self.config.model.num_latent)
        prior = jnp.broadcast_to(jax.nn.sigmoid(params["prior"]), shape)  # explicit rank
        b = jax.random.bernoulli(key, prior, shape).astype(jnp.float32)
        x = jnp.asarray(self.test_x[:8])
        mode = (jax.vmap(lambda xi: self.encode(params, xi))(x) > 0).astype(jnp.float32)
        return {"samples": decode(b), "reconstructions": jnp.concatenate(
            [x.reshape(-1, 28, 28), decode(mode)])}

    # -- evaluation (pure) --------------------------------------------------------------------
    def log_weights(self, params, x, key, k):
        """log p(x, b_i) - log q(b_i | x) for k draws b_i ~ q(. | x); [784] -> [k]."""
        q = Bernoullis(self.encode(params, x))
        b = q.sample(seed=key, sample_shape=(k,))
        log_px, log_pb = self.log_terms(params, x, b)
        return log_px + log_pb - jax.vmap(q.log_prob)(b)

    def _grad_var(self, params, state, x, key, tau):
        """Trace of the covariance of the encoder gradient over independent draws, and its
        squared mean, on the fixed batch x [B, 784]."""
        def encoder_grad(k):
            g = jax.grad(lambda p: self.batch_objective(p, state, x, k, tau)[0])(params)
            return g["params"]["encoder"]

        stats = diagnostics.estimator_stats(encoder_grad, key=key,
                                            num_repeats=self.config.eval.grad_draws)
        var = sum(jnp.sum(v) for v in jax.tree.leaves(stats.variance))
        sq_mean = sum(jnp.sum(m**2) for m in jax.tree.leaves(stats.mean))
        return var, sq_mean

    def _report(self, params, state, key, n, k):
        e = self.config.eval
        keys = jax.random.split(key, 4)
        lw = lambda xi, ki, kk: self.log_weights(params, xi, ki, kk)
        train_elbo, _ = importance_weighted_bounds(lw, jnp.asarray(self.train_eval_x), keys[0],
                                                   1, e.map_batch)
        test_elbo, _ = importance_weighted_bounds(lw, jnp.asarray(self.test_x[:n]), keys[1], 1,
                                                  e.map_batch)
        _, test_iw = importance_weighted_bounds(lw, jnp.asarray(self.test_x[:n]), keys[2], k,
                                                e.map_batch)
        var, sq_mean = self._grad_var(params, state, jnp.asarray(self.test_x[: e.grad_batch]),
                                      keys[3], state["tau"])
        return {"train_neg_elbo": -train_elbo, "test_neg_elbo": -test_elbo,
                f"test_neg_bound_k{k}": -test_iw, "grad_var_encoder": var,
                "grad_sqnorm_encoder": sq_mean}

    def evaluate(self, params, state, *, key):
        e = self.config.eval
        return self._report(params, state, key, e.num_examples, e.num_samples)

    def final_evaluate(self, params, state, *, key):
        e = self.config.eval
        return self._report(params, state, key, e.final_num_examples, e.final_num_samples)


# Beyond rgrad.config_checks.COMMON (checked by experiments.registry.check_config).
CONFIG_DOMAINS = BOUNDS


def check_config(config) -> None:
    """The estimator serves Bernoulli latents with ``config.num_samples`` draws."""
    check_estimator(config, kind="bernoulli")


def make_task(config, arrays=None) -> BinaryVAETask:
    return BinaryVAETask(config, arrays)
