"""Scenario ``distributions`` (rules/distributions.smk): knowledge transfer among data distributions.

Modules: ``sources`` (the source and target data sets). Training, attacks and measures are
the shared image stages (:mod:`advtransfer.images`, rules/transfer.smk).
"""
