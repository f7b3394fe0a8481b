"""The self-service voice menu: flows as YAML data, a runner over call primitives, actions."""
