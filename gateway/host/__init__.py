"""What runs on the gateway host: home, config, serve, backup and the operator commands."""
