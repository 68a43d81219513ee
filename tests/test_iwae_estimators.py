"""STL and DReG (rgrad.estimators.iwae) on a linear-Gaussian latent model, and in the VAE task.

Model: z ~ N(0, I_2), x | z ~ N(A z + b, I_3) with decoder parameters theta = (A, b), and a
diagonal Gaussian q(z) = N(mu, diag(exp(ls))^2) with encoder parameters phi = (mu, ls). The
ELBO has a closed form; the IWAE bound's gradient does not, so dreg is compared with the
standard (pathwise) IWAE gradient on the same draws (the paired difference and its SE).
Two posteriors: FAR (mean and scales off, the weights are uneven: bias shows clearly) and NEAR
(the exact posterior's scales, mean off by 0.3: the regime of Rainforth et al. 2018).
"""

from __future__ import annotations

import functools

import enumeration
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from rgrad import estimators
from rgrad import nn as rnn
from rgrad.estimators import iwae
from rgrad.vae import DiagNormal

X = jnp.array([1.5, -0.8, 0.6])
THETA = {"A": jnp.array([[1.0, 0.5], [-0.3, 0.8], [0.4, -0.6]]), "b": jnp.array([0.2, -0.1, 0.3])}
FAR = {"mu": jnp.array([0.3, -0.5]), "ls": jnp.array([-0.7, -0.4])}
_PREC = jnp.eye(2) + THETA["A"].T @ THETA["A"]
_POST_MEAN = jnp.linalg.solve(_PREC, THETA["A"].T @ (X - THETA["b"]))
NEAR = {"mu": _POST_MEAN + jnp.array([0.3, -0.3]),
        "ls": 0.5 * jnp.log(jnp.diag(jnp.linalg.inv(_PREC)))}
N = 20_000  # draws per estimate; chosen from the measured variances (see each test)


def log_weight(theta, q):
    """z [K, 2] -> log p(x, z; theta) - log q(z) [K]."""
    def f(z):
        mean = z @ theta["A"].T + theta["b"][None]  # [K, 3]
        return (rnn.normal_log_prob(X[None], mean, 0.0) + rnn.normal_log_prob(z, 0.0, 0.0)
                - q.log_prob(z))
    return f


def closed_form_elbo(theta, phi):
    """E_q[log p(x, z) - log q(z)] of the linear-Gaussian model, exactly."""
    var = jnp.exp(2 * phi["ls"])  # [2]
    resid = X - theta["A"] @ phi["mu"] - theta["b"]  # [3]
    log_px = -0.5 * (jnp.sum(resid**2) + jnp.sum(theta["A"] ** 2 * var[None])) \
        - 1.5 * jnp.log(2 * jnp.pi)
    log_pz = -0.5 * jnp.sum(phi["mu"] ** 2 + var) - jnp.log(2 * jnp.pi)
    entropy = jnp.sum(phi["ls"]) + jnp.log(2 * jnp.pi) + 1.0
    return log_px + log_pz + entropy


@functools.cache
def _draws_fn(name: str, k: int, objective: str, variant: str = ""):
    """Jitted (keys [n], phi) -> (encoder grads [n, 4], decoder grads [n, 8]); traced at the
    first call (``variant`` names a patched copy, traced inside its patch)."""
    est = estimators.make(name)

    def one(key, phi):
        def surrogate(theta, phi):
            q = DiagNormal(phi["mu"], phi["ls"])
            return est(log_weight(theta, q), q, key=key, num_samples=k,
                       objective=objective).surrogate
        gt, gp = jax.grad(surrogate, argnums=(0, 1))(THETA, phi)
        return (jnp.concatenate([gp["mu"], gp["ls"]]),
                jnp.concatenate([gt["A"].ravel(), gt["b"]]))
    return jax.jit(jax.vmap(one, in_axes=(0, None)))


def draws(name, k, phi, n=N, seed=0, objective="logmeanexp", variant=""):
    enc, dec = _draws_fn(name, k, objective, variant)(
        jax.random.split(jax.random.key(seed), n), phi)
    return np.asarray(enc, np.float64), np.asarray(dec, np.float64)


def paired_z(a, b):
    """|mean(a - b)| / SE per component, for rows drawn with the same keys."""
    d = a - b
    return np.abs(d.mean(0)) / (d.std(0, ddof=1) / np.sqrt(len(d)))


@pytest.mark.parametrize("k", [5, 50])
def test_dreg_is_unbiased_for_the_iwae_gradient_and_keeps_the_decoder_gradient(k):
    path_enc, path_dec = draws("pathwise", k, FAR)
    dreg_enc, dreg_dec = draws("dreg", k, FAR)
    # Same draws: the decoder gets sum_k w~_k grad_theta log w_k, as the standard estimator.
    np.testing.assert_allclose(dreg_dec, path_dec, rtol=1e-5, atol=1e-5)
    z = paired_z(dreg_enc, path_enc)
    assert np.all(z < 5), f"dreg biased at k={k}: z-scores {z.round(1)}"
    # The wrong variant: weights w~ instead of w~^2 on the path term (no cotangent scaling;
    # that is STL's IWAE gradient, biased). Measured z-scores 18-330 at this N.
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(iwae, "_scale_cotangent", lambda z, scale: z)
        wrong_enc, _ = draws("dreg", k, FAR, variant="weights w~")
    assert np.max(paired_z(wrong_enc, path_enc)) > 5, "the w~ variant passes: test too loose"
    np.testing.assert_allclose(draws("stl", k, FAR)[0], wrong_enc, rtol=1e-4, atol=1e-5)


