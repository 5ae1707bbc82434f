"""Reports: a store's figures over a range of days (waits, outcomes, ratings, estimates)."""
