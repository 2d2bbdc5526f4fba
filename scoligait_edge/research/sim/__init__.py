"""The gait simulator: SIMULATED bodies, cameras and cohorts, a test of the machinery (docs/SIMULATION.md)."""
