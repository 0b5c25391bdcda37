"""Helpers of :mod:`medmine.tasks.spatial_parse`, one job per module; the entry point is there."""
