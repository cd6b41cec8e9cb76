"""The form's fixed choices that the runner and the image code also name; light to import
(the generator module is read at start-up, before any image library)."""

RESIZE_MODES = ("just_resize", "crop_resize", "resize_fill")  # A1111's resize modes
RESIZE_LABELS = ("Just resize", "Crop and resize", "Resize and fill")
