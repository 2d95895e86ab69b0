"""Label Studio ML backend: Label Studio's regions in, SAM 2 masks for every frame out.

Only the Label Studio formats live here; prompts, tracking and mask writers are
labelme_sam2's core, shared with the LabelMe adapter.
"""
