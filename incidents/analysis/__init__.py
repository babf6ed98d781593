"""What the background jobs compute from reviews. Reads reviews and the taxonomy, writes
derived tables; the models never import from here."""
