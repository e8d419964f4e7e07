"""The intake pipeline on Faust: ingest -> locate -> route -> publish (agents.py), with the
worker's services in context.py and the outcome -> topics translation in publish.py."""
