"""Tools around the service that are not its emulation (local_stack): the OpenAPI document and the event
files generated from the code, the demo data and sample events, the console's browser and screenshots,
and the check of every function under `sam local`."""
