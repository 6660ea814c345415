"""A pull request's preview API, behind oauth2-proxy, guarded by OPA.

    GUARD_OPA_URL=http://127.0.0.1:8181 GUARD_OPA_TOKEN=... \\
        python3 -m uvicorn app:app --host 127.0.0.1 --port 8000

The routes know nothing about access: the guard (preview_guard.py) asks OPA
about every request, unknown paths and the API docs included, before any of
them runs. With preview-access's built-in roles a reader may list orders and
only an admin (the pull request's author) may change them.
"""

import logging

from fastapi import FastAPI, HTTPException
from pydantic import BaseModel, Field

from preview_guard import OPAGuard, Settings

# One JSON line per refused request, on stderr, apart from uvicorn's logs.
guard_log = logging.getLogger("preview_guard")
guard_log.addHandler(logging.StreamHandler())
guard_log.propagate = False

guard = OPAGuard(Settings.from_env())
app = FastAPI(title="Orders (preview)", on_shutdown=[guard.aclose])
app.middleware("http")(guard)


class NewOrder(BaseModel):
    item: str = Field(min_length=1, max_length=100)
    quantity: int = Field(1, ge=1, le=1000)


orders: dict[int, dict] = {1: {"id": 1, "item": "coffee", "quantity": 2}}


@app.get("/api/orders")
async def list_orders() -> list[dict]:
    return sorted(orders.values(), key=lambda o: o["id"])


@app.post("/api/orders", status_code=201)
async def create_order(order: NewOrder) -> dict:
    order_id = max(orders, default=0) + 1
    orders[order_id] = {"id": order_id, "item": order.item, "quantity": order.quantity}
    return orders[order_id]


@app.delete("/api/orders/{order_id}", status_code=204)
async def delete_order(order_id: int) -> None:
    if orders.pop(order_id, None) is None:
        raise HTTPException(status_code=404, detail=f"no order {order_id}")
