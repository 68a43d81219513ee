"""The Estimator objects: unbiased against closed forms and exact enumeration (|mean - truth| <
5 SE over independent repeats), the registry's choices and errors, and a deliberately wrong
baseline that the same check catches."""

import itertools

import distrax
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from rgrad import diagnostics as dg
from rgrad import estimators as est

LOC = jnp.array([0.5, -1.0, 0.3])
LOG_SCALE = jnp.log(jnp.array([0.8, 1.2, 0.5]))
K_TARGET = jnp.array([0.3, 0.5, -0.2])
REPEATS = 4000


def gaussian(loc, log_scale):
    return distrax.Independent(distrax.Normal(loc, jnp.exp(log_scale)), 1)


def quadratic(z):  # [K, 3] -> [K]
    return jnp.sum((z - K_TARGET[None]) ** 2, axis=-1)


def repeated_grads(estimator, grad_of, num_samples, repeats=REPEATS):
    """[repeats, P] gradients of the surrogate, one independent key each."""
    def one(key):
        return grad_of(lambda *p, key=key: estimator_surrogate(estimator, p, key, num_samples))
    return jax.jit(jax.vmap(one))(jax.random.split(jax.random.key(0), repeats))


def estimator_surrogate(estimator, params, key, num_samples):
    return estimator(quadratic, gaussian(*params), key=key, num_samples=num_samples,
                     state=estimator.init()).surrogate


def assert_within_5se(draws, truth):
    draws, truth = np.asarray(draws), np.asarray(truth)
    mean, se = draws.mean(0), draws.std(0, ddof=1) / np.sqrt(len(draws))
    assert np.all(np.abs(mean - truth) < 5 * se + 1e-5 * (1 + np.abs(truth))), (mean, truth, se)


def gaussian_grads(estimator, num_samples):
    def grad_of(fn):
        g = jax.grad(fn, argnums=(0, 1))(LOC, LOG_SCALE)
        return jnp.concatenate(g)
    return repeated_grads(estimator, grad_of, num_samples)


@pytest.mark.parametrize("name,baseline,k", [
    ("pathwise", "none", 1), ("score_function", "none", 1), ("score_function", "rloo", 4),
    ("measure_valued", "none", 1)])
def test_gaussian_estimators_are_unbiased(name, baseline, k):
    ref = dg.quadratic_reference(K_TARGET, LOC, jnp.exp(LOG_SCALE))
    draws = gaussian_grads(est.make(name, baseline=baseline), k)
    assert draws.shape == (REPEATS, 6)
    assert_within_5se(draws, jnp.concatenate([ref.d_mean, ref.d_log_scale]))


class _OwnSampleBaseline(est.Baseline):
    """Wrong on purpose: the mean over all K draws includes the draw it is subtracted from."""

    def value(self, state, f_values):
        return jnp.mean(f_values)


def test_a_baseline_that_sees_its_own_sample_fails_the_check():
    ref = dg.quadratic_reference(K_TARGET, LOC, jnp.exp(LOG_SCALE))
    truth = jnp.concatenate([ref.d_mean, ref.d_log_scale])
    draws = gaussian_grads(est.ScoreFunction(_OwnSampleBaseline()), 2)  # biased by (K-1)/K
    with pytest.raises(AssertionError):
        assert_within_5se(draws, truth)


def test_rloo_variance_is_lower_than_no_baseline():
    v = [np.var(gaussian_grads(est.make("score_function", baseline=b), 4), 0).sum()
         for b in ("none", "rloo")]
    assert v[1] < 0.7 * v[0], v  # measured 0.56; the variances carry ~2% relative SE at 4000


# ---------------------------------------------------------------- discrete, by enumeration
LOGITS = jnp.array([[0.2, -0.5, 1.0], [0.0, 0.7, -0.3]])  # two categoricals, 3 classes
W = jnp.array([[1.0, -2.0, 0.5], [0.3, 1.5, -1.0]])


def coupled(z):  # [K, 2, 3] one-hot -> [K]: a non-linear function of both variables
    s = jnp.sum(z * W[None], axis=(-2, -1))
    return jnp.sin(s) + s**2


def exact_categorical_grad():
    def expectation(logits):
        p = jax.nn.softmax(logits, -1)
        total = 0.0
        for i, j in itertools.product(range(3), range(3)):
            z = jnp.stack([jax.nn.one_hot(i, 3), jax.nn.one_hot(j, 3)])[None]
            total = total + p[0, i] * p[1, j] * coupled(z)[0]
        return total
    return jax.grad(expectation)(LOGITS).ravel()


@pytest.mark.parametrize("baseline,k", [("none", 1), ("rloo", 3)])
def test_score_function_on_categoricals_matches_enumeration(baseline, k):
    estimator = est.make("score_function", baseline=baseline)

    def one(key):
        def fn(logits):
            dist = distrax.Independent(distrax.OneHotCategorical(logits), 1)
            return estimator(coupled, dist, key=key, num_samples=k).surrogate
        return jax.grad(fn)(LOGITS).ravel()

    draws = jax.jit(jax.vmap(one))(jax.random.split(jax.random.key(1), 20000))
    assert_within_5se(draws, exact_categorical_grad())


