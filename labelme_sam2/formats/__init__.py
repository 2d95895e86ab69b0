"""The format layer: LabelMe JSON, mask codecs, atomic writes. Imports no torch."""
