"""medmine.models."""
