"""sarcube: SAR analysis on lazily chunked xarray datacubes."""
