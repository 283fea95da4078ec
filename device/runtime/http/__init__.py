"""The LAN HTTP server: `app` (the factory), `state` (what the routes share), `worker` (the engine's queue),
`routes` (ours), `openai` (chat completions), `api` (request models, errors, metrics), `serve` (uvicorn)."""
