"""Where images come from: folders and list files as image sets, RGB/target pairs found in them or by the
data-set adapters, class splits into task-irrelevant (TI) and task-relevant (TR) data, and TR list files.

The image set (image_set.py) is what every reader returns; readers.py opens any input path as one,
packs included (packs/reader.py).
"""
