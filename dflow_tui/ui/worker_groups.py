"""The groups the app's Textual workers run in, and how long it waits for them."""

STARTUP, INVENTORY, REFRESH, JOBS, SHUTDOWN = "startup", "inventory", "refresh", "jobs", "shutdown"
PROVIDERS, DESTINATION = "providers", "destination"
SCHEDULE, CANCEL, HEALTH = "schedule", "cancel", "health"
SHORT_WORK_TIMEOUT = 5.0  # loads and saves still running at exit
