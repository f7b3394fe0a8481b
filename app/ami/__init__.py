"""AMI link (panoramisk): connectivity, actions and events for queues and supervision."""
