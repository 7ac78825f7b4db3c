"""Scenario ``synthetic`` (rules/synthetic.smk): the RBF regression experiment, paper Figure 2.

Modules: ``experiment`` (data, sigmoid MLPs, the sweep over t), ``plots`` (Figure 2).
"""
