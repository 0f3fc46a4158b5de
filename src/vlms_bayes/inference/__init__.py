"""Inference: samplers, memberships, model comparison and frequentist baselines."""
