"""Scenario ``tasks`` (rules/tasks.smk): knowledge transfer among tasks (Figures 4-5).

Modules: ``digits`` (embedded multi-task benchmark), ``models`` (task models, task losses,
PGD on task outputs), ``tables`` (per-image losses -> ATM, affinity), ``graph`` (tournament
matrices, ATM, trees, category entropy), ``taumatrix`` (task matrix by tau1 / tau2), ``plots`` (Figures 4-5), ``taskonomy`` (task lists,
affinity readers), ``taskbank`` (Taskonomy task-bank networks).
"""
