"""Evaluation: held-out events (`events`), scoring (`metrics`), the models that answer (`models`), the
release gate and reports (`report`), and the runs that tie them together (`run`)."""
