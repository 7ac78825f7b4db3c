"""Scenario ``leaderboard`` (rules/leaderboard.smk): estimators against adversarial measures.

Modules: ``figure`` (leaderboard figure). The scores and rank agreement come from
:mod:`advtransfer.core.scoring`; the pools are other scenarios' result tables.
"""
