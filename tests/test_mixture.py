"""The hybrid-gradient mixture fit: quick config end to end, and both estimators unbiased for
the same gradient with the hybrid one far less noisy for the means and scales."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from configs import mixture as mixture_config
from experiments import registry
from experiments.tasks import mixture
from rgrad import train


def test_quick_config_end_to_end(tmp_path):
    c = mixture_config.get_config("quick")
    out = train.train_and_evaluate(c, tmp_path, task=registry.make_task(c), progress=False)
    m = out["members"][0]["metrics"]
    assert m["max_err_weights"] < 0.15  # 300 steps: weights roughly right, means still moving
    assert m["grad_var_score_function_means"] > 5 * m["grad_var_hybrid_means"]
    assert m["grad_var_score_function_log_scales"] > 5 * m["grad_var_hybrid_log_scales"]


def test_matching_is_the_assignment_optimum():
    ref = jnp.array([[0.0, 0.0], [5.0, 0.0], [0.0, 5.0]])
    fit = ref[jnp.array([2, 0, 1])] + 0.1
    np.testing.assert_array_equal(mixture.match_components(fit, ref), [2, 0, 1])


def test_unknown_estimator_fails_in_one_line():
    c = mixture_config.get_config("quick")
    c.estimator = "pathwise"
    with pytest.raises(ValueError, match="estimator='pathwise'"):
        mixture.make_task(c)


@pytest.mark.slow  # compile-bound (~15 s CPU)
def test_hybrid_and_score_function_estimate_the_same_gradient():
    c = mixture_config.get_config("quick")
    c.num_pairs = 8
    task = mixture.make_task(c)
    params, _ = task.init(jax.random.key(0))
    x = jnp.asarray(task.x[:100])
    keys = jax.random.split(jax.random.key(1), 4000)

    def grads(est):
        g = jax.jit(jax.vmap(lambda k: jax.grad(
            lambda p: task.objective(p, x, k, task.compared[est])[0])(params)))(keys)
        return np.concatenate([np.asarray(v).reshape(len(keys), -1) for v in g.values()], 1)

    hy, sf = grads("hybrid"), grads("score_function")
    se = np.sqrt(hy.var(0, ddof=1) / len(hy) + sf.var(0, ddof=1) / len(sf))
    np.testing.assert_array_less(np.abs(hy.mean(0) - sf.mean(0)), 5 * se + 1e-7)
