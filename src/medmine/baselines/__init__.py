"""medmine.baselines."""
