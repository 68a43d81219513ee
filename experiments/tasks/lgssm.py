"""A linear-Gaussian sequential latent model learned by backpropagation through time.

Generative model (:mod:`rgrad.kalman`): z_0 = 0, z_t = a z_{t-1} + b + s eps_t,
x_t = z_t + r eta_t, t = 1..T; N sequences drawn once from ``config.truth``.

Variational posterior, one per training sequence (not amortized), a Gauss-Markov chain

    z_t - m_t = A_t (z_{t-1} - m_{t-1}) + S_t eps_t,   eps_t ~ N(0, 1),   z_0 - m_0 = 0,

(centred on per-step means m_t, so that the means and the couplings A_t are not confounded),

reparameterized: the latent path is a ``lax.scan`` of eps, and the ELBO's gradient flows back
through the whole path (BPTT). The exact posterior of a linear-Gaussian chain is Markov with
linear-Gaussian transitions, so this family contains it: at the joint optimum the ELBO equals
the exact log-likelihood (from the Kalman filter), and (a, b, s, r) are the maximum-likelihood
estimates, which converge to the generating values at rate 1 / sqrt(N T).

Evaluation: learned (a, b, s, r), the ELBO (``eval.num_samples`` draws per sequence), the exact
log-likelihood at the learned and at the true parameters, and the gap (nats per sequence).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from rgrad import kalman
from rgrad.config_checks import integer
from rgrad.nn import normal_log_prob
from rgrad.task import Task

GLOBALS = ("a", "b", "s", "r")


def constrained(g: dict) -> dict:
    """Unconstrained global params -> (a, b, s, r) (positive scales through exp)."""
    return {"a": g["a"], "b": g["b"], "s": jnp.exp(g["log_s"]), "r": jnp.exp(g["log_r"])}


def sequence_elbo_terms(g: dict, q: dict, x: jax.Array, eps: jax.Array) -> jax.Array:
    """log p(x, z) - log q(z) for one sequence x [T] and one path's noise eps [T]."""
    th = constrained(g)

    def step(u_prev, inp):  # u = z - m
        a_t, log_s_t, e = inp
        u = a_t * u_prev + jnp.exp(log_s_t) * e
        return u, u

    _, u = jax.lax.scan(step, jnp.zeros(()), (q["A"], q["log_S"], eps))
    z = q["m"] + u  # [T]
    z_prev = jnp.concatenate([jnp.zeros((1,)), z[:-1]])  # z_0 = 0
    # normal_log_prob sums its last axis: [T, 1] -> [T].
    log_q = normal_log_prob(eps[:, None], 0.0, 0.0) - q["log_S"]
    log_trans = normal_log_prob(z[:, None], (th["a"] * z_prev + th["b"])[:, None],
                                jnp.log(th["s"]))
    log_emit = normal_log_prob(x[:, None], z[:, None], jnp.log(th["r"]))
    return jnp.sum(log_trans + log_emit - log_q)


def elbo(g, q, x, key, k):
    """Mean over k reparameterized paths of the ELBO terms of one sequence."""
    eps = jax.random.normal(key, (k, x.shape[0]))
    return jnp.mean(jax.vmap(sequence_elbo_terms, in_axes=(None, None, None, 0))(g, q, x, eps))


class LGSSMTask(Task):
    def __init__(self, config):
        super().__init__(config)
        d, t = config.data, config.truth
        _, x = kalman.sample(jax.random.key(d.seed), d.num_sequences, d.length,
                             t.a, t.b, t.s, t.r)
        self.x = np.asarray(x)  # [N, T]

    def dataset(self):
        return {"x": self.x}

    def init(self, key):
        del key
        n, t = self.x.shape
        i = self.config.init
        g = {"a": jnp.asarray(i.a), "b": jnp.asarray(i.b), "log_s": jnp.log(i.s),
             "log_r": jnp.log(i.r)}
        # q starts at the observations with a moderate spread and no coupling.
        q = {"A": jnp.zeros((n, t)), "m": jnp.asarray(self.x), "log_S": jnp.full((n, t),
                                                                                jnp.log(0.5))}
        return {"global": g, "q": q}, {}

    def batch(self, data, state, params, *, key, step):
        del params, key, step
        return data, state  # full batch: every sequence has its own q

    def loss(self, params, state, batch, *, key, step, hparams):
        del step, hparams
        x = batch["x"]
        keys = jax.random.split(key, x.shape[0])
        e = jax.vmap(elbo, in_axes=(None, 0, 0, 0, None))(
            params["global"], params["q"], x, keys, self.config.num_samples)
        th = constrained(params["global"])
        metrics = {"elbo": jnp.mean(e), **{n: th[n] for n in GLOBALS}}
        return -jnp.mean(e) / x.shape[1], (metrics, state)

    # -- evaluation ---------------------------------------------------------------------------
    def exact_log_likelihood(self, theta: dict) -> jax.Array:
        """Exact log p(x) per sequence [N] at constrained parameters ``theta``."""
        return jax.vmap(kalman.log_likelihood, in_axes=(0, None, None, None, None))(
            jnp.asarray(self.x), theta["a"], theta["b"], theta["s"], theta["r"])

    def fisher_stderr(self) -> dict[str, float]:
        """Asymptotic SE of the MLE of (a, b, s, r): sqrt diag of the inverse observed
        information -d^2 log p(x) at the true parameters."""
        t = self.config.truth
        v = jnp.asarray([t.a, t.b, t.s, t.r])

        def ll(v):
            return jnp.sum(self.exact_log_likelihood(dict(zip(GLOBALS, v, strict=True))))

        cov = jnp.linalg.inv(-jax.hessian(ll)(v))
        return dict(zip(GLOBALS, np.sqrt(np.diag(np.asarray(cov))).tolist(), strict=True))

    def _report(self, params, key, k):
        """Learned (a, b, s, r), the ELBO (k paths), the exact log-likelihood and the gap;
        pure: scalar arrays."""
        th = constrained(params["global"])
        x = jnp.asarray(self.x)
        keys = jax.random.split(key, x.shape[0])
        e = jax.vmap(elbo, in_axes=(None, 0, 0, 0, None))(params["global"], params["q"], x,
                                                          keys, k)
        t = self.config.truth
        ll = self.exact_log_likelihood(th)
        ll_true = self.exact_log_likelihood({"a": t.a, "b": t.b, "s": t.s, "r": t.r})
        out = {n: th[n] for n in GLOBALS}
        out.update({"elbo": jnp.mean(e), "exact_ll": jnp.mean(ll),
                    "exact_ll_true_params": jnp.mean(ll_true), "elbo_gap": jnp.mean(ll - e)})
        return out

    def evaluate(self, params, state, *, key):
        return self._report(params, key, self.config.eval.num_samples)

    def final_evaluate(self, params, state, *, key):
        return self._report(params, key, self.config.eval.final_num_samples)


# Beyond rgrad.config_checks.COMMON (checked by experiments.registry.check_config).
CONFIG_DOMAINS = {"eval.num_samples": integer(1).about("the evaluation's number of samples")}


def make_task(config) -> LGSSMTask:
    return LGSSMTask(config)
