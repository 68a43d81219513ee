"""The stochastic RNN (VRNN over MNIST rows) end to end on its quick config."""

import numpy as np
import pytest

from configs import srnn as srnn_config
from rgrad import train


@pytest.mark.slow  # ~30 s of CPU (compiling the scanned VRNN step and its evaluation)
def test_quick_config_end_to_end(tmp_path):
    c = srnn_config.get_config("quick")
    out = train.train_and_evaluate(c, tmp_path, progress=False)
    m = out["members"][0]["metrics"]
    # 200 steps take the bound well below an untrained model's ~543 nats (784 log 2).
    assert 100 < m["test_neg_elbo"] < 400
    assert m["test_nll_k20"] <= m["test_neg_elbo"] + 1e-3
    assert np.isfinite(m["test_nll_k20"])
    assert (tmp_path / "samples.png").stat().st_size > 1000
