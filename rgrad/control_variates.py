r"""Control variates for the Monte Carlo gradient estimators in `rgrad.estimators`.

A control variate h(x; theta) with a closed-form expectation changes no gradient:

  grad E_p[f] = grad E_p[f - c h] + c grad E_p[h]
              = est[f] - c (est[h(.; stop theta)] + E_p[d_theta h]) + c grad E_p[h],

where `est` is any gradient estimator. `control_variates_jacobians` computes the
right-hand side per sample. A control variate is the triple of the old `optax.monte_carlo`
API, built from `f` by a factory such as `control_delta_method(f)`:

* `cv(params, x, state)` -> scalar value of h at one sample `x` `[D]`,
* `expected_cv(params, state)` -> scalar E_p[h], differentiable in `params`,
* `update_state(params, samples, state)` -> new state (`samples` `[N, D]`).
"""
from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp

from rgrad.estimators.baselines import (  # noqa: F401  (re-exported: the arithmetic lives there)
    MovingAverageState,
    leave_one_out_baseline,
    moving_average_init,
    moving_average_update,
    moving_average_value,
    stored_debiased_update,
)
from rgrad.estimators.jacobians import draw_samples
from rgrad.validation import check_args

ControlVariate = tuple[Callable, Callable, Callable]


def _is_optax_state(state) -> bool:
    """optax's `(value, count)` pair, as opposed to None or a `MovingAverageState`."""
    return (isinstance(state, (tuple, list)) and not isinstance(state, MovingAverageState)
            and len(state) == 2)


def moving_avg_baseline(
    function: Callable[[jax.Array], jax.Array], decay: float = 0.99, zero_debias: bool = True,
    use_decay_early_training_heuristic: bool = True,
) -> ControlVariate:
    """Baseline b = moving average of past mean values of f; constant in x and theta.

    Reduces the variance of the score-function estimator only (it has no effect on the
    pathwise and measure-valued ones). The early-training heuristic uses decay
    min(decay, (1 + i) / (10 + i)) at update i. The state form picks the arithmetic:

    * None to start, then a `MovingAverageState` (rgrad's): the average is debiased by
      1 - prod(decays) when read.
    * `(value, count)`, starting at `(0.0, 0)` (the old `optax.monte_carlo` form, for code
      written against it): `stored_debiased_update`, optax's numbers exactly, whose
      debiasing compounds (see there); `value` is read as is.
    """
    def iteration_decay(count):
        if not use_decay_early_training_heuristic:
            return decay
        i = jnp.asarray(count).astype(jnp.float32)
        return jnp.minimum(decay, (1.0 + i) / (10.0 + i))

    def value(state):
        if _is_optax_state(state):
            return jnp.asarray(state[0])
        return moving_average_value(state or moving_average_init(), zero_debias)

    def cv(params, x, state):
        del params, x
        return value(state)

    def expected_cv(params, state):
        del params
        return value(state)

    def update_state(params, samples, state):
        del params
        mean_f = jnp.mean(jax.vmap(function)(samples))
        if _is_optax_state(state):
            average, count = state
            return stored_debiased_update(average, count, mean_f, iteration_decay(count),
                                          zero_debias)
        state = state or moving_average_init()
        return moving_average_update(state, mean_f, iteration_decay(state.count))

    return cv, expected_cv, update_state


# ---------------------------------------------------------------------------- delta method


def control_delta_method(function: Callable[[jax.Array], jax.Array]) -> ControlVariate:
    """Second-order Taylor expansion of f at the mean of a diagonal Gaussian.

    h(x) = f(mu) + (x - mu) . grad f(mu) + (x - mu)^T H(mu) (x - mu) / 2 and
    E[h] = f(mu) + sum_i sigma_i^2 H_ii(mu) / 2 (the trace of H Sigma). Params must be
    `[mean, log_scale]`; exact (h = f) when f is quadratic. Stateless.
    """
    def cv(params, x, state):
        del state
        mean = params[0]
        dx = x - mean
        grad, hess = jax.grad(function)(mean), jax.hessian(function)(mean)
        return function(mean) + jnp.dot(dx, grad) + 0.5 * jnp.dot(dx, hess @ dx)

    def expected_cv(params, state):
        del state
        mean, log_scale = params
        hess_diag = jnp.diag(jax.hessian(function)(mean))
        return function(mean) + 0.5 * jnp.sum(jnp.exp(2.0 * log_scale) * hess_diag)

    def update_state(params, samples, state):
        del params, samples
        return state

    return cv, expected_cv, update_state


# ------------------------------------------------------------------------ jacobians with cv


