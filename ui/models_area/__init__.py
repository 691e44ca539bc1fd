"""The Models area: train, compare, apply and explain property models."""
