"""Analyses: compiled network in, results out."""
