"""Quality assurance 质检: scorecards, scoring rules, evaluations of calls and agents."""
