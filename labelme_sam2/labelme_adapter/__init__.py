"""The LabelMe door: prompts from a folder's LabelMe files, masks written back into them."""
