"""The inbound side: webhook deliveries made durable, split into events, processed per citizen."""
