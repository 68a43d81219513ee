"""The Concrete-dropout classifier (quick config) end to end."""

import numpy as np

from configs import concrete_dropout as cd_config
from experiments.tasks import concrete_dropout as cd
from rgrad import data as rdata
from rgrad import train


def test_quick_config_end_to_end(tmp_path):
    test = rdata.load("mnist", "test")  # 10k digits: cheaper to read than the train set
    c = cd_config.get_config("quick")
    task = cd.make_task(c, arrays=(test.images[:2048], test.labels[:2048], test.images[5000:],
                                   test.labels[5000:]))
    out = train.train_and_evaluate(c, tmp_path, task=task, progress=False)
    m = out["members"][0]["metrics"]
    assert m["test_acc"] > 0.8 and m["test_acc_mc"] > 0.8  # chance is 0.1
    rates = [m["drop_rate0"], m["drop_rate1"]]
    # The rates moved from their initial 0.1 (they are trained) and stay probabilities.
    assert all(0.0 < r < 1.0 for r in rates) and max(abs(r - 0.1) for r in rates) > 1e-3
    assert np.isfinite(m["test_acc"])
