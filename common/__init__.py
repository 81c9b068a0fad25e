"""The bottom floor: errors, the CLI policy, atomic file installs, paths, the environment.

Every other package builds on it; it imports none of them.
"""
