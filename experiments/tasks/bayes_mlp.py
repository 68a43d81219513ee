"""Bayesian MLP on MNIST by variational inference (Kingma, Salimans & Welling 2015, Table 1).

Every weight has a factorized Gaussian posterior q(w) = N(m, s^2) and the prior N(0,
prior_std^2); biases are point estimates. The loss is the negative ELBO per training example,

    -(1/B) sum_b log p(y_b | x_b, w) + KL(q || p) / N,

with the likelihood term estimated by ``config.mode`` (:mod:`rgrad.bayes_layers`): the local
reparameterization trick, one weight sample per minibatch, or one per example. The final report
measures, at the trained parameters, the variance of the stochastic gradient of the top
layer's variational parameters under each of the three estimators (over random minibatches and
noise), and the test accuracy and ELBO.
"""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp

from rgrad import bayes_layers as bl
from rgrad import data as rdata
from rgrad.task import Task


class BayesMLP(nn.Module):
    """ReLU MLP of Bayesian dense layers; ``[B, 784] -> logits [B, 10]``."""

    hidden: tuple[int, ...]
    mode: str = "local"
    init_log_std: float = -4.0

    @nn.compact
    def __call__(self, x, deterministic: bool = False):
        for i, h in enumerate(self.hidden):
            x = nn.relu(bl.BayesDense(h, self.mode, self.init_log_std, name=f"layer{i}")(
                x, deterministic))
        return bl.BayesDense(10, self.mode, self.init_log_std, name="top")(x, deterministic)


def log_lik(logits, y):  # [B, 10], [B] -> [B]
    return jnp.take_along_axis(jax.nn.log_softmax(logits), y[:, None], axis=1)[:, 0]


class BayesMLPTask(Task):
    def __init__(self, config, arrays=None):
        """Load MNIST, or use ``arrays`` = (train_x, train_y, test_x, test_y)."""
        super().__init__(config)
        self.train, self.test_x, self.test_y = rdata.labelled_splits(config, arrays)
        self.n_train = len(self.train["x"])
        self.models = {mode: self.build_model(mode) for mode in bl.MODES}
        self.model = self.models[config.mode]
        self._eval_jit = jax.jit(self._eval)
        self._gvar_jit = jax.jit(self._grad_variance, static_argnums=(2, 3))

    def build_model(self, mode: str) -> nn.Module:
        """The network with ``mode``'s noise; every mode shares the same parameters."""
        m = self.config.model
        return BayesMLP(tuple(m.hidden), mode, m.init_log_std)

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
    def _grad_variance(self, params, key, mode, n):
        """Mean over the top layer's parameters of Var[grad] over n (minibatch, noise) draws."""
        bs = self.config.batch_size
        x, y = jnp.asarray(self.train["x"]), jnp.asarray(self.train["y"])

        def one(k):
            k_data, k_noise = jax.random.split(k)
            idx = jax.random.choice(k_data, x.shape[0], (bs,), replace=False)
            g = jax.grad(lambda p: self.neg_elbo(p, {"x": x[idx], "y": y[idx]}, k_noise,
                                                 mode)[0])(params)
            top = g["params"]["top"]
            return top["kernel_mean"], top["kernel_log_std"]

        gm, gs = jax.lax.map(one, jax.random.split(key, n), batch_size=self.config.eval.map_batch)
        return jnp.mean(jnp.var(gm, 0, ddof=1)), jnp.mean(jnp.var(gs, 0, ddof=1))

    def grad_variances(self, params, key, n):
        """{mode: (var of the top layer's mean gradient, var of its log-std gradient)}."""
        return {mode: tuple(float(v) for v in self._gvar_jit(params, key, mode, n))
                for mode in bl.MODES}

    # -- evaluation -----------------------------------------------------------------------------
    def _eval(self, params, key):
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

    def evaluate(self, params, state, *, key):
        return {k: float(v) for k, v in self._eval_jit(params, key).items()}

    def final_evaluate(self, params, state, *, key):
        out = self.evaluate(params, state, key=key)
        gv = self.grad_variances(params, jax.random.fold_in(key, 1), self.config.eval.grad_draws)
        for mode, (vm, vs) in gv.items():
            out[f"gradvar_top_mean_{mode}"] = vm
            out[f"gradvar_top_logstd_{mode}"] = vs
        return out


def make_task(config, arrays=None) -> BayesMLPTask:
    if config.mode not in bl.MODES:
        raise ValueError(f"config.mode={config.mode!r}; use one of {', '.join(bl.MODES)}.")
    return BayesMLPTask(config, arrays)
