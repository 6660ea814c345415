"""A pull request's preview API, behind oauth2-proxy, guarded by OPA.

    GUARD_HOST=pr-42.preview.example.com \\
    GUARD_OPA_URL=http://127.0.0.1:8181 GUARD_OPA_TOKEN=... \\
        python3 -m uvicorn app:app --host 127.0.0.1 --port 8000

The routes know nothing about access: the guard (preview_guard.py) wraps the
whole app and asks OPA about every request, unknown paths, the API docs and
WebSocket handshakes included, before any of it runs. With preview-access's
built-in roles a reader may list orders and only an admin (the pull request's
author) may change them.
"""

import logging

from fastapi import FastAPI, HTTPException, WebSocket
from pydantic import BaseModel, Field

from preview_guard import OPAGuard, Settings

# One JSON line per refused request, on stderr, apart from uvicorn's logs.
guard_log = logging.getLogger("preview_guard")
guard_log.addHandler(logging.StreamHandler())
guard_log.propagate = False

api = FastAPI(title="Orders (preview)")
# What uvicorn serves is the guard; the API is behind it.
app = OPAGuard(api, Settings.from_env())
api.router.on_shutdown.append(app.aclose)


class NewOrder(BaseModel):
    item: str = Field(min_length=1, max_length=100)
    quantity: int = Field(1, ge=1, le=1000)


orders: dict[int, dict] = {1: {"id": 1, "item": "coffee", "quantity": 2}}


@api.get("/api/orders")
async def list_orders() -> list[dict]:
    return sorted(orders.values(), key=lambda o: o["id"])


@api.websocket("/api/orders/feed")
async def order_feed(ws: WebSocket) -> None:
    """The orders as they are, over a WebSocket: the guard decided the
    handshake as a GET, so whoever may list orders may open it."""
    await ws.accept()
    await ws.send_json(await list_orders())
    await ws.close()


@api.post("/api/orders", status_code=201)
async def create_order(order: NewOrder) -> dict:
    order_id = max(orders, default=0) + 1
    orders[order_id] = {"id": order_id, "item": order.item, "quantity": order.quantity}
    return orders[order_id]


@api.delete("/api/orders/{order_id}", status_code=204)
async def delete_order(order_id: int) -> None:
    if orders.pop(order_id, None) is None:
        raise HTTPException(status_code=404, detail=f"no order {order_id}")
