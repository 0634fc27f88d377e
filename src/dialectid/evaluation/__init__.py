"""Evaluation: LRE-grade metrics, breakdowns, plots and the evaluation report."""
