"""The paper's math: tensors and arrays in, numbers out; no file I/O, no scenario imports.

Modules: ``tau`` (input Jacobians, tau1, tau2, alpha; Defs. 1-3), ``theory`` (Theorems 1-3,
Proposition 2), ``attacks`` (PGD and cross adversarial losses; Def. 6), ``probes`` (linear
and k-shot probes on frozen features), ``estimators`` (transferability estimators),
``stats`` (correlations with intervals), ``ranking`` (rank agreement of scores with ground
truth), ``scoring`` (estimator scores, costs and leaderboards of a source pool), ``names``
(measure names), ``checks`` and ``modelutils`` (argument checks, model mode and device).
"""
