"""Style presets (prompt templates, negative prompts, defaults) and CMS size presets."""
