"""Variational inference for Bayesian networks of :mod:`rgrad.bayes_layers`: the shared task.

Every weight has a factorized Gaussian posterior q(w) = N(m, s^2) and the prior N(0,
prior_std^2); biases are point estimates. The loss is the negative ELBO per training example,

    -(1/B) sum_b log p(y_b | x_b, w) + KL(q || p) / N,

with the likelihood term estimated by ``config.mode`` (:data:`rgrad.bayes_layers.MODES`): the
local reparameterization trick, one weight sample per minibatch, or one per example. The
final report measures, at the trained parameters, the variance of the stochastic gradient of
the top layer's variational parameters under each of the three estimators (over random
minibatches and noise), and the test accuracy and ELBO. A subclass gives the network
(:meth:`BayesVITask.build_model`, its last layer named ``top``); the Bayesian MLP and CNN
experiments are two such subclasses.
"""

from __future__ import annotations

import abc

import flax.linen as nn
import jax
import jax.numpy as jnp

from rgrad import bayes_layers as bl
from rgrad import data as rdata
from rgrad import diagnostics
from rgrad.task import Task


def log_lik(logits, y):  # [B, 10], [B] -> [B]
    return jnp.take_along_axis(jax.nn.log_softmax(logits), y[:, None], axis=1)[:, 0]


class BayesVITask(Task):
    def __init__(self, config, arrays=None):
        """Load MNIST, or use ``arrays`` = (train_x, train_y, test_x, test_y)."""
        super().__init__(config)
        if config.mode not in bl.MODES:
            raise ValueError(f"config.mode={config.mode!r}; use one of {', '.join(bl.MODES)}.")
        self.train, self.test_x, self.test_y = rdata.labelled_splits(config, arrays)
        self.n_train = len(self.train["x"])
        self.models = {mode: self.build_model(mode) for mode in bl.MODES}
        self.model = self.models[config.mode]
        self._gvar_host = None  # the host helper's compiled program, made on first use

    @abc.abstractmethod
    def build_model(self, mode: str) -> nn.Module:
        """The network with ``mode``'s noise; every mode shares the same parameters."""

    def dataset(self):
        return self.train

    def init(self, key):
        return self.model.init({"params": key, "noise": key}, jnp.zeros((1, 784))), {}

    def neg_elbo(self, params, batch, key, mode):
        """Negative ELBO per training example, estimated on ``batch`` with ``mode``'s noise."""
        logits = self.models[mode].apply(params, batch["x"], rngs={"noise": key})
        ll = jnp.mean(log_lik(logits, batch["y"]))
        kl = bl.kl_to_prior(params, self.config.prior_std) / self.n_train
        return -(ll - kl), (ll, kl)

    def loss(self, params, state, batch, *, key, step, hparams):
        del step, hparams
        loss, (ll, kl) = self.neg_elbo(params, batch, key, self.config.mode)
        return loss, ({"log_lik": ll, "kl_per_example": kl}, state)

    # -- gradient variance ----------------------------------------------------------------------
    def grad_variance(self, params, key, mode: str, n: int) -> tuple[jax.Array, jax.Array]:
        """Mean over the top layer's parameters of Var[grad] over n (minibatch, noise) draws.

        Pure (:func:`rgrad.diagnostics.estimator_stats`). The draws run
        ``config.eval.map_batch`` at a time: the per-example mode holds a weight sample per
        example, too large to vmap n of them.
        """
        bs = self.config.batch_size
        x, y = jnp.asarray(self.train["x"]), jnp.asarray(self.train["y"])

        def one(k):
            k_data, k_noise = jax.random.split(k)
            idx = jax.random.choice(k_data, x.shape[0], (bs,), replace=False)
            g = jax.grad(lambda p: self.neg_elbo(p, {"x": x[idx], "y": y[idx]}, k_noise,
                                                 mode)[0])(params)
            top = g["params"]["top"]
            return top["kernel_mean"], top["kernel_log_std"]

        var_m, var_s = diagnostics.estimator_stats(
            one, key=key, num_repeats=n, batch_size=self.config.eval.map_batch).variance
        return jnp.mean(var_m), jnp.mean(var_s)

    def grad_variances(self, params, key, n: int) -> dict[str, tuple[float, float]]:
        """Host helper for tools and figures: {mode: (var of the top layer's mean gradient,
        var of its log-std gradient)} as floats; the loop uses :meth:`final_evaluate`."""
        if self._gvar_host is None:
            self._gvar_host = jax.jit(self.grad_variance, static_argnums=(2, 3))
        return {mode: tuple(float(v) for v in self._gvar_host(params, key, mode, n))
                for mode in bl.MODES}

    # -- evaluation -----------------------------------------------------------------------------
    def evaluate(self, params, state, *, key):
        del state
        x, y = jnp.asarray(self.test_x), jnp.asarray(self.test_y)
        acc_mean = jnp.mean(jnp.argmax(self.model.apply(params, x, True), -1) == y)
        keys = jax.random.split(key, self.config.eval.num_samples)
        logits = jax.lax.map(lambda k: self.models["local"].apply(params, x, rngs={"noise": k}),
                             keys)  # [S, M, 10]
        probs = jnp.mean(jax.nn.softmax(logits), 0)
        acc_pred = jnp.mean(jnp.argmax(probs, -1) == y)
        ll = jnp.mean(jax.vmap(log_lik, in_axes=(0, None))(logits, y))
        kl = bl.kl_to_prior(params, self.config.prior_std) / self.n_train
        mean_std = jnp.mean(jnp.exp(params["params"]["top"]["kernel_log_std"]))
        return {"test_acc_mean_weights": acc_mean, "test_acc_predictive": acc_pred,
                "test_elbo": ll - kl, "kl_per_example": kl, "top_mean_std": mean_std}

    def final_evaluate(self, params, state, *, key):
        out = self.evaluate(params, state, key=key)
        k = jax.random.fold_in(key, 1)
        for mode in bl.MODES:
            out[f"gradvar_top_mean_{mode}"], out[f"gradvar_top_logstd_{mode}"] = (
                self.grad_variance(params, k, mode, self.config.eval.grad_draws))
        return out
