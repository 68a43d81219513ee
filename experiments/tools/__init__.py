"""Tools: command-line programs that run configs and tabulate what they measured."""
