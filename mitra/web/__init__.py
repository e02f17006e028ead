"""The web process: webhook, health, (later) the console, the REST API and the simulator."""
