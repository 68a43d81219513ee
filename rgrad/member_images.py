"""Every member's :meth:`rgrad.task.Task.eval_images`, compiled once and vmapped.

Member ``i``'s images at ``step`` use the key ``fold_in(fold_in(fold_in(key, 1), step), i)``
(the evaluation key with a 1 folded in, so the images' draws are not the evaluation's).
"""

from __future__ import annotations

import jax
import numpy as np

from rgrad import distributed
from rgrad.task import Task


class MemberImages:
    """``images(ts, key, step) -> [{name: [N, H, W(, C)]}] * M`` host arrays, or [] if none.

    A task that does not override ``eval_images`` is never traced (``enabled`` is False).
    """

    def __init__(self, task: Task):
        self.enabled = type(task).eval_images is not Task.eval_images

        def batched(ts, key, step):
            m = ts.step.shape[0]
            base = jax.random.fold_in(jax.random.fold_in(key, 1), step)
            keys = jax.vmap(lambda i: jax.random.fold_in(base, i))(jax.numpy.arange(m))
            return jax.vmap(lambda p, s, k: task.eval_images(p, s, key=k))(
                ts.params, ts.state, keys)

        self._run = jax.jit(batched)

    def __call__(self, ts, key: jax.Array, step: int) -> list[dict[str, np.ndarray]]:
        if not self.enabled:
            return []
        out = distributed.host_read(self._run(ts, key, jax.numpy.int32(step)))  # gathered
        m = ts.step.shape[0]
        return [{k: np.asarray(v[i]) for k, v in out.items()} for i in range(m)]
