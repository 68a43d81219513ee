"""Bayesian CNN (quick config): the estimators' top-layer gradient variances, init and trained."""

import jax
import pytest

from configs import bayes_cnn as bayes_cnn_config
from experiments.tasks import bayes_cnn
from rgrad import train


@pytest.mark.slow  # ~2 min CPU: compiling the three gradient-variance programs of the CNN
def test_quick_cnn_gradient_variance_ordering_at_init_and_after_training(tmp_path):
    c = bayes_cnn_config.get_config("quick")
    task = bayes_cnn.make_task(c)
    out = train.train_and_evaluate(c, tmp_path, task=task, progress=False)
    m = out["members"][0]["metrics"]
    assert m["test_acc_mean_weights"] > 0.3  # 40 steps on 2000 digits; chance is 0.1
    init = task.grad_variances(task.init(jax.random.key(0))[0], jax.random.key(1),
                               c.eval.grad_draws)
    trained = {k: (m[f"gradvar_top_mean_{k}"], m[f"gradvar_top_logstd_{k}"])
               for k in ("local", "per_example", "shared")}
    # 64 (minibatch, noise) draws: each mean variance has a relative SE below ~20%. Measured at
    # init: log-std gradient 1.4e-7 (local) < 4.0e-6 (per example) < 1.8e-5 (shared); mean
    # gradient 2.1e-4 = 2.1e-4 < 9.3e-4.
    for v in (init, trained):
        assert 3 * v["local"][1] < v["per_example"][1] < v["shared"][1] / 1.5, v
        assert 0.7 < v["local"][0] / v["per_example"][0] < 1.4, v
        assert v["shared"][0] > 1.5 * v["local"][0], v
