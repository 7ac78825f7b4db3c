"""Scenario ``nlp`` (rules/nlp.smk): knowledge transfer among text data distributions.

Modules: ``data`` (loaders, normalised file format), ``corpora`` (offline stand-in corpora),
``models`` (BERT-family classifiers, offline weights with hash checks), ``attack``
(TextFooler-style word substitution), ``measures`` (per-source measures).
"""
