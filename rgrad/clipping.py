"""The optimizer's gradient-clipping slot: one optimizer-state tree with or without clipping.

:meth:`rgrad.task.Task.optimizer` always chains :func:`global_norm_clip` in front of the
optimizer. Its state is :class:`ClipSlot` (no leaves) whether ``optim.grad_clip`` is set or 0,
so a run stopped by a divergence can be continued from its checkpoint with clipping added.

Checkpoints written before the slot existed hold, for runs without clipping, the bare
optimizer's state; :func:`without_slots` gives the tree they were saved with, and
:func:`with_slots` puts a restored one back into the current tree. Runs that clipped saved
``(EmptyState(), state)``, which restores into ``(ClipSlot(), state)`` as it is (neither has
leaves).
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import optax


class ClipSlot(NamedTuple):
    """State of the clipping slot: nothing to carry; its type marks the slot in a tree."""


def global_norm_clip(max_norm: float) -> optax.GradientTransformation:
    """``optax.clip_by_global_norm(max_norm)``, or the identity when ``max_norm`` is 0.

    Off, the updates pass through untouched (no operation is added), so a run without
    clipping computes exactly what ``optax.chain``-less code computed.
    """
    clip = optax.clip_by_global_norm(max_norm) if max_norm else None

    def init(params):
        del params
        return ClipSlot()

    def update(updates, state, params=None):
        if clip is None:
            return updates, state
        return clip.update(updates, optax.EmptyState(), params)[0], state

    return optax.GradientTransformation(init, update)


def _is_slot(x: Any) -> bool:
    """A chain's state ``(ClipSlot(), inner)``: a plain tuple led by the slot."""
    return (type(x) is tuple and len(x) == 2  # noqa: E721 (a namedtuple is not a chain)
            and isinstance(x[0], ClipSlot))


def without_slots(tree: Any) -> Any:
    """``tree`` with every ``(ClipSlot(), inner)`` replaced by ``inner`` (the old layout)."""
    return jax.tree.map(lambda x: without_slots(x[1]) if _is_slot(x) else x, tree,
                        is_leaf=_is_slot)


def has_slots(tree: Any) -> bool:
    return any(_is_slot(x) for x in jax.tree.leaves(tree, is_leaf=_is_slot))


def with_slots(target: Any, old: Any) -> Any:
    """``old`` (laid out as ``without_slots(target)``) in ``target``'s tree, slots put back."""
    return jax.tree.map(lambda t, o: (t[0], with_slots(t[1], o)) if _is_slot(t) else o,
                        target, old, is_leaf=_is_slot)
