"""Cases: applications and certificates a citizen makes in the chat, and what officers,
department systems and the SLA clock do to them (docs/decisions/0006-cases.md)."""
