"""Payments: a gateway port with two adapters (the sandbox gateway and Razorpay), payments
that belong to a bill, a booking or a donation, idempotent capture from signed callbacks,
reconciliation, refunds, and fulfilment (receipt, e-ticket) once money is in
(docs/decisions/0007-payments.md)."""
