"""Whole-slide images to Deep Zoom pyramids, in parallel with dask.

A library: it knows no web and no database.
"""
