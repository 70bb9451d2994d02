"""The drop-folder translation app's own package (deployed with function_app.py)."""
