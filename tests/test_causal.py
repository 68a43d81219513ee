"""Causal SCM: abduction recovers the noise, the fit recovers counterfactuals and the ATE."""

import jax.numpy as jnp
import numpy as np

from configs import causal as cfg
from configs.figures import causal_counterfactuals as fig_cfg
from experiments.figures import causal_counterfactuals
from experiments.tasks import causal
from rgrad import train


def test_counterfactual_with_true_parameters_is_exact():
    c = cfg.get_config("quick")
    d = causal.true_scm(c, 100, 3)
    g = jnp.asarray(c.scm.g)
    params = {"c": jnp.asarray(c.scm.c), "g": g}
    z, t, y = (jnp.asarray(d[k]) for k in ("z", "t", "y"))
    y_cf = causal.counterfactual(params, z, t, y, 1.0 - t)
    np.testing.assert_allclose(y_cf, np.where(d["t"] > 0, d["y0"], d["y1"]), atol=1e-5)


def test_fit_recovers_counterfactuals_and_ate(tmp_path):
    c = cfg.get_config()
    c.artifacts = False
    out = train.train_and_evaluate(c, tmp_path, task=causal.make_task(c), progress=False)
    m = out["members"][0]["metrics"]
    # ATE error: SE of the fitted effect ~0.03 on 4000 units (n0, n1 ~ 2000, noise 0.5 and 1).
    assert abs(m["ate_model"] - m["ate_true"]) < 0.15
    assert m["ate_naive"] - m["ate_true"] > 0.5  # confounding: the naive estimate is biased
    assert m["cf_rmse"] < 0.1 < 0.5 < m["cf_rmse_no_abduction"]
    assert abs(m["scale_treated"] / m["scale_untreated"] - 2.0) < 0.2


def test_figure_quick(tmp_path):
    res = causal_counterfactuals.make(fig_cfg.get_config("quick"), tmp_path)
    assert res.numbers["cf_rmse"] < res.numbers["cf_rmse_no_abduction"]
    assert (tmp_path / "causal_counterfactuals.png").exists()
