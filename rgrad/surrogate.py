r"""Surrogate losses whose `jax.grad` is a chosen gradient estimator.

In a training graph, reparameterize what can be (sample with a differentiable path, e.g.
`dist.sample(seed=k)` for a Gaussian) and score-function the rest (sample, then
`stop_gradient`, and add the site's `log_prob` to a surrogate). For a cost `f` that
depends on theta directly, through reparameterized samples, and through score-function
samples x ~ q(x; theta):

  score_function_surrogate(f, log q(x), b) has value f and gradient
  d f / d theta  (direct and pathwise terms)  +  (f - b) d log q(x) / d theta.

Its expectation over x is grad E[f] (unbiased) whenever the baseline b does not depend on
x (a constant, a moving average, a leave-one-out mean over the *other* samples, or a
learned function of anything but x). The baseline gets no gradient from the surrogate.
"""
import jax
import jax.numpy as jnp


def magic_box(x: jax.Array) -> jax.Array:
    """DiCE's magic box: exp(x - stop_gradient(x)). Value 1; grad of box(x) is grad x * box(x).

    Foerster et al., "DiCE: The Infinitely Differentiable Monte Carlo Estimator", 2018.
    """
    return jnp.exp(x - jax.lax.stop_gradient(x))


def score_function_surrogate(
    f_value: jax.Array, log_prob: jax.Array, baseline: jax.Array | float = 0.0,
) -> jax.Array:
    """Surrogate with value `f_value` and gradient grad f + (f - baseline) grad log_prob.

    Args:
        f_value: the cost, shape `[...]`; may depend on the parameters directly or through
            reparameterized samples (those pathwise terms are kept).
        log_prob: log density of the score-function samples (which must be
            `stop_gradient`-ed), same shape as `f_value`; sum over sites first.
        baseline: broadcastable to `f_value`; must not depend on the sample.

    Returns:
        Array shaped like `f_value`, equal to it in value.
    """
    f_value, log_prob = jnp.asarray(f_value), jnp.asarray(log_prob)
    if f_value.shape != log_prob.shape:
        raise ValueError(f"log_prob has shape {log_prob.shape} but f_value has shape "
                         f"{f_value.shape}; sum log_prob over the sample's event dims so it "
                         "has one value per f_value.")
    advantage = jax.lax.stop_gradient(f_value - baseline)
    # log_prob - stop_gradient(log_prob) is 0 in value, grad log_prob in gradient.
    return f_value + advantage * (log_prob - jax.lax.stop_gradient(log_prob))


def dice_surrogate(
    f_value: jax.Array, log_prob: jax.Array, baseline: jax.Array | float = 0.0,
) -> jax.Array:
    """DiCE form, magic_box(log_prob) * f + (1 - magic_box(log_prob)) * baseline.

    Same value and first gradient as `score_function_surrogate`; higher derivatives are
    the DiCE ones (they also differentiate the score term).
    """
    box = magic_box(log_prob)
    baseline = jax.lax.stop_gradient(baseline)
    return box * f_value + (1.0 - box) * baseline
