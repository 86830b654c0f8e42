"""The embedded local stack (README: "Calling the local stack"): moto server with resources created from
template.yaml, the API with a real Cognito authorizer emulation, the stream poller, the alert schedule and
demo data."""
