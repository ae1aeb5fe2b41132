"""Adapters with an embedded and a cluster implementation behind one small interface each."""
