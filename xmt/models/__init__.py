"""Networks: classifiers, translators and discriminators."""
