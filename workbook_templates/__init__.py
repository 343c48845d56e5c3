"""Built-in form specs (one TOML file per form profile), shipped as package data."""
