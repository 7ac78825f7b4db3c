"""Public entry point of the theory: ``from advtransfer import theory``.

A thin re-export of :mod:`advtransfer.core.theory` (Theorems 1-3, Proposition 2).
"""

from advtransfer.core.theory import *  # noqa: F401,F403
from advtransfer.core.theory import __all__  # noqa: F401
