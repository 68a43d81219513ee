"""Relaxation-based straight-through estimators: Gumbel-Rao and ReinMax.

(Being written: see issue 19.)
"""

from __future__ import annotations

REGISTERED: tuple = ()
