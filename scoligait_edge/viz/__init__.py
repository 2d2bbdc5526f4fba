"""Figures: knowledge-map heatmaps and overlays."""
