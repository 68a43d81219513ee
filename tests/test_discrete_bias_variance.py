"""The discrete_bias_variance figure's claim, on its quick config: Gumbel-Softmax gradients
trade bias (growing with tau) for variance (falling with tau); the score function is unbiased."""

import importlib.util
import pathlib

import numpy as np

from experiments.figures import discrete_bias_variance as fig

CONFIG = pathlib.Path(__file__).resolve().parents[1] / "configs/figures/discrete_bias_variance.py"


def _quick_config():
    spec = importlib.util.spec_from_file_location("_cfg", CONFIG)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.get_config("quick")


def test_bias_grows_and_variance_falls_with_temperature(tmp_path):
    c = _quick_config()
    res = fig.make(c, tmp_path)
    n = res.numbers
    assert all(p.exists() for p in res.files)
    # Small tau: unbiased within 5 SE (the relaxation converges to the categorical).
    assert abs(n["gs_bias2_min_tau"]) < 5 * n["gs_bias2_min_tau_se"] + 1e-3 * n[
        "exact_grad_sqnorm"]
    # Large tau: the samples are ~uniform and the estimate shrinks like 1/tau, so the squared
    # bias approaches |grad|^2 (87% of it at tau = 10, measured).
    assert n["gs_bias2_max_tau"] > 0.5 * n["exact_grad_sqnorm"]
    assert n["gs_bias2_max_tau"] - n["gs_bias2_min_tau"] > 5 * n["gs_bias2_min_tau_se"]
    # Variance strictly falls along the grid, each step by far more than its standard error.
    cols = np.genfromtxt(res.files[1], delimiter=",", names=True)
    v, se = cols["gumbel_softmax_var"], cols["gumbel_softmax_var_se"]
    assert np.all(v[:-1] - v[1:] > 5 * np.hypot(se[:-1], se[1:]))
    assert n["gs_var_min_tau"] > 1e3 * n["gs_var_max_tau"]
    # The score function: unbiased and far noisier than Gumbel-Softmax at tau = 1.
    assert abs(n["sf_bias2"]) < 5 * n["sf_bias2_se"]
    assert n["sf_var"] > 100 * v[list(c.taus).index(1.0)]
