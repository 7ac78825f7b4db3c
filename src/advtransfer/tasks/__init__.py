"""Scenario ``tasks`` (rules/tasks.smk): knowledge transfer among tasks (Figures 4-5).

Modules: ``digits`` (embedded multi-task benchmark), ``models`` (task models, task losses,
PGD on task outputs), ``tables`` (per-image losses -> ATM, affinity), ``graph`` (tournament
matrices, ATM, trees, category entropy), ``plots`` (Figures 4-5), ``taskonomy`` (task lists,
affinity readers), ``taskbank`` (Taskonomy task-bank networks).
"""
