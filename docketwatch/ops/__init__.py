"""Running the pipeline: `plan` (which poll jobs, asked of each source), `service` (`run`, with
APScheduler), `lock` (one scheduler per database), `health`, `status` and `retention`."""
