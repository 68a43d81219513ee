"""PyTorch peers, run in their own process by :mod:`experiments.bench._worker` (no jax here).

* ``vae``: the pytorch/examples VAE step (784-400-20, batch 128, Adam 1e-3, dynamic
  binarization), eager or through ``torch.compile`` (compile time reported apart);
* ``matmul``: float32 square matmul GFLOP/s, this machine's measured peak;
* ``sac``: Stable-Baselines3's SAC on gymnasium's Pendulum-v1, the zoo's hyperparameters with
  the 64-64 networks of ``configs/pendulum.py``.
"""

from __future__ import annotations

import time

import numpy as np


def _timed(go, steps, repeats):
    from experiments.bench._worker import timed

    return timed(go, steps, repeats)


def vae(compile: bool, steps: int, repeats: int, n_data: int) -> dict:
    import atexit
    import os
    import shutil
    import tempfile

    # A fresh inductor cache: the compile time reported is a cold compile, every round.
    cache = tempfile.mkdtemp(prefix="bench-inductor-")
    atexit.register(shutil.rmtree, cache, True)
    os.environ["TORCHINDUCTOR_CACHE_DIR"] = cache
    import torch

    torch.manual_seed(0)
    x_all = torch.from_numpy(np.random.default_rng(0).random((n_data, 784), dtype=np.float32))
    enc, mu_l, ls_l = (torch.nn.Linear(784, 400), torch.nn.Linear(400, 20),
                       torch.nn.Linear(400, 20))
    dec = torch.nn.Sequential(torch.nn.Linear(20, 400), torch.nn.ReLU(),
                              torch.nn.Linear(400, 784))
    params = [*enc.parameters(), *mu_l.parameters(), *ls_l.parameters(), *dec.parameters()]
    opt = torch.optim.Adam(params, lr=1e-3)

    def loss_fn(x, noise):  # [128, 784], [128, 20] -> scalar negative ELBO
        h = torch.relu(enc(x))
        mu, ls = mu_l(h), ls_l(h)
        logits = dec(mu + torch.exp(ls) * noise)
        rec = -torch.nn.functional.binary_cross_entropy_with_logits(
            logits, x, reduction="none").sum(-1)
        kl = 0.5 * (mu**2 + torch.exp(2 * ls) - 1 - 2 * ls).sum(-1)
        return (kl - rec).mean()

    loss_c = torch.compile(loss_fn) if compile else loss_fn
    state = {"i": 0}

    def go(n=steps):
        for _ in range(n):
            start = (state["i"] * 128) % (n_data - 128)
            state["i"] += 1
            x = torch.bernoulli(x_all[start:start + 128])
            loss = loss_c(x, torch.randn(128, 20))
            opt.zero_grad()
            loss.backward()
            opt.step()

    t0 = time.perf_counter()
    go(2)  # compiles forward and backward graphs (and warms eager's allocator)
    compile_s = time.perf_counter() - t0
    _, step_s, _ = _timed(go, steps, repeats)
    return {"step_ms": step_s * 1e3, "first_s": compile_s, "threads": torch.get_num_threads()}


def matmul(n: int, repeats: int) -> dict:
    import torch

    a = torch.randn(n, n)
    _, s, _ = _timed(lambda: a @ a, 1, repeats)
    return {"gflops": 2 * n**3 / s / 1e9}


def sac(steps: int, seed: int, hidden: list[int], eval_episodes: int) -> dict:
    """SB3 SAC for ``steps`` environment steps; env steps/s and the deterministic return."""
    import gymnasium as gym
    import torch
    from stable_baselines3 import SAC
    from stable_baselines3.common.evaluation import evaluate_policy

    torch.manual_seed(seed)
    env = gym.make("Pendulum-v1")
    # The SB3 zoo's Pendulum-v1 SAC hyperparameters (as configs/pendulum.py), 64-64 MLPs.
    model = SAC("MlpPolicy", env, learning_rate=1e-3, buffer_size=steps, batch_size=256,
                gamma=0.99, tau=0.005, learning_starts=100, train_freq=1, gradient_steps=1,
                ent_coef="auto", policy_kwargs={"net_arch": list(hidden)}, seed=seed,
                device="cpu", verbose=0)
    t0 = time.perf_counter()
    model.learn(total_timesteps=steps)
    wall = time.perf_counter() - t0
    ret, sd = evaluate_policy(model, gym.make("Pendulum-v1"), n_eval_episodes=eval_episodes,
                              deterministic=True)
    return {"env_steps_per_s": steps / wall, "wall_s": wall, "return": float(ret),
            "return_sd": float(sd), "threads": torch.get_num_threads()}
