"""The calibration figure's claims, on its quick config (same code path as the figure)."""

import numpy as np

from experiments.figures import __main__ as figures


def test_squared_error_collapses_sigma_likelihood_and_elbo_calibrate(tmp_path):
    n = figures.make_figure("calibration", tmp_path, quick=True).numbers
    # Expected squared error: sigma collapses (measured 1.7% of the true noise after 1500
    # steps) and the 90% interval covers almost nothing.
    assert n["expected_sq_error_sigma_ratio_median"] < 0.1
    assert n["expected_sq_error_coverage90"] < 0.2
    # Gaussian likelihood: sigma(x) tracks s(x) and the intervals are calibrated. The SE of a
    # coverage on 4000 points is <= 0.008; the tolerance adds the model's own error.
    assert 0.9 < n["gaussian_nll_sigma_ratio_median"] < 1.1
    assert abs(n["gaussian_nll_coverage90"] - 0.9) < 0.03
    assert n["gaussian_nll_max_calibration_error"] < 0.04
    # The Bayesian network trained on the ELBO with its KL term: measured predictive std / s(x)
    # 1.02, coverage of the 90% interval 0.901, every level within 2.6 binomial SE.
    se90 = np.sqrt(0.9 * 0.1 / 4000)
    assert 0.9 < n["bnn_elbo_sigma_ratio_median"] < 1.1
    assert abs(n["bnn_elbo_coverage90"] - 0.9) < 5 * se90
    assert n["bnn_elbo_max_calibration_z"] < 5
    # Both fit the mean alike (the best RMSE is the noise's root mean square, 0.33).
    assert abs(n["expected_sq_error_rmse"] - n["gaussian_nll_rmse"]) < 0.02
    assert abs(n["bnn_elbo_rmse"] - n["gaussian_nll_rmse"]) < 0.02
    assert (tmp_path / "calibration" / "calibration.png").stat().st_size > 1000


def test_calibration_task_rejects_an_unknown_loss():
    import pytest

    from experiments import registry, run

    with pytest.raises(ValueError, match="config.loss='mse'; use one of"):
        registry.make_task(run.resolve("configs/calibration.py:quick", {"loss": "mse"}))
