"""Jobs on a worker: claim with a lease, heartbeat, run the solver, record, resume
(docs/architecture.md §3)."""
