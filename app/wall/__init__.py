"""The supervisor wallboard: live figures per queue and center, agents grid, listening in."""
