"""The app layer: the engine that wires the features, the CLI, migrations over every model."""
