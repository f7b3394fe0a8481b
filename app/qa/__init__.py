"""Quality assurance 质检: speech analytics of recorded calls, scorecards, and evaluations
of calls and agents."""
