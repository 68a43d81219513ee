"""Quadratic-reward bandit: closed-form policy-gradient means and variances vs MC."""

import pathlib

from configs.figures import bandit_policy_gradient as fig_config
from experiments.figures import bandit_policy_gradient as fig


def test_figure_claims(tmp_path):
    res = fig.make(fig_config.get_config("quick"), tmp_path)
    n = res.numbers
    # Both estimators' MC means agree with the true gradient, and the MC variances with the
    # closed forms, within 5 standard errors (50k samples per point).
    assert n["max_abs_z_mean"] < 5
    assert n["max_abs_z_var"] < 5
    # The pathwise estimator has lower variance everywhere (ratio 1 + ... > 4 at d = 1).
    assert n["min_ratio_mu"] > 1 and n["min_ratio_sigma"] > 1
    assert all(pathlib.Path(f).stat().st_size > 100 for f in res.files)
