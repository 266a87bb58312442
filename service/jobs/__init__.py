"""Jobs on a worker: claim with a lease, heartbeat, run the solver, record, resume (DESIGN §1)."""
