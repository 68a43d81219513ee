"""Pendulum-v1 (gymnax): SAC's reparameterized actor against a score-function policy gradient.

Two tasks on the same environment and the same number of environment steps:

* ``algo='sac'`` -- soft actor-critic (Haarnoja et al. 2018, the automatic-temperature version
  of Stable-Baselines3): tanh-squashed Gaussian actions ``a = 2 tanh(mu(s) + sigma(s) eps)``
  differentiated *through a learned Q-function* (pathwise), twin Q with Polyak-averaged
  target networks, learned entropy temperature. One gradient step per environment step.
  The replay buffer, the environment states, the target parameters and the episode
  bookkeeping live in the task ``state``; :meth:`SACTask.batch` steps ``num_envs``
  environments with the current actor and samples a minibatch from the buffer.
* ``algo='reinforce'`` -- the score-function estimator: each step rolls out ``num_envs`` whole
  episodes and ascends sum_t grad log pi(a_t|s_t) (G_t - b_t) with discounted rewards-to-go G_t
  and the per-time-step mean over episodes as baseline b_t, the advantages normalised by
  their standard deviation: :meth:`rgrad.estimators.ScoreFunction.from_samples` on the
  per-step costs with the baseline :class:`DiscountedNormalised`.

Both run ``num_seeds`` seeds in one compiled program (the shared loop vmaps them). Evaluation
reports the mean undiscounted return of ``eval.num_episodes`` deterministic episodes and the
environment steps taken so far.
"""

from __future__ import annotations

import gymnax
import jax
import jax.numpy as jnp

from rgrad.estimators import Baseline, ScoreFunction
from rgrad.nn import LOG2PI, MLP, normal_log_prob
from rgrad.task import Task

MAX_TORQUE = 2.0
OBS_DIM, ACT_DIM = 3, 1


def _strong(tree):
    """Drop weak types (gymnax's Python-int counters), so the loop's carry never retraces."""
    return jax.tree.map(lambda x: jnp.asarray(x, jnp.result_type(x)), tree)


def squashed_gaussian(actor_out, eps):
    """Reparameterized tanh-Gaussian action and its log-density; [2A], [A] -> [A], []."""
    mu, log_std = jnp.split(actor_out, 2, axis=-1)
    log_std = jnp.clip(log_std, -20.0, 2.0)
    u = mu + jnp.exp(log_std) * eps
    log_prob = jnp.sum(-0.5 * eps**2 - log_std - 0.5 * LOG2PI, -1)
    # Change of variables through a = MAX_TORQUE * tanh(u), in the stable softplus form.
    log_det = jnp.sum(jnp.log(MAX_TORQUE) + 2 * (jnp.log(2.0) - u - jax.nn.softplus(-2 * u)), -1)
    return MAX_TORQUE * jnp.tanh(u), log_prob - log_det


class _PendulumTask(Task):
    """Environment plumbing shared by both algorithms."""

    def __init__(self, config):
        super().__init__(config)
        self.env, self.env_params = gymnax.make("Pendulum-v1")
        self.actor = MLP(tuple(config.model.hidden), 2 * ACT_DIM, activation="relu")

    def _reset(self, key, n):
        return _strong(jax.vmap(lambda k: self.env.reset(k, self.env_params))(
            jax.random.split(key, n)))

    def _env_step(self, key, env_state, action):
        """One step of one environment with auto-reset; returns the true next observation."""
        obs, env_state, r, term, trunc, info = self.env.step(key, env_state, action,
                                                             self.env_params)
        return (obs, _strong(env_state), r, term, jnp.logical_or(term, trunc),
                info["final_observation"])

    def _eval_returns(self, actor_params, key):
        """Undiscounted returns of deterministic (tanh(mu)) episodes; [num_episodes]."""
        n = self.config.eval.num_episodes
        obs, env_state = self._reset(key, n)

        def body(carry, k):
            obs, env_state = carry
            mu = jnp.split(self.actor.apply(actor_params, obs), 2, axis=-1)[0]
            a = MAX_TORQUE * jnp.tanh(mu)
            obs, env_state, r, *_ = jax.vmap(self._env_step)(jax.random.split(k, n), env_state,
                                                             a)
            return (obs, env_state), r

        steps = self.env_params.max_steps_in_episode
        _, rewards = jax.lax.scan(body, (obs, env_state), jax.random.split(key, steps))
        return rewards.sum(0)

    def evaluate(self, params, state, *, key):
        returns = self._eval_returns(params["actor"], key)
        return {"eval_return": jnp.mean(returns),
                "env_steps": state["env_steps"].astype(jnp.float32)}


