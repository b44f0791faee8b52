"""The baseline: a bare FastAPI app with no storage, served like the collector."""

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, RedirectResponse

app = FastAPI()


@app.post("/noop")
async def noop(request: Request) -> JSONResponse:
    """Read the body and answer 202, as the collector does minus validation and storage."""
    await request.body()
    return JSONResponse({"status": "accepted"}, status_code=202)


@app.get("/redirect")
async def redirect() -> RedirectResponse:
    """A 302 with no click recorded."""
    return RedirectResponse("https://example.com/land?ct_tracking_id=x", status_code=302)
