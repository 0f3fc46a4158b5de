"""Input and output: catalogues, caches, the data folder and atomic output writing."""
