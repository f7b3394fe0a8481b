"""Contact-center statistics counted from the ACD's call records (definitions:
docs/statistics.md), and the Erlang C staffing helper."""
