"""The regional worklist: departments, pathologists, cases, assignment and capacity.

A library: it knows no web and no pixels.
"""
