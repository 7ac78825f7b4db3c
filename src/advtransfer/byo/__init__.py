"""Scenario ``byo`` (rules/byo.smk): bring your own candidate source models.

Modules: ``candidates`` (torchvision, TorchScript and safetensors candidates, checks,
features and logits). The stages reuse :mod:`advtransfer.images` and
:mod:`advtransfer.core.scoring`.
"""
