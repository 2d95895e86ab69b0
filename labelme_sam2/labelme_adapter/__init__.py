"""The LabelMe adapter: prompts from LabelMe files, masks written back into them (the CLI and
the LabelMe app are the doors that use it)."""
