"""The gate: signed links and their keys, the NDA, watermarked downloads, the audit store, the Flask app."""
