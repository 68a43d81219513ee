"""Bayesian MLP (quick config) end to end; the estimators' gradient-variance ordering."""

import pytest

from configs import bayes_mlp as bayes_mlp_config
from experiments import registry
from rgrad import train


@pytest.mark.slow  # ~80 s CPU: compiling the three gradient-variance programs dominates
def test_quick_config_end_to_end_and_gradient_variance_ordering(tmp_path):
    c = bayes_mlp_config.get_config("quick")
    out = train.train_and_evaluate(c, tmp_path, task=registry.make_task(c), progress=False)
    m = out["members"][0]["metrics"]
    assert m["test_acc_mean_weights"] > 0.35  # 40 steps on 2000 digits; chance is 0.1
    assert m["test_elbo"] < 0.0
    # Kingma et al. (2015) Table 1: local reparameterization < a weight sample per example <
    # one per minibatch. Over 64 (minibatch, noise) draws the log-std gradient's variances are
    # 4.6x and 2.1x apart after 40 steps (10x and 3.6x at initialisation); each variance
    # estimate has a relative SE below 20%.
    v = {k: m[f"gradvar_top_logstd_{k}"] for k in ("local", "per_example", "shared")}
    assert 3 * v["local"] < v["per_example"] < v["shared"] / 1.5, v
    # The mean's gradient, dL/db_j x_i, sees the same pre-activation distribution under local
    # reparameterization and per-example weights (equal variances); a shared sample is ~2x worse.
    w = {k: m[f"gradvar_top_mean_{k}"] for k in ("local", "per_example", "shared")}
    assert 0.7 < w["local"] / w["per_example"] < 1.4, w
    assert w["shared"] > 1.4 * w["local"], w
