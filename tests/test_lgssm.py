"""Kalman filter against the dense Gaussian likelihood; the LG-SSM learned by BPTT."""

import jax
import jax.numpy as jnp
import numpy as np

from configs import lgssm as lgssm_config
from experiments.tasks import lgssm
from rgrad import kalman, train


def test_kalman_log_likelihood_matches_dense_gaussian():
    a, b, s, r, t = 0.8, 0.5, 0.5, 0.4, 6
    _, x = kalman.sample(jax.random.key(0), 3, t, a, b, s, r)
    # x = M eps + mean + r eta with M[t, j] = s a^(t-j) (j <= t): x ~ N(mean, M M^T + r^2 I).
    idx = np.arange(t)
    m = np.where(idx[:, None] >= idx[None, :], s * a ** (idx[:, None] - idx[None, :]), 0.0)
    mean = b * np.cumsum(a ** idx)
    cov = m @ m.T + r * r * np.eye(t)
    for xi in np.asarray(x, np.float64):
        d = xi - mean
        dense = -0.5 * (t * np.log(2 * np.pi) + np.linalg.slogdet(cov)[1]
                        + d @ np.linalg.solve(cov, d))
        assert abs(float(kalman.log_likelihood(jnp.asarray(xi), a, b, s, r)) - dense) < 1e-4


def test_bptt_recovers_generating_parameters_and_closes_the_elbo_gap(tmp_path):
    c = lgssm_config.get_config("quick")
    task = lgssm.make_task(c)
    out = train.train_and_evaluate(c, tmp_path, task=task, progress=False)
    m = out["members"][0]["metrics"]
    se = task.fisher_stderr()  # asymptotic SE of the MLE from 16 x 50 points
    for n in lgssm.GLOBALS:
        assert abs(m[n] - c.truth[n]) < 5 * se[n], (n, m[n], se[n])
    # q contains the exact posterior: the ELBO reaches the Kalman log-likelihood (nats per
    # sequence of 50 steps; 0.78 after 500 steps, 0.06 after 1500).
    assert -0.05 < m["elbo_gap"] < 0.2
    assert m["exact_ll"] >= m["exact_ll_true_params"] - 0.1  # near the MLE, which beats truth
