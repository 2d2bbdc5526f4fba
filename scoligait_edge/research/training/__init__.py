"""Training: configs, the loop, the ScoNet baseline."""
