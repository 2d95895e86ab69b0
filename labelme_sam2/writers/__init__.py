"""Writers that turn the stream of per-frame masks into files: mask images, videos."""
