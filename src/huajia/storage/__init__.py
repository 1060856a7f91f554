"""Image bytes by key: a local folder or an S3-compatible bucket behind one interface."""
