"""Scenario ``byo`` (rules/byo.smk): bring your own candidate source models.

Modules: ``candidates`` (load and run each candidate once, with the estimated cost of its
Jacobians), ``stages`` (the workflow's stages on in-memory data, called by
scripts/byo/*.py) and ``ranking`` (:func:`rank_candidates`: the whole ranking as one
Python call). The model formats live in :mod:`advtransfer.images.sources`; the stages
reuse :mod:`advtransfer.images` and :mod:`advtransfer.core.scoring`.
"""

from advtransfer.byo.ranking import rank_candidates

__all__ = ["rank_candidates"]
