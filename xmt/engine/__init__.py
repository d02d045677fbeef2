"""Device, seeding, progress, logging, checkpoint I/O and the shared training loop."""
