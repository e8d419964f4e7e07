"""Embedded servers for a laptop or CI: the Tansu Kafka-protocol broker and a Valkey/Redis server.

Each runs as a child process on a free 127.0.0.1 port and dies with its parent.
"""
