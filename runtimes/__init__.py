"""Inference backends behind one Backend protocol (installed as scoligait_edge.runtimes)."""
