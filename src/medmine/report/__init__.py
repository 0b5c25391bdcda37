"""medmine.report."""
