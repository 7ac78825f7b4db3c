"""Public entry point of the metric core: ``from advtransfer.metrics import ...``.

A thin re-export of :mod:`advtransfer.core.tau` (input Jacobians, tau1, tau2, alpha).
"""

from advtransfer.core.tau import *  # noqa: F401,F403
from advtransfer.core.tau import __all__  # noqa: F401
