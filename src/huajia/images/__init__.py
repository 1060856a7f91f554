"""Image files: encoding with embedded generation parameters and an AI-generated label."""
