"""Libraries for camera-driver plugins: no hooks, no plugin names."""
