"""Fitting and evaluation of the match scorer (used by `make match-scorer` and `intentflow eval match`)."""
