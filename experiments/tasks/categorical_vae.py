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
  (f - b) grad log q(z|x) with b a (debiased) moving average of f
  (``baseline='moving_average'``) or the leave-one-out mean over ``num_samples`` draws per
  example (``baseline='rloo'``).
* any other registered estimator whose ``kinds`` include "categorical" and whose
  ``objectives`` include "mean" (``rgrad.estimators.from_config(config, kind=...)``; no list of
  names here).

The estimator is chosen once (:func:`rgrad.estimators.from_config`); its state is
``state["estimator"]``, next to the current temperature ``state["tau"]``. Its trainable
parameters (learned control variates) are ``params["estimator"]``, trained by the mean of
``Estimate.control_loss`` over the batch, added to the loss (0 for estimators without any).

The temperature tau is a vmappable hyperparameter (``Task.hparams``: the initial value) with
``tau_schedule='constant'`` or ``'anneal'``: tau_t = max(tau_min, tau * exp(-r * N floor(t/N)))
(the paper's schedule, r = ``anneal_rate``, N = ``anneal_every``).

Evaluation: the test negative ELBO of the *discrete* model (hard samples, whatever trained it),
the relaxed objective at the current tau, and the variance of the encoder gradient: the trace of
its covariance over ``eval.grad_draws`` independent draws of the training estimator on a fixed
batch of test digits (``rgrad.diagnostics.estimator_stats``).
"""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from rgrad import data as rdata
from rgrad import diagnostics, estimators
from rgrad.config_checks import BOUNDS, check_estimator
from rgrad.nn import MLP, bernoulli_log_prob, categorical_kl_to_uniform
from rgrad.task import Task
from rgrad.vae import IMAGE, OneHotCategoricals, importance_weighted_bounds

kl_to_uniform = categorical_kl_to_uniform  # [L, K] logits -> scalar


class CategoricalVAE(nn.Module):
    enc_hidden: tuple[int, ...]
    dec_hidden: tuple[int, ...]
    num_latent: int
    num_classes: int
    activation: str

    def setup(self):
        self.encoder = MLP(self.enc_hidden, self.num_latent * self.num_classes, self.activation)
        self.decoder = MLP(self.dec_hidden, IMAGE, self.activation)

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


class CategoricalVAETask(Task):
    """The task contract for the categorical VAE (see module docstring)."""

    def __init__(self, config, arrays: tuple[np.ndarray, np.ndarray] | None = None):
        """Load static binarized MNIST, or use ``arrays`` = (train [N, 784], test [M, 784])."""
        super().__init__(config)
        if config.tau_schedule not in ("constant", "anneal"):
            raise ValueError(f"config.tau_schedule={config.tau_schedule!r}; use constant or "
                             "anneal.")
        # The debiased moving average, as this experiment always used.
        self.estimator = estimators.from_config(config, kind="categorical", zero_debias=True)
        self.estimator.check(num_samples=config.num_samples)
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

    def dataset(self):
        return {"x": self.train_x}

    def init(self, key):
        m = self.config.model
        zeros = jnp.zeros((m.num_latent, m.num_classes))
        params = self.model.init(key, jnp.zeros((IMAGE,)), zeros)
        # A key of its own, so that the model's initialisation is what it always was.
        params["estimator"] = self.estimator.init_params(jax.random.fold_in(key, 1),
                                                         OneHotCategoricals(zeros))
        return params, {"tau": jnp.asarray(self.config.tau, jnp.float32),
                        "estimator": self.estimator.init()}

    def hparams(self):
        return {"tau": float(self.config.tau)}

    # -- the objective ------------------------------------------------------------------------
    def example_objective(self, params, x, key, tau, est_state):
        """(surrogate, ELBO estimate, reconstruction term, control loss) of one example x [784].

        The KL to the uniform prior is exact; only E_q[log p(x | z)] goes through the
        estimator (relaxed samples at ``tau``, or hard ones and the score function).
        """
        model = {"params": params["params"]}  # the estimator's parameters are not the model's
        logits = self.model.apply(model, x, method=CategoricalVAE.encode)  # [L, K]
        kl = kl_to_uniform(logits)

        def log_px(z):  # [k, L, K] -> [k]
            return bernoulli_log_prob(self.model.apply(model, z, method=CategoricalVAE.decode),
                                      x[None])

        e = self.estimator(log_px, OneHotCategoricals(logits), key=key,
                           num_samples=self.config.num_samples, state=est_state,
                           temperature=tau, params=params["estimator"])
        return e.surrogate - kl, e.value - kl, e.value, e.control_loss

    def batch_objective(self, params, state, x, key, tau):
        """Mean surrogate [], ELBO [], per-example reconstruction terms [B] and mean control
        loss [] over x [B, 784]."""
        keys = jax.random.split(key, x.shape[0])
        s, elbo, f, control = jax.vmap(self.example_objective,
                                       in_axes=(None, 0, 0, None, None))(
            params, x, keys, tau, state["estimator"])
        return jnp.mean(s), jnp.mean(elbo), f, jnp.mean(control)

    def loss(self, params, state, batch, *, key, step, hparams):
        tau = temperature(self.config, step, hparams["tau"])
        surrogate, elbo, f, control = self.batch_objective(params, state, batch["x"], key, tau)
        new_state = {"tau": jnp.asarray(tau, jnp.float32),
                     "estimator": self.estimator.update(state["estimator"], f)}
        return -surrogate + control, ({"neg_elbo": -elbo, "tau": tau}, new_state)

    def eval_images(self, params, state, *, key):
        """16 samples (uniform prior categories); 8 test digits above their reconstructions
        from the posterior's most likely categories (Bernoulli means)."""
        m, model = self.config.model, {"params": params["params"]}
        z = jax.nn.one_hot(jax.random.randint(key, (16, m.num_latent), 0, m.num_classes),
                           m.num_classes)
        x = jnp.asarray(self.test_x[:8])
        mode = jax.nn.one_hot(jnp.argmax(jax.vmap(lambda xi: self.model.apply(
            model, xi, method=CategoricalVAE.encode))(x), -1), m.num_classes)
        decode = lambda z: jax.nn.sigmoid(self.model.apply(model, z,
                                                           method=CategoricalVAE.decode))
        return {"samples": decode(z).reshape(16, 28, 28),
                "reconstructions": jnp.concatenate([x, decode(mode)]).reshape(16, 28, 28)}

    # -- evaluation (pure) --------------------------------------------------------------------
    def _bounds(self, params, x, key, k):
        """Mean discrete (hard-sample) ELBO over x [N, 784] with k samples per example."""
        keys = jax.random.split(key, x.shape[0])

        def one(args):
            xi, ki = args
            model = {"params": params["params"]}
            logits = self.model.apply(model, xi, method=CategoricalVAE.encode)
            z = OneHotCategoricals(logits).sample(seed=ki, sample_shape=(k,))
            log_px = bernoulli_log_prob(
                self.model.apply(model, z, method=CategoricalVAE.decode), xi[None])
            return jnp.mean(log_px) - kl_to_uniform(logits)

        return jnp.mean(jax.lax.map(one, (x, keys), batch_size=self.config.eval.map_batch))

    def log_weights(self, params, x, key, k):
        """log p(x, z_i) - log q(z_i | x) for k one-hot draws z_i ~ q(. | x), uniform p(z);
        [784] -> [k]."""
        model, m = {"params": params["params"]}, self.config.model
        q = OneHotCategoricals(self.model.apply(model, x, method=CategoricalVAE.encode))
        z = q.sample(seed=key, sample_shape=(k,))
        log_px = bernoulli_log_prob(self.model.apply(model, z, method=CategoricalVAE.decode),
                                    x[None])
        return log_px - m.num_latent * jnp.log(m.num_classes) - jax.vmap(q.log_prob)(z)

    def _grad_var(self, params, state, x, key):
        """Trace of the covariance of the encoder gradient over independent draws, its squared
        mean, and the relaxed objective, on the fixed batch x at the state's temperature."""
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

    def _report(self, params, state, key, n, k):
        b_key, g_key = jax.random.split(key)
        elbo = self._bounds(params, jnp.asarray(self.test_x[:n]), b_key, k)
        var, sq_mean, relaxed = self._grad_var(
            params, state, jnp.asarray(self.test_x[: self.config.eval.grad_batch]), g_key)
        return {"test_neg_elbo": -elbo, "grad_var_encoder": var,
                "grad_sqnorm_encoder": sq_mean, "neg_elbo_train_objective": -relaxed,
                "tau": state["tau"]}

    def evaluate(self, params, state, *, key):
        e = self.config.eval
        return self._report(params, state, key, e.num_examples, e.num_samples)

    def final_evaluate(self, params, state, *, key):
        """The report on ``final_num_examples`` test digits, plus the k-sample importance-
        weighted bound (k = ``eval.final_bound_samples``; 0: none), the "multi-sample bound,
        m = 1000" that Jang et al. (2017) Table 1 reports, tighter than the ELBO."""
        e = self.config.eval
        key, b_key = jax.random.split(key)
        out = self._report(params, state, key, e.final_num_examples, e.final_num_samples)
        if e.get("final_bound_samples", 0):
            x = jnp.asarray(self.test_x[: e.final_num_examples])
            lw = lambda xi, ki, k: self.log_weights(params, xi, ki, k)  # noqa: E731
            # k = 1000 decodes per digit, 100x the ELBO's 10: a tenth of its digits per map
            # step keeps the evaluation's memory within 10x of the ELBO's.
            _, iw = importance_weighted_bounds(lw, x, b_key, e.final_bound_samples,
                                               max(1, e.map_batch // 10))
            out[f"test_neg_bound_k{e.final_bound_samples}"] = -iw
        return out


# Beyond rgrad.config_checks.COMMON (checked by experiments.registry.check_config).
CONFIG_DOMAINS = BOUNDS


def check_config(config) -> None:
    """The estimator serves categorical latents with ``config.num_samples`` draws."""
    check_estimator(config, kind="categorical")


def make_task(config, arrays=None) -> CategoricalVAETask:
    return CategoricalVAETask(config, arrays)
