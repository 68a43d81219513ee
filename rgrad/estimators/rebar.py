"""REBAR and RELAX: unbiased estimators with relaxation-based, learned control variates.

(Being written: see issue 19.)
"""

from __future__ import annotations

REGISTERED: tuple = ()
