"""Running a task against a system: the plan, the run directory, the runner and its progress display."""
