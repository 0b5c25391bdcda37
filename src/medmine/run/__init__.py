"""medmine.run."""
