"""The web front end: static HTML/JS/CSS on OpenSeadragon, served by services."""
