"""Benchmarks that print figures: `mitra bench ingest` and `mitra bench e2e`.

- `loadgen`: a minimal HTTP/1.1 keep-alive client on raw asyncio sockets (closed and open
  loop), signed webhook requests, and the harness both benches share (spawning and stopping
  the processes under test, readiness, CPU accounting from /proc).
- `ingest`: signed webhooks acknowledged per second and their latency, side by side with a
  bare endpoint that only reads the body.
- `e2e`: citizens' messages answered end to end (webhook in → reply at the fake Graph API).
- `cli`: the typer commands (`register(bench_app)` adds them to `mitra bench`).

Everything here talks to 127.0.0.1 only and is bounded in count and time.
"""
