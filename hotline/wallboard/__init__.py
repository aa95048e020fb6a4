"""The supervisor's wallboard: figures from the engine's status, and the staffing chart."""
