"""`make bench`: speed and memory targets, measured side by side and reported as medians and ratios."""
