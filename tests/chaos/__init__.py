"""The chaos test's pieces: the bot in a subprocess, a seeded plan, the driver, the checks."""
