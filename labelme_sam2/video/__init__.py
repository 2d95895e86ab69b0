"""Video files: frames on demand (reader) and `labelme-sam2 extract` into frame folders."""
