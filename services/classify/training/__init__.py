"""Training and evaluation of the classifier and its first stage (used by `intentflow train` and `eval`)."""
