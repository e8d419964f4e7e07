"""Hot-reloaded routing rules: the active ruleset holder, the agent that follows
``ioc.config.rules`` on every worker, and the publisher behind ``ioc rules apply``."""
