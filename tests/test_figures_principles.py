"""The principles-document figures (configs/figures/principles_*.py), quick configs.

Each test runs the figure's `make` on its quick config (the same code path as
`python -m experiments.figures`) and asserts the claim on the numbers it returns.
"""

import importlib.util
import pathlib

import pytest

from experiments.figures.__main__ import make_figure

ROOT = pathlib.Path(__file__).resolve().parents[1]


def _make(name, tmp_path):
    res = make_figure(name, tmp_path, quick=True)
    for f in res.files:
        assert f.exists() and f.stat().st_size > 100, f
    return res.numbers


def test_principles_gradients(tmp_path):
    n = _make("principles_gradients", tmp_path)
    # 1: stop_gradient on the sample gives exactly zero; the reparameterized one is unbiased.
    assert n["a_max_abs_stop_gradient"] == 0.0
    assert n["a_max_z_reparam"] < 5.0
    # 2: inverse-transform pathwise gradients match closed forms (7 gradients, 4 families).
    assert n["b_num_gradients"] == 7
    assert n["b_max_z_inverse_transform"] < 5.0
    # 3: dL/dmu = dL/dz, dL/dsigma = dL/dz * eps, per sample, to float32 precision.
    assert n["c_max_abs_diff_mu"] < 1e-5
    assert n["c_max_abs_diff_sigma"] < 1e-5
    # 4: RMSE ~ N^-1/2 (each point's RMSE has ~5% relative error from 200 repeats).
    assert abs(n["d_slope_mu"] + 0.5) < 0.1
    assert abs(n["d_slope_log_sigma"] + 0.5) < 0.1


@pytest.mark.parametrize("name", ["principles_gradients"])
def test_config_has_quick_and_module(name):
    path = ROOT / "configs" / "figures" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    assert mod.get_config().module == mod.get_config("quick").module
    assert (ROOT / "experiments" / "figures" / f"{mod.get_config().module}.py").exists()
