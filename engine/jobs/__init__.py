"""Jobs: `lifecycle` (statuses, transitions, leases, history), `rows` (results on job rows and
the counters), `queries` (reading jobs and rows). Import names from the submodule that owns them."""
