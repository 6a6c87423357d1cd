"""Capacity planning: realisation, norm and forecast, pure functions over the facts."""
