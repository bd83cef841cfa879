"""The static site: the MkDocs plugin, the data it renders once, the pages and machine-readable files, the build."""