def test_straight_through_is_one_hot_forward_and_relaxed_is_not():
    key = jax.random.key(2)
    for name, hard in (("st_gumbel_softmax", True), ("gumbel_softmax", False)):
        seen = []
        est.make(name, temperature=0.5)(lambda z: seen.append(z) or jnp.zeros(z.shape[0]),
                                         LOGITS, key=key, num_samples=5)
        z = seen[0]
        assert z.shape == (5, 2, 3)
        assert bool(jnp.all((z == 0) | (z == 1))) == hard
        assert jnp.allclose(z.sum(-1), 1.0, atol=1e-5)


# ---------------------------------------------------------------- hybrid, sequential costs
class _Mixture1D(est.HybridDistribution):
    """c ~ Categorical(logits), x = mu_c + sigma_c eps; a draw is (one-hot c, x)."""

    def __init__(self, logits, mu, log_sigma):
        self.logits, self.mu, self.log_sigma = logits, mu, log_sigma

    def sample(self, *, seed, sample_shape):
        kc, ke = jax.random.split(seed)
        c = jax.random.categorical(kc, jax.lax.stop_gradient(self.logits), shape=sample_shape)
        x = self.mu[c] + jnp.exp(self.log_sigma[c]) * jax.random.normal(ke, sample_shape)
        return {"c": c, "x": x}

    def log_prob(self, value):
        return self.discrete_log_prob(value) + distrax.Normal(
            self.mu[value["c"]], jnp.exp(self.log_sigma[value["c"]])).log_prob(value["x"])

    def discrete_log_prob(self, value):
        return jax.nn.log_softmax(self.logits)[value["c"]]


def test_hybrid_matches_the_closed_form_of_a_mixture():
    params = (jnp.array([0.3, -0.4]), jnp.array([1.0, -2.0]), jnp.log(jnp.array([0.5, 1.5])))

    def expectation(logits, mu, log_sigma):  # E x^3 = sum_c w_c (mu^3 + 3 mu sigma^2)
        w = jax.nn.softmax(logits)
        return jnp.sum(w * (mu**3 + 3 * mu * jnp.exp(2 * log_sigma)))

    truth = jnp.concatenate(jax.grad(expectation, argnums=(0, 1, 2))(*params))
    estimator = est.make("hybrid", baseline="rloo")

    def one(key):
        fn = lambda *p: estimator(lambda z: z["x"] ** 3, _Mixture1D(*p), key=key,
                                  num_samples=4).surrogate
        return jnp.concatenate(jax.grad(fn, argnums=(0, 1, 2))(*params))

    assert_within_5se(jax.jit(jax.vmap(one))(jax.random.split(jax.random.key(3), 20000)), truth)


def test_per_step_costs_use_the_cost_to_go_and_stay_unbiased():
    """Two steps a_t ~ N(m_t, 1), cost c_t = (a_t - t)^2 for t=0,1; grad_m E = 2 (m - t)."""
    m = jnp.array([0.5, -0.5])
    dist = distrax.Normal(m, 1.0)  # log_prob of one draw [2] is per step
    f = lambda a: (a - jnp.arange(2.0)[None]) ** 2  # [K, 2] -> [K, 2]
    estimator = est.make("score_function", baseline="rloo")

    def one(key):
        return jax.grad(lambda m: estimator(f, distrax.Normal(m, 1.0), key=key,
                                            num_samples=4).surrogate)(m)

    draws = jax.jit(jax.vmap(one))(jax.random.split(jax.random.key(4), 20000))
    assert_within_5se(draws, 2 * (m - jnp.arange(2.0)))
    del dist


# ------------------------------------------------------------------------------ registry
def test_registry_builds_and_refuses_clearly():
    assert isinstance(est.make("score_function", baseline="moving_average"), est.ScoreFunction)
    with pytest.raises(ValueError, match="unknown here; use one of pathwise"):
        est.make("reinforce", allowed=("pathwise", "score_function"))
    with pytest.raises(ValueError, match="applies to the score-function estimators only"):
        est.make("pathwise", baseline="rloo")
    with pytest.raises(ValueError, match="needs num_samples >= 2"):
        est.make("score_function", baseline="rloo").check(num_samples=1)
    with pytest.raises(ValueError, match="supports objective"):
        est.make("score_function").check(objective="logmeanexp")
    est.make("pathwise").check(objective="logmeanexp", num_samples=5)


def test_moving_average_state_follows_the_batches():
    estimator = est.make("score_function", baseline="moving_average", baseline_decay=0.9)
    state = estimator.init()
    for v in (1.0, 2.0, 3.0):
        state = estimator.update(state, jnp.full((8,), v))
    expected = ((0.1 * 1.0) * 0.9 + 0.1 * 2.0) * 0.9 + 0.1 * 3.0
    assert jnp.allclose(estimator.baseline.value(state, None), expected)
