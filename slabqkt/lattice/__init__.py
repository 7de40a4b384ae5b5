"""Lattice (tight-binding) band structures: models, orientation, Fermi surfaces."""
