"""The outbound side: the transactional outbox and the sender that drains it within limits."""
