"""The research wing: the simulator, data sources, models, training, evaluation and their commands (needs the ``train`` extra)."""
