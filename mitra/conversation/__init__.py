"""The conversation engine: (session, event, clock) → (new session, replies). No I/O."""
