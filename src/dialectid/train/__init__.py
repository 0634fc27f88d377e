"""Training: typed configs, the trainer, augmentation and calibration."""
