"""One Functions blueprint per trigger: thin adapters from bindings onto shared/pipeline/."""