def test_dreg_gradient_is_the_two_term_surrogate_and_its_value_the_bound():
    """One draw: grad of sum sg(w~^2) L(z) + sg(w~ - w~^2) L(sg z) (L: f with the score of
    log q cancelled), the form in Tucker et al.'s Eq. 7 with f's parameters added."""
    sg = jax.lax.stop_gradient
    key = jax.random.key(3)

    def explicit(theta, phi):
        q = DiagNormal(phi["mu"], phi["ls"])
        z = q.sample(seed=key, sample_shape=(7,))
        lw = iwae.score_free(log_weight(theta, q), q)
        w = jax.nn.softmax(sg(lw(z)))
        return jnp.sum(w**2 * lw(z)) + jnp.sum((w - w**2) * lw(sg(z)))

    def dreg(theta, phi):
        q = DiagNormal(phi["mu"], phi["ls"])
        return estimators.make("dreg")(log_weight(theta, q), q, key=key, num_samples=7,
                                       objective="logmeanexp")

    g_explicit = jax.jit(jax.grad(explicit, argnums=(0, 1)))(THETA, FAR)
    g_dreg = jax.jit(jax.grad(lambda t, p: dreg(t, p).surrogate, argnums=(0, 1)))(THETA, FAR)
    for a, b in zip(jax.tree.leaves(g_explicit), jax.tree.leaves(g_dreg), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    e = jax.jit(dreg)(THETA, FAR)
    q = DiagNormal(FAR["mu"], FAR["ls"])
    lw = log_weight(THETA, q)(q.sample(seed=key, sample_shape=(7,)))
    np.testing.assert_allclose(e.value, jax.nn.logsumexp(lw) - jnp.log(7.0), rtol=1e-6)
    np.testing.assert_allclose(e.surrogate, e.value, rtol=1e-6)


def test_stl_is_unbiased_for_the_elbo_gradient():
    truth = jax.grad(closed_form_elbo, argnums=(0, 1))(THETA, FAR)
    truth = np.concatenate([truth[1]["mu"], truth[1]["ls"], truth[0]["A"].ravel(),
                            truth[0]["b"]])

    def rows(key, n):
        enc, dec = _draws_fn("stl", 1, "mean")(jax.random.split(key, n), FAR)
        return np.concatenate([enc, dec], axis=1)

    # Sample size from a pilot's variance (20% of the largest component = 10 SE); a 1.2x
    # copy of the rows must fail.
    enumeration.check_unbiased(rows, truth, max_samples=100_000)
    # dreg is stl for "mean".
    np.testing.assert_array_equal(draws("dreg", 1, FAR, n=64, objective="mean")[0],
                                  draws("stl", 1, FAR, n=64, objective="mean")[0])


def _snr(g):
    """||E g|| / sqrt(tr Cov g) over the encoder parameters."""
    return float(np.linalg.norm(g.mean(0)) / np.sqrt(g.var(0).sum()))


def test_dreg_variance_and_signal_to_noise():
    # FAR, k = 50: measured trace of the encoder-gradient covariance 0.99 (standard) vs 0.29
    # (dreg), 3.4x. Assert more than 2x at 5 SE: D_i = |g_p - m_p|^2 - 2 |g_d - m_d|^2 has mean
    # tr Cov_p - 2 tr Cov_d, its SE from its own spread over the same N draws.
    path, dreg = draws("pathwise", 50, FAR)[0], draws("dreg", 50, FAR)[0]
    d = (np.sum((path - path.mean(0)) ** 2, 1) - 2 * np.sum((dreg - dreg.mean(0)) ** 2, 1))
    assert d.mean() > 5 * d.std(ddof=1) / np.sqrt(len(d)), (path.var(0), dreg.var(0))
    # NEAR (Rainforth et al. 2018): the standard estimator's SNR falls with k (~1/sqrt(k));
    # dreg's rises. Measured: standard 0.17 -> 0.046, dreg 1.9 -> 3.3 from k = 5 to 50. SE of
    # an SNR estimate ~ sqrt((1 + snr^2 / 2) / N) <= 0.02 here, far below these gaps.
    snr = {(n, k): _snr(draws(n, k, NEAR)[0]) for n in ("pathwise", "dreg") for k in (5, 50)}
    assert snr["pathwise", 50] < 0.5 * snr["pathwise", 5], snr
    assert snr["dreg", 50] > 1.3 * snr["dreg", 5], snr
    assert snr["dreg", 50] > 10 * snr["pathwise", 50], snr


def test_the_vae_task_takes_stl_and_dreg():
    from configs import vae as vae_config
    from experiments.tasks import vae

    rng = np.random.default_rng(0)
    arrays = tuple((rng.random((n, 784)) < 0.3).astype(np.float32) for n in (64, 32))

    def grads(estimator):
        c = vae_config.get_config("quick")
        c.update_from_flattened_dict({"estimator": estimator, "objective": "iwae",
                                      "num_samples": 5})
        task = vae.make_task(c, arrays)
        params, state = task.init(jax.random.key(0))
        loss = lambda p: task.loss(p, state, {"x": jnp.asarray(arrays[0][:8])},
                                   key=jax.random.key(1), step=0,
                                   hparams={"kl_weight": 1.0})[0]
        return jax.jit(jax.grad(loss))(params)["params"]

    path, dreg = grads("pathwise"), grads("dreg")
    for a, b in zip(jax.tree.leaves(path["decoder"]), jax.tree.leaves(dreg["decoder"]),
                    strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)
    enc = [np.abs(a - b).max() for a, b in zip(jax.tree.leaves(path["encoder"]),
                                               jax.tree.leaves(dreg["encoder"]), strict=True)]
    assert max(enc) > 1e-3  # the encoder's gradients differ (no score term)
    c = vae_config.get_config("quick")
    c.update_from_flattened_dict({"estimator": "stl", "kl_weight": 0.5})
    with pytest.raises(ValueError, match="kl_weight"):
        vae.make_task(c, arrays)
