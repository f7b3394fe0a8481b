"""Quality assurance: speech analytics of recorded calls, scorecards and evaluations."""
