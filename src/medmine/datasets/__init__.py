"""medmine.datasets."""
