"""Runs both routes on equal budgets, verifies, stores, analyses, reports; the tractbench CLI (issue 5)."""
