"""The groups the app's Textual workers run in, and how long it waits for them."""

STARTUP, INVENTORY, REFRESH, JOBS, SHUTDOWN = "startup", "inventory", "refresh", "jobs", "shutdown"
PROVIDERS, DESTINATION = "providers", "destination"
SCHEDULE, CANCEL = "schedule", "cancel"
STOP_JOBS_TIMEOUT = 15.0  # running jobs, once cancelled, get this long to record how they ended
SHORT_WORK_TIMEOUT = 5.0  # loads and saves still running at exit
