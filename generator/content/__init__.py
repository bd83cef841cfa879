"""The content: YAML in the content folder, read safely, validated into a typed model, checked by rules."""
