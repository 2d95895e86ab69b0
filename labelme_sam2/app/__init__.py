"""The LabelMe app with a SAM 2 menu: `labelme-sam2 gui [FOLDER]` (docs/labelme-app.md).

Needs Python >= 3.12, labelme 7.9.1 and PySide6 (`pip install "labelme-sam2[gui]"`), but no
torch: tracking runs in a child process, `labelme-sam2 track --progress json`, of this
environment or of another one (SAM 2 > Settings), or on a team server.

labelme is GPL-3.0; this package is Apache-2.0 and imports it. Whoever distributes the two
together (an installer, a container image) distributes a work under the GPL-3.0: see the
licence section of docs/labelme-app.md.
"""
