"""Run the real tritonserver: locate it, prepare its backends and environment, start and stop it."""
