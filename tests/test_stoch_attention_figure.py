"""The stochastic-attention figure: its helpers (cheap) and its claims on the quick config."""

import jax
import numpy as np
import pytest

from configs import stoch_attention as sa_config
from experiments.figures import __main__ as figures
from experiments.figures import stoch_attention as fig
from experiments.tasks import stoch_attention as sa


@pytest.mark.slow  # ~8 s CPU, over the default suite's budget; the figure test below covers it
def test_attention_draws_lie_on_the_simplex_around_softmax_mu():
    c = sa_config.get_config("quick")
    task = sa.make_task(c, arrays=(np.zeros((4, 784)), np.zeros(4, int),
                                   np.asarray(jax.random.uniform(jax.random.key(0), (3, 784))),
                                   np.zeros(3, int)))
    params, _ = task.init(jax.random.key(1))
    w_mean, w = fig.attention_draws(task, params, task.test_x, jax.random.key(2), 2000)
    assert w_mean.shape == (3, sa.T) and w.shape == (2000, 3, sa.T)
    np.testing.assert_allclose(w.sum(-1), 1.0, rtol=1e-5)
    # The draws' log-ratios log(w_t / w_0) average to mu_t - mu_0 = log of softmax(mu)'s ratio
    # (within 5 SE), so softmax(mu) is the attention map the draws scatter around.
    r = np.log(w[..., 1:]) - np.log(w[..., :1])
    se = r.std(0) / np.sqrt(r.shape[0])
    want = np.log(w_mean[:, 1:]) - np.log(w_mean[:, :1])
    assert np.all(np.abs(r.mean(0) - want) < 5 * se)
    assert fig.entropy(np.full(sa.T, 1 / sa.T)) == pytest.approx(np.log(sa.T), rel=1e-5)


@pytest.mark.slow  # trains the two quick runs (~35 s CPU)
def test_stochastic_attention_figure_claims(tmp_path):
    n = figures.make_figure("stoch_attention", tmp_path, quick=True).numbers
    # The ELBO's KL to N(0, 3^2 I) pulls the attention towards uniform: measured entropy 3.32
    # (max log 28 = 3.33) against 2.10 for deterministic attention after 300 steps.
    assert n["stochastic_kl1_entropy"] > n["deterministic_entropy"] + 0.5
    assert n["stochastic_kl1_entropy"] > 0.9 * np.log(sa.T)
    # ... and costs accuracy after a short training (measured 0.40 vs 0.58 on 1000 digits,
    # binomial SE <= 0.016).
    assert n["deterministic_test_acc"] > n["stochastic_kl1_test_acc"] + 0.08
    assert n["stochastic_kl1_test_acc_predictive"] > 0.25
    # The draws are attention maps (on the simplex) spread around softmax(mu): measured relative
    # std over eps 0.49.
    assert n["stochastic_kl1_max_simplex_error"] < 1e-5
    assert n["stochastic_kl1_relative_spread"] > 0.2
    assert (tmp_path / "stoch_attention" / "stoch_attention.png").stat().st_size > 1000
