"""medmine.tasks."""
