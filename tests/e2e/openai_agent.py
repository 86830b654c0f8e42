"""An agent that calls OpenAI through the official `openai` client, instrumented by the OpenTelemetry
project's `opentelemetry-instrumentation-openai-v2`, run as its own process by tests/e2e/test_otlp.py.
The "OpenAI" it calls is a stand-in HTTP server on loopback (no network): it answers each chat completion
with the usage given by STANDIN_PROMPT_TOKENS and STANDIN_COMPLETION_TOKENS; AGENT_NOW is the instant
this process lives at (the local stack's clock). The spans go to the stack
through the OTLP/HTTP exporter, configured only by the standard OTEL_EXPORTER_OTLP_* variables and
OTEL_SERVICE_NAME (the agent: the instrumentation does not name one). CALLS chat completions are made; one
JSON line says how many and what the exporter reported."""

from __future__ import annotations

import json
import os
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.instrumentation.openai_v2 import OpenAIInstrumentor
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor

from tests.e2e.otel_agent import Outcome


class StandIn(BaseHTTPRequestHandler):
    """POST /v1/chat/completions, answered as OpenAI does, with the configured usage."""

    def do_POST(self) -> None:
        request = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        prompt, completion = (
            int(os.environ["STANDIN_PROMPT_TOKENS"]),
            int(os.environ["STANDIN_COMPLETION_TOKENS"]),
        )
        answer: dict[str, Any] = {
            "id": f"chatcmpl-{id(request)}",
            "object": "chat.completion",
            "created": 1_700_000_000,
            "model": request["model"],
            "choices": [
                {"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": "done"}}
            ],
            "usage": {
                "prompt_tokens": prompt,
                "completion_tokens": completion,
                "total_tokens": prompt + completion,
            },
        }
        data = json.dumps(answer).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        pass


def main() -> int:
    import openai
    import time_machine

    # The spans carry the SDK's own times: this process lives at the stack's instant (tests/clock.py).
    time_machine.travel(os.environ["AGENT_NOW"], tick=True).start()

    server = ThreadingHTTPServer(("127.0.0.1", 0), StandIn)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    outcome = Outcome(OTLPSpanExporter())
    provider = TracerProvider(resource=Resource.create({}))
    provider.add_span_processor(SimpleSpanProcessor(outcome))
    OpenAIInstrumentor().instrument(tracer_provider=provider)
    client = openai.OpenAI(base_url=f"http://127.0.0.1:{server.server_port}/v1", api_key="sk-stand-in")
    calls = int(os.environ.get("CALLS", "2"))
    for number in range(calls):
        client.chat.completions.create(
            model="gpt-5.4-mini", messages=[{"role": "user", "content": f"summarize report {number}"}]
        )
    provider.shutdown()
    server.shutdown()
    print(json.dumps({"calls": calls, "exports": outcome.results}))
    return 0 if outcome.results and set(outcome.results) == {"SUCCESS"} else 1


if __name__ == "__main__":
    sys.exit(main())
