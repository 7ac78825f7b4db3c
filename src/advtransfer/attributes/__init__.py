"""Scenario ``attributes`` (rules/attributes.smk): attributes -> face recognition (Table 1).

Modules: ``experiment`` (data sets, attribute sources, tables), ``celeba`` (CelebA reader),
``verification`` (face verification, insightface ``.bin`` reader), ``plots`` (Table 1 figure).
"""
