"""Node backends. Every backend implements `harness.nodes.base.Node`; suites never see which one runs."""
