"""Internal utilities shared by skltransfer's estimators."""
