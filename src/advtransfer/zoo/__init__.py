"""Scenario ``zoo`` (rules/zoo.smk): a varied model zoo ranked on several target tasks.

Modules: ``data`` (source data sets, target tasks and the source table), ``experiment``
(one source against every target: attacks, adversarial measures, probes), ``tables`` (the
joined table, the leaderboard per target and over targets, what each measure needs and
costs) and ``plots`` (the zoo's figures). The agreement over targets and the robustness
analyses live in :mod:`advtransfer.core.robustness`.
"""
