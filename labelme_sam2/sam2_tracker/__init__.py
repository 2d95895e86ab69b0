"""The SAM 2 tracker: the only part of labelme_sam2 that imports torch and sam2."""
