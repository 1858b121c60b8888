"""Evaluation harness: episodes under a policy, the policies compared, metrics with confidence
intervals over seeds, a latent health probe, and plots (``aither-wm bench autoheal``)."""