# ============================================================================================
# SAC: the pathwise estimator through a learned critic.
# ============================================================================================
class SACTask(_PendulumTask):

    def __init__(self, config):
        super().__init__(config)
        self.critic = MLP(tuple(config.model.hidden), 1, activation="relu")

    def q_values(self, q_params, obs, act):  # twin Q: [B, 3], [B, 1] -> [2, B]
        x = jnp.concatenate([obs, act], -1)
        return jax.vmap(lambda p: self.critic.apply(p, x)[..., 0])(q_params)

    def init(self, key):
        c = self.config
        k_actor, k_q, k_env = jax.random.split(key, 3)
        actor = self.actor.init(k_actor, jnp.zeros((OBS_DIM,)))
        q = jax.vmap(lambda k: self.critic.init(k, jnp.zeros((OBS_DIM + ACT_DIM,))))(
            jax.random.split(k_q, 2))
        params = {"actor": actor, "q": q, "log_alpha": jnp.log(jnp.float32(c.sac.init_alpha))}
        n = c.sac.buffer_size
        obs, env_state = self._reset(k_env, c.num_envs)
        state = {
            "buffer": {"obs": jnp.zeros((n, OBS_DIM)), "act": jnp.zeros((n, ACT_DIM)),
                       "rew": jnp.zeros((n,)), "next_obs": jnp.zeros((n, OBS_DIM)),
                       "term": jnp.zeros((n,))},
            "size": jnp.zeros((), jnp.int32), "ptr": jnp.zeros((), jnp.int32),
            "obs": obs, "env_state": env_state, "target_q": q,
            "ep_return": jnp.zeros((c.num_envs,)), "last_return": jnp.zeros(()),
            "env_steps": jnp.zeros((), jnp.int32),
        }
        return params, state

    def batch(self, data, state, params, *, key, step):
        """Step the environments once with the current actor, store, sample a minibatch."""
        del data
        c = self.config
        key = jax.random.fold_in(key, step)
        k_act, k_env, k_idx = jax.random.split(key, 3)
        e = c.num_envs
        out = self.actor.apply(params["actor"], state["obs"])
        policy_a, _ = squashed_gaussian(out, jax.random.normal(k_act, (e, ACT_DIM)))
        random_a = jax.random.uniform(k_act, (e, ACT_DIM), minval=-MAX_TORQUE, maxval=MAX_TORQUE)
        warm = state["env_steps"] < c.sac.learning_starts
        act = jax.lax.stop_gradient(jnp.where(warm, random_a, policy_a))
        obs, env_state, r, term, done, final_obs = jax.vmap(self._env_step)(
            jax.random.split(k_env, e), state["env_state"], act)
        n = c.sac.buffer_size
        idx = (state["ptr"] + jnp.arange(e)) % n
        new = {"obs": state["obs"], "act": act, "rew": r, "next_obs": final_obs,
               "term": term.astype(jnp.float32)}
        buffer = jax.tree.map(lambda b, x: b.at[idx].set(x), state["buffer"], new)
        ep_return = state["ep_return"] + r
        finished = jnp.sum(done)
        last_return = jnp.where(finished > 0,
                                jnp.sum(jnp.where(done, ep_return, 0.0)) / jnp.maximum(finished, 1),
                                state["last_return"])
        size = jnp.minimum(state["size"] + e, n)
        state = {**state, "buffer": buffer, "size": size, "ptr": (state["ptr"] + e) % n,
                 "obs": obs, "env_state": env_state,
                 "ep_return": jnp.where(done, 0.0, ep_return), "last_return": last_return,
                 "env_steps": state["env_steps"] + e}
        rows = jax.random.randint(k_idx, (c.batch_size,), 0, size)
        return jax.tree.map(lambda b: b[rows], buffer), state

    def loss(self, params, state, batch, *, key, step, hparams):
        """Critic + actor + temperature losses; stop-gradients keep their gradients apart."""
        del step, hparams
        c = self.config
        k_next, k_pi = jax.random.split(key)
        bs = c.batch_size
        sg = jax.lax.stop_gradient
        alpha = jnp.exp(params["log_alpha"])

        # Critic: soft Bellman targets from the target networks (no gradient).
        next_out = self.actor.apply(params["actor"], batch["next_obs"])
        next_a, next_logp = squashed_gaussian(next_out, jax.random.normal(k_next, (bs, ACT_DIM)))
        q_next = jnp.min(self.q_values(state["target_q"], batch["next_obs"], next_a), 0)
        target = batch["rew"] + c.sac.gamma * (1.0 - batch["term"]) * (q_next - alpha * next_logp)
        q = self.q_values(params["q"], batch["obs"], batch["act"])  # [2, B]
        critic_loss = 0.5 * jnp.sum(jnp.mean((q - sg(target)[None]) ** 2, -1))

        # Actor: the pathwise gradient of E[alpha log pi - min Q] through a = f(eps; theta).
        out = self.actor.apply(params["actor"], batch["obs"])
        a, logp = squashed_gaussian(out, jax.random.normal(k_pi, (bs, ACT_DIM)))
        q_pi = jnp.min(self.q_values(sg(params["q"]), batch["obs"], a), 0)
        actor_loss = jnp.mean(sg(alpha) * logp - q_pi)

        # Temperature: match the policy entropy to the target -dim(A).
        alpha_loss = -params["log_alpha"] * sg(jnp.mean(logp) - ACT_DIM)

        started = (state["env_steps"] >= c.sac.learning_starts).astype(jnp.float32)
        tau = c.sac.tau * started
        target_q = jax.tree.map(lambda t, p: (1 - tau) * t + tau * p, state["target_q"],
                                params["q"])
        metrics = {"critic_loss": critic_loss, "actor_loss": actor_loss, "alpha": alpha,
                   "entropy": -jnp.mean(logp), "train_return": state["last_return"]}
        total = started * (critic_loss + actor_loss + alpha_loss)
        return total, (metrics, {**state, "target_q": target_q})


