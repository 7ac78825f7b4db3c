"""Machinery shared by the image scenarios (distributions, attributes, byo, leaderboard).

Modules: ``architectures`` (classifiers with frozen-feature access, safetensors I/O),
``arcface`` (ArcFace head, focal loss), ``training`` (seeded classifier training),
``datasets`` (digits, CIFAR-10 and STL-10 readers, domain shift), ``imagesets`` (cached image
sets of a run), ``imagefolder`` (one sub-folder per class), ``measures`` (per-source
adversarial and knowledge measures). Imports only :mod:`advtransfer.core` and the top-level
helpers.
"""
