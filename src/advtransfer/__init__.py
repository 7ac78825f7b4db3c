"""advtransfer: does adversarial transferability indicate knowledge transferability?

The package holds the math (pure functions on tensors); the Snakemake workflow in the
repository root wires it into experiments.
"""

__version__ = "0.1.0"
