"""Capacity planning: realisation, norm and forecast, as pure functions over the database's facts."""
