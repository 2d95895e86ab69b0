"""The `labelme-sam2` command line."""