def _jacobians_and_cv_terms(function, control_variate, grad_estimator, params, dist_builder,
                            rng, num_samples, state):
    """Per-sample Jacobians of f and the zero-mean cv terms, both lists of `[N, *p.shape]`."""
    cv, expected_cv, _ = control_variate
    params = list(params)
    f_jacs = grad_estimator(function, params, dist_builder, rng, num_samples)
    frozen = jax.lax.stop_gradient(params)
    h_jacs = grad_estimator(lambda x: cv(frozen, x, state), params, dist_builder, rng,
                            num_samples)
    samples = jax.lax.stop_gradient(draw_samples(params, dist_builder, rng, num_samples))
    partial_h = jax.vmap(lambda x: jax.grad(lambda p: cv(p, x, state))(params))(samples)
    expected_grad = jax.grad(lambda p: expected_cv(p, state))(params)
    terms = [hj + ph - eg[None] for hj, ph, eg in zip(h_jacs, partial_h, expected_grad,
                                                        strict=True)]
    return f_jacs, terms


def estimate_control_variate_coefficients(
    function, control_variate_from_function, grad_estimator, params, dist_builder, rng,
    num_samples, control_variate_state=None, eps: float = 1e-3,
) -> list[jax.Array]:
    """Variance-minimising coefficient per parameter, c = sum Cov(g, h) / (sum Var(h) + eps).

    g are the per-sample Jacobians of f and h the zero-mean control-variate terms; sums
    run over the parameter's elements. Use samples independent of the ones the coefficient
    multiplies (`control_variates_jacobians` does) so the estimator stays unbiased.
    """
    check_args(num_samples=num_samples, params=params)
    f_jacs, terms = _jacobians_and_cv_terms(
        function, control_variate_from_function(function), grad_estimator, params,
        dist_builder, rng, num_samples, control_variate_state)

    def coeff(g, h):
        cov = jnp.mean((g - g.mean(0, keepdims=True)) * (h - h.mean(0, keepdims=True)), axis=0)
        return jax.lax.stop_gradient(jnp.sum(cov) / (jnp.sum(jnp.var(h, axis=0)) + eps))

    return [coeff(g, h) for g, h in zip(f_jacs, terms, strict=True)]


def control_variates_jacobians(
    function: Callable[[jax.Array], jax.Array],
    control_variate_from_function: Callable[[Callable], ControlVariate],
    grad_estimator: Callable[..., list[jax.Array]],
    params: Sequence[jax.Array],
    dist_builder: Callable[..., Any],
    rng: jax.Array,
    num_samples: int,
    control_variate_state: Any = None,
    estimate_cv_coeffs: bool = False,
    estimate_cv_coeffs_num_samples: int = 20,
) -> tuple[list[jax.Array], Any]:
    """Per-sample Jacobians of grad E_p[f] with a control variate, as in old optax.

    Args:
        function: `f(x)`, one sample `[D]` to a scalar.
        control_variate_from_function: e.g. `control_delta_method` or
            `functools.partial(moving_avg_baseline, decay=0.9)`.
        grad_estimator: e.g. `rgrad.estimators.score_function_jacobians`.
        params, dist_builder, rng, num_samples: as for the estimators.
        control_variate_state: state of a stateful control variate (None to start).
        estimate_cv_coeffs: estimate the coefficient per parameter on
            `estimate_cv_coeffs_num_samples` independent samples; otherwise c = 1.

    Returns:
        (list of `[num_samples, *param.shape]` Jacobians, updated control-variate state).
        Unlike optax, the Jacobians use the state *before* this batch updates it, so the
        baseline never sees the samples it is applied to.
    """
    check_args(num_samples=num_samples, params=params)
    control_variate = control_variate_from_function(function)
    est_key, coeff_key = jax.random.split(rng)
    f_jacs, terms = _jacobians_and_cv_terms(function, control_variate, grad_estimator, params,
                                            dist_builder, est_key, num_samples,
                                            control_variate_state)
    if estimate_cv_coeffs:
        coeffs = estimate_control_variate_coefficients(
            function, control_variate_from_function, grad_estimator, params, dist_builder,
            coeff_key, estimate_cv_coeffs_num_samples, control_variate_state)
    else:
        coeffs = [1.0] * len(f_jacs)
    jacobians = [g - c * h for g, h, c in zip(f_jacs, terms, coeffs, strict=True)]
    samples = draw_samples(params, dist_builder, est_key, num_samples)
    new_state = control_variate[2](params, samples, control_variate_state)
    return jacobians, new_state
