"""Closed-form pathwise gradient variances of the two-layer linear-Gaussian hierarchy."""

import jax
import numpy as np

from configs.figures import hierarchy_variance as fig_config
from experiments.analytic import linear_hierarchy as lh
from experiments.figures import hierarchy_variance as fig


def test_closed_form_means_and_variances_match_monte_carlo():
    # m = a mu2 + c - k != 0 and a < 0, so that every term of every formula matters.
    p = {"mu2": 0.7, "s2": 0.8, "a": -1.5, "c": 0.3, "s1": 0.6}
    st = lh.mc_gradient_stats(p, 1.0, key=jax.random.key(0), num_samples=100_000)
    mean, var = lh.closed_form(p, 1.0)
    for n in lh.PARAMS:
        assert abs(float(st[n]["mean"]) - mean[n]) < 5 * float(st[n]["mean_se"]), n
        # The variance's SE is ~0.5% here: a wrong coefficient of any term is caught.
        assert abs(float(st[n]["var"]) - var[n]) < 5 * float(st[n]["var_se"]), n
        assert float(st[n]["var_se"]) < 0.02 * var[n]


def test_figure_quick(tmp_path):
    c = fig_config.get_config("quick")
    out = fig.make(c, tmp_path)
    nums = out.numbers
    assert nums["max_abs_z_var"] < 5 and nums["max_abs_z_mean"] < 5
    # At |a| = 1 the upper variance is 4 (s2^2 + s1^2): amplified 1 + (2 / 0.5)^2 = 17 times.
    assert np.isclose(nums["amplification_a1_max_s1_exact"], 17.0)
    assert abs(nums["amplification_a1_max_s1_mc"] - 17.0) < 0.5
    assert all(p.exists() for p in out.files)
