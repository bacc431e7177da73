"""The model catalogue: rule types (specs), the models as data (builtin), lookup, validation."""
