"""Bayesian MLP on MNIST by variational inference (Kingma, Salimans & Welling 2015, Table 1).

Every weight has a factorized Gaussian posterior q(w) = N(m, s^2) and the prior N(0,
prior_std^2); biases are point estimates. The loss is the negative ELBO per training example,

    -(1/B) sum_b log p(y_b | x_b, w) + KL(q || p) / N,

with the likelihood term estimated by ``config.mode`` (:mod:`rgrad.bayes_layers`): the local
reparameterization trick, one weight sample per minibatch, or one per example (the shared
task, :class:`rgrad.bayes_vi.BayesVITask`). The final report
measures, at the trained parameters, the variance of the stochastic gradient of the top
layer's variational parameters under each of the three estimators (over random minibatches and
noise), and the test accuracy and ELBO.
"""

from __future__ import annotations

import flax.linen as nn

from rgrad import bayes_layers as bl
from rgrad.bayes_vi import BayesVITask
from rgrad.config_checks import integer


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


class BayesMLPTask(BayesVITask):
    """Training, evaluation and the gradient variances: :class:`rgrad.bayes_vi.BayesVITask`."""

    def build_model(self, mode: str) -> nn.Module:
        m = self.config.model
        return BayesMLP(tuple(m.hidden), mode, m.init_log_std)


# Beyond rgrad.config_checks.COMMON (checked by experiments.registry.check_config).
CONFIG_DOMAINS = {"eval.num_samples": integer(1).about("the evaluation's number of samples")}


def make_task(config, arrays=None) -> BayesMLPTask:
    return BayesMLPTask(config, arrays)
