"""medmine.metrics."""
