"""Machine-learning models for molecules: tokenisers, transformers, baselines.

Kept free of imports so that importing ``core.models`` never loads torch.
"""
