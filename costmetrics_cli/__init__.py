"""`costmetrics`: the command-line client of the Cost & Metrics API (docs/cli.md).

Signs in with Cognito, prints the cost and workforce reports as tables, JSON or CSV, ingests NDJSON
files of activity events and exports the activity log, against the local stack or a deployed one."""
