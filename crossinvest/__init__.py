"""crossinvest."""
