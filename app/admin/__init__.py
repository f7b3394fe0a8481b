"""Administration: database and user commands, the demo data set (above data and services)."""