# ============================================================================================
# REINFORCE: the score-function estimator on whole episodes.
# ============================================================================================
class DiscountedNormalised(Baseline):
    """REINFORCE's normalised, discounted per-step advantage, as a score-function baseline.

    :meth:`ScoreFunction.from_samples` weights log pi_t of episode k by ``to_go - b``, with
    ``to_go`` the *undiscounted* cost to go ``[K, T]``. This returns ``b = to_go - A`` so that
    the weight is A: the discounted cost to go G_t = sum_s gamma^(s-t) c_s (the per-step costs
    recovered from ``to_go``) minus its mean over the K episodes at step t, divided by the
    standard deviation over all (k, t). Unlike a baseline proper, A uses the episode's own
    costs (the per-step mean includes it) and the batch's spread: the usual REINFORCE recipe.
    """

    name = "discounted_normalised"

    def __init__(self, gamma: float):
        self.gamma = gamma

    def value(self, state, to_go):  # [K, T] -> [K, T]
        costs = to_go - jnp.pad(to_go[:, 1:], ((0, 0), (0, 1)))

        def back(carry, c):  # discounted cost to go, scanned backwards over steps
            carry = c + self.gamma * carry
            return carry, carry

        _, g = jax.lax.scan(back, jnp.zeros(costs.shape[:1]), costs.T, reverse=True)  # [T, K]
        adv = g - jnp.mean(g, axis=1, keepdims=True)
        return to_go - (adv / (jnp.std(adv) + 1e-8)).T


class ReinforceTask(_PendulumTask):

    def __init__(self, config):
        super().__init__(config)
        self.estimator = ScoreFunction(DiscountedNormalised(config.sac.gamma))

    def init(self, key):
        params = {"actor": self.actor.init(key, jnp.zeros((OBS_DIM,)))}
        return params, {"env_steps": jnp.zeros((), jnp.int32)}

    def batch(self, data, state, params, *, key, step):
        """Roll out ``num_envs`` episodes with the current policy; [T, E, ...] arrays."""
        del data
        e, steps = self.config.num_envs, self.env_params.max_steps_in_episode
        key = jax.random.fold_in(key, step)
        k_reset, k_roll = jax.random.split(key)
        obs, env_state = self._reset(k_reset, e)

        def body(carry, k):
            obs, env_state = carry
            k_eps, k_env = jax.random.split(k)
            eps = jax.random.normal(k_eps, (e, ACT_DIM))
            out = self.actor.apply(params["actor"], obs)
            a, _ = squashed_gaussian(out, eps)
            mu, log_std = jnp.split(out, 2, axis=-1)
            u = mu + jnp.exp(jnp.clip(log_std, -20.0, 2.0)) * eps  # the pre-tanh action
            nobs, env_state, r, *_ = jax.vmap(self._env_step)(jax.random.split(k_env, e),
                                                              env_state, a)
            return (nobs, env_state), {"obs": obs, "u": u, "rew": r}

        _, traj = jax.lax.scan(body, (obs, env_state), jax.random.split(k_roll, steps))
        traj = jax.lax.stop_gradient(traj)
        return traj, {"env_steps": state["env_steps"] + e * steps}

    def loss(self, params, state, batch, *, key, step, hparams):
        del key, step, hparams
        # log pi(a|s) = log N(u; mu, sigma) - log|da/du|; the Jacobian term has no parameters.
        logp = gaussian_log_prob(self.actor.apply(params["actor"], batch["obs"]), batch["u"])
        # Episodes are the draws: [T, E] -> [E, T]; the cost of a step is minus its reward. The
        # loss's value is the mean episode cost; its gradient mean_k sum_t A_kt grad log pi_kt.
        loss = self.estimator.from_samples(-batch["rew"].T, logp.T)
        metrics = {"train_return": jnp.mean(jnp.sum(batch["rew"], 0))}
        return loss, (metrics, state)


def gaussian_log_prob(actor_out, u):
    """log N(u; mu(s), sigma(s)^2) of a stored pre-tanh action; [..., 2A], [..., A] -> [...]."""
    mu, log_std = jnp.split(actor_out, 2, axis=-1)
    return normal_log_prob(u, mu, jnp.clip(log_std, -20.0, 2.0))


def make_task(config) -> Task:
    classes = {"sac": SACTask, "reinforce": ReinforceTask}
    if config.algo not in classes:
        raise ValueError(f"config.algo={config.algo!r} is unknown; use one of {sorted(classes)}.")
    return classes[config.algo](config)
