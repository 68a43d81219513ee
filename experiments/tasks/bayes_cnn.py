"""Bayesian CNN on MNIST by variational inference: the convolutional case of Kingma et al. 2015.

Two :class:`rgrad.bayes_layers.BayesConv` layers (5x5, stride 2, ReLU) and a Bayesian dense
top layer, ``[B, 784] -> [B, 28, 28, 1] -> [B, 14, 14, C1] -> [B, 7, 7, C2] -> [B, 10]``.
Training, evaluation and the top-layer gradient variance under the three estimators (local
reparameterization, one weight sample per example, one per minibatch) are those of
:class:`rgrad.bayes_vi.BayesVITask`, as for the MLP; only the network differs. In the
convolutions, local reparameterization samples every output pixel independently (the variance
conv(x^2, s^2) is exact per pixel, the correlations between pixels that share a kernel are
dropped), so unlike the dense case it is not the per-example estimator in distribution.
"""

from __future__ import annotations

import flax.linen as nn

from rgrad import bayes_layers as bl
from rgrad.bayes_vi import BayesVITask
from rgrad.config_checks import integer


class BayesCNN(nn.Module):
    """``[B, 784] -> logits [B, 10]``; the last layer is named ``top`` like the MLP's."""

    channels: tuple[int, ...]
    mode: str = "local"
    init_log_std: float = -4.0

    @nn.compact
    def __call__(self, x, deterministic: bool = False):
        h = x.reshape(x.shape[0], 28, 28, 1)
        for i, c in enumerate(self.channels):
            h = nn.relu(bl.BayesConv(c, (5, 5), (2, 2), "SAME", self.mode, self.init_log_std,
                                     name=f"conv{i}")(h, deterministic))
        h = h.reshape(h.shape[0], -1)
        return bl.BayesDense(10, self.mode, self.init_log_std, name="top")(h, deterministic)


class BayesCNNTask(BayesVITask):
    def build_model(self, mode: str) -> nn.Module:
        m = self.config.model
        return BayesCNN(tuple(m.channels), mode, m.init_log_std)


# Beyond rgrad.config_checks.COMMON (checked by experiments.registry.check_config).
CONFIG_DOMAINS = {"eval.num_samples": integer(1).about("the evaluation's number of samples")}


def make_task(config, arrays=None) -> BayesCNNTask:
    return BayesCNNTask(config, arrays)
