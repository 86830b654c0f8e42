"""The embedded local stack (DESIGN.md §5): moto server with resources created from template.yaml,
the API with a real Cognito authorizer emulation, the stream poller, the alert schedule and demo data."""
